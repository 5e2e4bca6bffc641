package main

// The deployment examples are checked against the binary itself: every
// MAILSINK_* name must be a flag's twin and every environment a config
// parseConfig accepts, ports must be the listeners' defaults, probes the
// real endpoints and healthchecks real subcommands. A renamed flag or a
// typo in an example fails here, not in someone's cluster.

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// envNameRE finds MAILSINK_* names anywhere, comments included.
var envNameRE = regexp.MustCompile(`MAILSINK_[A-Z0-9_]*[A-Z0-9]`)

// serverEnvNames is the MAILSINK_* twin of every server flag, from the
// real flag set.
func serverEnvNames() map[string]bool {
	names := map[string]bool{}
	newFlagSet(&config{}, "localhost").VisitAll(func(f *flag.Flag) { names[envName(f.Name)] = true })
	return names
}

// defaultPort is the port of a listen-address flag's default.
func defaultPort(tb testing.TB, flagName string) int {
	tb.Helper()
	f := newFlagSet(&config{}, "localhost").Lookup(flagName)
	if f == nil {
		tb.Fatalf("no flag --%s", flagName)
	}
	_, p, err := net.SplitHostPort(f.DefValue)
	if err != nil {
		tb.Fatalf("--%s default %q: %v", flagName, f.DefValue, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// checkEnvNames fails for every MAILSINK_* name in raw that no flag has.
func checkEnvNames(tb testing.TB, file string, raw []byte) {
	tb.Helper()
	known := serverEnvNames()
	found := envNameRE.FindAllString(string(raw), -1)
	if len(found) == 0 {
		tb.Errorf("%s: no MAILSINK_* variable at all", file)
	}
	for _, name := range found {
		if !known[name] {
			tb.Errorf("%s: %s is no flag's environment variable (mailsink --help lists them)", file, name)
		}
	}
}

// checkConfig fails unless the server accepts env as its environment, and
// returns the config it makes of it.
func checkConfig(tb testing.TB, what string, env map[string]string) *config {
	tb.Helper()
	var usage bytes.Buffer
	cfg, err := parseConfig(nil, func(k string) string { return env[k] }, &usage)
	if err != nil {
		tb.Fatalf("%s: the server rejects this environment: %v\n%s", what, err, usage.String())
	}
	return cfg
}

// checkSubcommand fails unless args (a healthcheck command after the
// binary's path) is a real subcommand whose flags parse.
func checkSubcommand(tb testing.TB, what string, args []string) {
	tb.Helper()
	if len(args) == 0 {
		tb.Errorf("%s: no subcommand", what)
		return
	}
	// --help after the given flags: they are parsed, nothing is probed.
	var stderr bytes.Buffer
	code := dispatch(context.Background(), append(slices.Clone(args), "--help"), func(string) string { return "" }, nil, io.Discard, &stderr)
	if code != 0 || !strings.HasPrefix(stderr.String(), "Usage: mailsink "+args[0]) {
		tb.Errorf("%s: %v is not a mailsink subcommand with those flags: exit %d\n%s", what, args, code, stderr.String())
	}
}

// uncommentEnv turns a commented-out example variable back on: a comment
// line "# MAILSINK_X: value", and the more deeply indented comment lines
// under it (a block scalar), lose their "# ".
func uncommentEnv(raw []byte) []byte {
	start := regexp.MustCompile(`^(\s*)# (MAILSINK_[A-Z0-9_]+:.*)$`)
	var out []string
	cont := "" // while in a block: the prefix of its commented lines
	for _, line := range strings.Split(string(raw), "\n") {
		if cont != "" && strings.HasPrefix(line, cont) {
			out = append(out, strings.TrimSuffix(cont, "#   ")+"  "+strings.TrimPrefix(line, cont))
			continue
		}
		cont = ""
		if m := start.FindStringSubmatch(line); m != nil {
			out = append(out, m[1]+m[2])
			cont = m[1] + "#   "
			continue
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n"))
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Build       any               `yaml:"build"`
	Image       string            `yaml:"image"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Environment map[string]string `yaml:"environment"`
	Healthcheck struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Command []string `yaml:"command"`
	Restart string   `yaml:"restart"`
}

// parseCompose decodes a compose file strictly: an unknown (misspelled)
// key is an error.
func parseCompose(tb testing.TB, raw []byte) composeFile {
	tb.Helper()
	var c composeFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		tb.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

func TestExamplesCompose(t *testing.T) {
	t.Parallel()
	file := filepath.Join("examples", "docker-compose.yml")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	checkEnvNames(t, file, raw)
	c := parseCompose(t, raw)
	ms, ok := c.Services["mailsink"]
	if !ok {
		t.Fatalf("%s: no mailsink service", file)
	}
	smtpPort, httpPort := defaultPort(t, "smtp-addr"), defaultPort(t, "http-addr")

	// Ports: the container side must be where the server listens.
	published := map[int]bool{}
	for _, p := range ms.Ports {
		cport, _, _ := strings.Cut(p[strings.LastIndex(p, ":")+1:], "/")
		n, err := strconv.Atoi(cport)
		if err != nil {
			t.Errorf("mailsink port %q: container port %q is not a number", p, cport)
		}
		published[n] = true
	}
	for _, want := range []int{smtpPort, httpPort} {
		if !published[want] {
			t.Errorf("mailsink publishes container ports %v, want %d (the flag default) among them", ms.Ports, want)
		}
	}

	// The database is in a named volume mounted at /data.
	cfg := checkConfig(t, "mailsink environment", ms.Environment)
	if !slices.ContainsFunc(ms.Volumes, func(v string) bool {
		parts := strings.Split(v, ":")
		return len(parts) >= 2 && parts[1] == "/data" && c.Volumes != nil && hasKey(c.Volumes, parts[0])
	}) {
		t.Errorf("mailsink volumes %v: want a named volume at /data", ms.Volumes)
	}
	if path.Dir(cfg.DBPath) != "/data" {
		t.Errorf("database %q is not in the /data volume", cfg.DBPath)
	}

	// The healthcheck runs the binary's own probe (no shell in the image).
	hc := ms.Healthcheck.Test
	if len(hc) < 3 || hc[0] != "CMD" || hc[1] != "/mailsink" {
		t.Errorf("healthcheck test %q, want [CMD /mailsink <subcommand>...]", hc)
	} else {
		checkSubcommand(t, "compose healthcheck", hc[2:])
	}

	// The app sends to mailsink's SMTP port once mailsink is healthy.
	app, ok := c.Services["app"]
	if !ok {
		t.Fatalf("%s: no app service", file)
	}
	if d := app.DependsOn["mailsink"]; d.Condition != "service_healthy" {
		t.Errorf("app depends_on mailsink with condition %q, want service_healthy", d.Condition)
	}
	if got, want := net.JoinHostPort(app.Environment["SMTP_HOST"], app.Environment["SMTP_PORT"]), net.JoinHostPort("mailsink", strconv.Itoa(smtpPort)); got != want {
		t.Errorf("app sends to %s, want %s", got, want)
	}
	if cmd := strings.Join(app.Command, " "); !strings.Contains(cmd, "$$SMTP_HOST:$$SMTP_PORT") {
		t.Errorf("app command %q does not use SMTP_HOST and SMTP_PORT", cmd)
	}

	// The commented chaos example must work once uncommented.
	on := parseCompose(t, uncommentEnv(raw)).Services["mailsink"].Environment
	var chaosVars []string
	for k := range on {
		if strings.HasPrefix(k, "MAILSINK_CHAOS") {
			chaosVars = append(chaosVars, k)
		}
	}
	if len(chaosVars) == 0 {
		t.Fatalf("no commented MAILSINK_CHAOS_* example found")
	}
	if cfg := checkConfig(t, "mailsink environment with the chaos example uncommented", on); len(cfg.ChaosRules) == 0 {
		t.Errorf("chaos example %v gives no chaos rule", chaosVars)
	}
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

type k8sProbe struct {
	HTTPGet struct {
		Path string    `yaml:"path"`
		Port yaml.Node `yaml:"port"` // a number or a port name
	} `yaml:"httpGet"`
}

type k8sDeployment struct {
	Spec struct {
		Replicas int `yaml:"replicas"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
					RunAsUser    int  `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers []struct {
					Name  string `yaml:"name"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					Env []struct {
						Name  string `yaml:"name"`
						Value string `yaml:"value"`
					} `yaml:"env"`
					LivenessProbe   k8sProbe `yaml:"livenessProbe"`
					ReadinessProbe  k8sProbe `yaml:"readinessProbe"`
					SecurityContext struct {
						ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
					} `yaml:"securityContext"`
					VolumeMounts []struct {
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sService struct {
	Spec struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string    `yaml:"name"`
			Port       int       `yaml:"port"`
			TargetPort yaml.Node `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

func TestExamplesKubernetes(t *testing.T) {
	t.Parallel()
	file := filepath.Join("examples", "kubernetes.yaml")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	checkEnvNames(t, file, raw)

	var deps []k8sDeployment
	var svcs []k8sService
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var head struct {
			Kind string `yaml:"kind"`
		}
		if err := doc.Decode(&head); err != nil {
			t.Fatal(err)
		}
		switch head.Kind {
		case "Deployment":
			var d k8sDeployment
			err = doc.Decode(&d)
			deps = append(deps, d)
		case "Service":
			var s k8sService
			err = doc.Decode(&s)
			svcs = append(svcs, s)
		default:
			t.Errorf("%s: unexpected kind %q", file, head.Kind)
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", file, head.Kind, err)
		}
	}
	if len(deps) != 1 || len(svcs) != 1 {
		t.Fatalf("%s: %d Deployments and %d Services, want one each", file, len(deps), len(svcs))
	}
	d, svc := deps[0], svcs[0]
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	ctr := pod.Containers[0]
	if d.Spec.Replicas != 1 {
		t.Errorf("replicas %d: SQLite has one writer, want 1", d.Spec.Replicas)
	}

	// Container ports are the listeners' defaults; names resolve probes.
	want := map[string]int{"smtp": defaultPort(t, "smtp-addr"), "http": defaultPort(t, "http-addr")}
	byName := map[string]int{}
	for _, p := range ctr.Ports {
		byName[p.Name] = p.ContainerPort
	}
	for name, port := range want {
		if byName[name] != port {
			t.Errorf("container port %q = %d, want %d (the flag default)", name, byName[name], port)
		}
	}
	resolve := func(n yaml.Node) int {
		if p, err := strconv.Atoi(n.Value); err == nil {
			return p
		}
		return byName[n.Value]
	}
	for _, p := range []struct {
		name  string
		probe k8sProbe
		path  string
	}{{"livenessProbe", ctr.LivenessProbe, "/livez"}, {"readinessProbe", ctr.ReadinessProbe, "/readyz"}} {
		if p.probe.HTTPGet.Path != p.path || resolve(p.probe.HTTPGet.Port) != want["http"] {
			t.Errorf("%s: GET %s on port %q, want %s on %d", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.Value, p.path, want["http"])
		}
	}

	// The environment is one the server accepts; the database is on a volume.
	env := map[string]string{}
	for _, e := range ctr.Env {
		env[e.Name] = e.Value
	}
	cfg := checkConfig(t, "container env", env)
	mounts := map[string]bool{}
	for _, m := range ctr.VolumeMounts {
		mounts[m.MountPath] = true
	}
	if !mounts[path.Dir(cfg.DBPath)] {
		t.Errorf("database %q is not on a mounted volume (mounts %v)", cfg.DBPath, mounts)
	}
	if ctr.SecurityContext.ReadOnlyRootFilesystem && !mounts["/tmp"] {
		t.Error("read-only root filesystem without a volume at /tmp: SQLite cannot make temp files")
	}
	if sc := pod.SecurityContext; !sc.RunAsNonRoot || sc.RunAsUser != containerUID {
		t.Errorf("pod securityContext %+v, want runAsNonRoot and runAsUser %d (the image's user)", sc, containerUID)
	}

	// The Service selects the pod and exposes both ports.
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not match the pod's labels %v", k, v, d.Spec.Template.Metadata.Labels)
		}
	}
	exposed := map[int]int{} // target → service port
	for _, p := range svc.Spec.Ports {
		exposed[resolve(p.TargetPort)] = p.Port
	}
	for name, port := range want {
		if exposed[port] != port {
			t.Errorf("Service does not expose %s (container port %d) as port %d: %v", name, port, port, exposed)
		}
	}
}

// TestExamplesDockerfile checks the Dockerfile the same way: its MAILSINK_*
// names, EXPOSE and HEALTHCHECK against the binary.
func TestExamplesDockerfile(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	checkEnvNames(t, "Dockerfile", raw)
	m := regexp.MustCompile(`(?m)^EXPOSE (\d+) (\d+)$`).FindStringSubmatch(string(raw))
	if want := []string{strconv.Itoa(defaultPort(t, "smtp-addr")), strconv.Itoa(defaultPort(t, "http-addr"))}; m == nil || !slices.Equal(m[1:], want) {
		t.Errorf("Dockerfile EXPOSE %v, want %v", m, want)
	}
	hc := regexp.MustCompile(`(?m)^HEALTHCHECK .*CMD (\[.*\])$`).FindStringSubmatch(string(raw))
	var cmd []string
	if hc == nil || yaml.Unmarshal([]byte(hc[1]), &cmd) != nil || len(cmd) < 2 || cmd[0] != "/mailsink" {
		t.Fatalf("Dockerfile HEALTHCHECK %v, want CMD [\"/mailsink\", ...]", hc)
	}
	checkSubcommand(t, "Dockerfile HEALTHCHECK", cmd[1:])
}
