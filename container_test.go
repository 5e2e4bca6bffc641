package main

// The container image's contract, proven without a Docker engine: the
// binary is built by scripts/build.sh, the same script the Dockerfile runs,
// and the payload it lays out (the image's whole filesystem) is entered as
// an empty root with chroot as the image's non-root user.
//
// The empty root is stricter than a container: Docker also mounts /proc,
// /dev and /sys and writes /etc/hosts and /etc/resolv.conf, none of which
// exist here. What passes here passes there.

import (
	"crypto/x509"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// payloadLimit is the most the image may weigh: binary plus files.
	payloadLimit = 20_000_000
	// containerUID is the image's user (scripts/build.sh, Dockerfile USER).
	containerUID = 10001
	// containerVersion is stamped by the script, as the Dockerfile's VERSION.
	containerVersion = "container-test"
)

// buildPayload runs scripts/build.sh for linux/goarch into a fresh
// directory and returns it.
func buildPayload(tb testing.TB, goarch string) string {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "rootfs")
	cmd := exec.Command("sh", filepath.Join("scripts", "build.sh"), root)
	cmd.Env = append(os.Environ(),
		"GO="+filepath.Join(runtime.GOROOT(), "bin", "go"), // the toolchain running this test
		"GOOS=linux", "GOARCH="+goarch, "VERSION="+containerVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("scripts/build.sh (GOARCH=%s): %v\n%s", goarch, err, out)
	}
	return root
}

// checkStatic fails unless bin is an ELF executable for machine that needs
// no dynamic loader and no shared library: scratch has neither.
func checkStatic(tb testing.TB, bin string, machine elf.Machine) {
	tb.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		tb.Errorf("%s: %v %v, want %v ET_EXEC", bin, f.Machine, f.Type, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			tb.Errorf("%s has a %v program header: not statically linked", bin, p.Type)
		}
	}
	libs, err := f.ImportedLibraries() // the DT_NEEDED entries
	if err != nil {
		tb.Fatal(err)
	}
	if len(libs) > 0 {
		tb.Errorf("%s needs shared libraries %v", bin, libs)
	}
}

// payloadSize is the bytes of every regular file under root.
func payloadSize(tb testing.TB, root string) int64 {
	tb.Helper()
	var n int64
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		n += info.Size()
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// listFiles returns root's paths (relative), for spotting writes outside
// the volume.
func listFiles(tb testing.TB, root string) map[string]bool {
	tb.Helper()
	paths := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p) // p is under root: cannot fail
		paths[rel] = true
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return paths
}

// chrootOrSkip returns the chroot command, or skips the test when this
// machine cannot enter an empty root as another user (that needs root);
// with MAILSINK_REQUIRE_CONTAINER set it fails instead, as in CI.
func chrootOrSkip(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("chroot")
	switch {
	case runtime.GOOS != "linux":
		err = errors.New("not linux")
	case err != nil:
	case os.Geteuid() != 0:
		err = errors.New("chroot needs root")
	}
	if err != nil {
		if os.Getenv("MAILSINK_REQUIRE_CONTAINER") != "" {
			tb.Fatalf("MAILSINK_REQUIRE_CONTAINER is set but the empty root cannot be entered: %v", err)
		}
		tb.Skipf("cannot run the image payload: %v (set MAILSINK_REQUIRE_CONTAINER to make this a failure)", err)
	}
	return path
}

// inRoot is a command running /mailsink args inside root as the image's
// user, with env (MAILSINK_*=...) as its whole environment, as in the image.
func inRoot(chroot, root string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(chroot, append([]string{fmt.Sprintf("--userspec=%d:%d", containerUID, containerUID), root, "/mailsink"}, args...)...)
	cmd.Env = env
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

func TestContainerPayload(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the image is linux; its payload is built and run only on linux")
	}
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if machine == elf.EM_NONE {
		t.Skipf("the image is built for amd64 and arm64, not %s", runtime.GOARCH)
	}
	start := time.Now()
	root := buildPayload(t, runtime.GOARCH)
	t.Logf("scripts/build.sh took %v", time.Since(start).Round(time.Millisecond))

	checkStatic(t, filepath.Join(root, "mailsink"), machine)
	size := payloadSize(t, root)
	t.Logf("image payload linux/%s: %d bytes (%.1f MB, limit %d MB)", runtime.GOARCH, size, float64(size)/1e6, payloadLimit/1_000_000)
	if size >= payloadLimit {
		t.Errorf("image payload is %d bytes, want under %d", size, payloadLimit)
	}
	pem, err := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"))
	if err != nil || !x509.NewCertPool().AppendCertsFromPEM(pem) {
		t.Errorf("CA bundle: %v, or no certificate in it", err)
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil || !strings.Contains(string(passwd), fmt.Sprintf(":x:%d:%d:", containerUID, containerUID)) {
		t.Errorf("/etc/passwd = %q, %v; want the user %d", passwd, err, containerUID)
	}

	chroot := chrootOrSkip(t)
	before := listFiles(t, root)
	closed := closedAddr(t)
	// Loopback, port 0: the server reports what it bound; everything else
	// is the image's own configuration (MAILSINK_DB from the Dockerfile).
	env := []string{"MAILSINK_SMTP_ADDR=127.0.0.1:0", "MAILSINK_HTTP_ADDR=127.0.0.1:0",
		"MAILSINK_DB=/data/mailsink.db", "MAILSINK_LOG_FORMAT=json", "MAILSINK_HOSTNAME=mx.test"}
	p := startCmd(t, inRoot(chroot, root, env))

	// Runs as the image's user, not root.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Uid:\t%d\t%d\t", containerUID, containerUID); !strings.Contains(string(status), want) {
		t.Errorf("server process status has no %q:\n%s", want, status)
	}

	// SMTP over real TCP, then the API.
	c := dialSMTP(t, p.smtp)
	c.cmd(250, "EHLO app.test")
	c.sendDATA("app@app.test", "user@example.test", []byte("Subject: from the empty root\r\n\r\nhello\r\n"))
	c.cmd(221, "QUIT")
	var list listReply
	getJSON(t, p.url("/api/v1/messages"), &list)
	if list.Total != 1 || len(list.Messages) != 1 || list.Messages[0].Subject != "from the empty root" {
		t.Errorf("API lists %+v, want the one message", list)
	}

	// The subcommands the image's HEALTHCHECK and compose/CI use, run in
	// the root the way Docker runs them: the server's environment, no URL.
	probeEnv := []string{"MAILSINK_HTTP_ADDR=" + p.http}
	tests := []struct {
		name string
		env  []string
		args []string
		want int
	}{
		{"version", nil, []string{"version"}, 0},
		{"healthcheck, up", probeEnv, []string{"healthcheck"}, 0},
		{"readyz --wait, up", probeEnv, []string{"readyz", "--wait", "--timeout", "10s"}, 0},
		{"healthcheck, closed port", []string{"MAILSINK_HTTP_ADDR=" + closed}, []string{"healthcheck", "--timeout", "2s"}, 1},
		{"readyz --wait, closed port", []string{"MAILSINK_HTTP_ADDR=" + closed}, []string{"readyz", "--wait", "--timeout", "300ms"}, 1},
	}
	for _, tt := range tests {
		out, err := inRoot(chroot, root, tt.env, tt.args...).CombinedOutput()
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if code != tt.want {
			t.Errorf("%s: /mailsink %v exit %d, want %d\n%s", tt.name, tt.args, code, tt.want, out)
		}
		if tt.name == "version" && !strings.Contains(string(out), containerVersion) {
			t.Errorf("version = %q, want the stamped %q", out, containerVersion)
		}
	}

	// docker stop: SIGTERM, then a clean exit well before its 10s SIGKILL.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.exitErr != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", p.exitErr, p.logs)
		}
	case <-time.After(8 * time.Second):
		t.Fatalf("no exit within 8s of SIGTERM\n%s", p.logs)
	}
	if strings.Contains(p.logs.String(), `"level":"ERROR"`) {
		t.Errorf("errors logged:\n%s", p.logs)
	}
	if out, err := inRoot(chroot, root, probeEnv, "healthcheck", "--timeout", "2s").CombinedOutput(); err == nil {
		t.Errorf("healthcheck after the server stopped: exit 0, want 1\n%s", out)
	}

	// The database is in the volume, owned by the image's user, and
	// nothing was written anywhere else.
	info, err := os.Stat(filepath.Join(root, "data", "mailsink.db"))
	if err != nil {
		t.Fatalf("database in the volume: %v", err)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid != containerUID {
		t.Errorf("database owned by uid %d, want %d", st.Uid, containerUID)
	}
	for p := range listFiles(t, root) {
		if !before[p] && filepath.Dir(p) != "data" {
			t.Errorf("the server wrote %s, outside /data", p)
		}
	}
}

// TestContainerArm64Build cross-builds the arm64 image payload with the
// same script (buildx's linux/arm64); it cannot run here.
func TestContainerArm64Build(t *testing.T) {
	t.Parallel()
	if testing.Short() && os.Getenv("MAILSINK_REQUIRE_CONTAINER") == "" {
		t.Skip("-short: the first arm64 build compiles every package (about a minute)")
	}
	start := time.Now()
	root := buildPayload(t, "arm64")
	t.Logf("scripts/build.sh GOARCH=arm64 took %v", time.Since(start).Round(time.Millisecond))
	checkStatic(t, filepath.Join(root, "mailsink"), elf.EM_AARCH64)
	size := payloadSize(t, root)
	t.Logf("image payload linux/arm64: %d bytes (%.1f MB, limit %d MB)", size, float64(size)/1e6, payloadLimit/1_000_000)
	if size >= payloadLimit {
		t.Errorf("arm64 image payload is %d bytes, want under %d", size, payloadLimit)
	}
}
