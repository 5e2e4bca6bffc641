package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailsink/smtpd"
	"mailsink/smtpd/chaos"
	"mailsink/webui"
)

// config is everything the command line and MAILSINK_* environment say.
type config struct {
	ConfigFile      string
	Webroot         string // normalised: "/" or "/prefix/"
	SMTPAddr        string
	SMTPSAddr       string
	HTTPAddr        string
	DBPath          string
	Hostname        string
	MaxMessageSize  byteSize
	MaxRecipients   int
	MaxConnections  int
	MaxConnsPerIP   int
	MinDataRate     int
	CommandTimeout  time.Duration
	DataTimeout     time.Duration
	ShutdownTimeout time.Duration
	StartTLS        bool
	TLSCert         string
	TLSKey          string
	SMTPAuth        string // as given; parsed into AuthMode/Users
	AuthMode        smtpd.AuthMode
	Users           map[string]string
	MaxMessages     int
	MaxAge          duration
	InboxHeader     string
	PlusTags        bool
	LogLevel        slog.Level
	LogFormat       string
	ChaosFile       string
	ChaosRules      []string // compact rules, in order
	ChaosSeed       int64
	ChaosMagic      bool
	PprofAddr       string
	MemoryLimit     byteSize
	HTTPTLS         bool
	AllowedHosts    list
	CORSOrigins     list
	UIAuth          string      // as given; parsed into WebAuth
	WebAuth         *webui.Auth // nil: no login
}

// envName is the environment twin of a flag: --max-age → MAILSINK_MAX_AGE.
func envName(flagName string) string {
	return "MAILSINK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet defines every flag of the server command on cfg, with defaults.
// The set is built per call so that tests can parse in parallel. Its usage
// strings are also the README's flags table (TestREADMEFlagsTable), so
// they are written to be read there as well as in --help.
func newFlagSet(cfg *config, hostname string) *flag.FlagSet {
	fs := flag.NewFlagSet("mailsink", flag.ContinueOnError)
	fs.StringVar(&cfg.ConfigFile, "config", "", "JSON file of settings: an object whose keys are flag names, e.g. {\"smtp-addr\": \"127.0.0.1:2525\", \"max-age\": \"7d\", \"chaos-rule\": [\"…\"]}; values are strings, numbers or booleans, arrays for --chaos-rule, --allowed-hosts and --cors-origin; flags and environment variables win over it; the client subcommands (list, wait, …) read the server's address, --webroot, --http-tls and --ui-auth from it too")
	fs.StringVar(&cfg.SMTPAddr, "smtp-addr", "0.0.0.0:1025", "SMTP listen address")
	fs.StringVar(&cfg.SMTPSAddr, "smtps-addr", "", "implicit-TLS SMTP (SMTPS) listen address; empty = off")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "0.0.0.0:8025", "HTTP (API and web UI) listen address")
	fs.StringVar(&cfg.Webroot, "webroot", "/", "path prefix to serve UI, API, websockets and /view/ under, e.g. /mail/ behind a reverse proxy that forwards that path unchanged; /livez and /readyz answer at the root too; mailsink list, wait and delete follow MAILSINK_WEBROOT")
	fs.StringVar(&cfg.DBPath, "db", "mailsink.db", "SQLite database file; :memory: keeps nothing on disk")
	fs.StringVar(&cfg.Hostname, "hostname", hostname, "host name used in the SMTP greeting, Received headers and the self-signed certificate")
	cfg.MaxMessageSize = 25 << 20
	fs.Var(&cfg.MaxMessageSize, "max-message-size", "largest accepted message (bytes, or with KiB/MiB/GiB, KB/MB/GB suffix), advertised in SIZE; 0 = unlimited")
	fs.IntVar(&cfg.MaxRecipients, "max-recipients", 100, "most RCPT TO per message, beyond it 452 4.5.3 (RFC 5321 asks for at least 100); 0 = unlimited")
	fs.IntVar(&cfg.MaxConnections, "max-connections", 1000, "most concurrent SMTP connections; beyond it clients get 421 4.7.0; 0 = unlimited")
	fs.IntVar(&cfg.MaxConnsPerIP, "max-connections-per-ip", 250, "most concurrent SMTP connections from one client IP, so one client cannot take every slot; beyond it 421 4.7.0; 0 = unlimited")
	fs.DurationVar(&cfg.CommandTimeout, "smtp-timeout", 5*time.Minute, "how long an SMTP session may stay idle waiting for a command (421 4.4.2 after)")
	fs.DurationVar(&cfg.DataTimeout, "smtp-data-timeout", 10*time.Minute, "how long an SMTP client may stall while sending message data")
	fs.IntVar(&cfg.MinDataRate, "smtp-min-data-rate", 500, "bytes a second a whole DATA/BDAT transfer must average beyond --smtp-data-timeout, so a client trickling bytes is cut off")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long transfers in flight may take to finish")
	fs.BoolVar(&cfg.StartTLS, "smtp-starttls", true, "offer STARTTLS; turn off for clients that insist on verifying the certificate (Go's net/smtp.SendMail, nodemailer defaults) when you have no trusted --tls-cert")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate for STARTTLS, SMTPS and --http-tls; empty = a self-signed one for --hostname, made at start")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key matching --tls-cert")
	fs.BoolVar(&cfg.HTTPTLS, "http-tls", false, "serve the UI and API over HTTPS with the --tls-cert/--tls-key certificate (else the self-signed one); mailsink healthcheck, list, wait and delete follow MAILSINK_HTTP_TLS and skip certificate checks on loopback only")
	fs.Var(&cfg.AllowedHosts, "allowed-hosts", "comma-separated host names the UI and API answer to besides localhost and loopback IPs (.example.test = a domain and its subdomains, * = any); enforced when set, and always when --http-addr is loopback, against DNS rebinding; others get 403; /livez and /readyz answer any host")
	fs.Var(&cfg.CORSOrigins, "cors-origin", "comma-separated origins (https://dash.example.test) whose pages may use the API cross-origin (with credentials), or * for any (without); empty = no CORS headers, and cross-site writes get 403")
	fs.StringVar(&cfg.UIAuth, "ui-auth", "", "login for UI, API and websocket (not /livez, /readyz): htpasswd:FILE (bcrypt users, htpasswd -B), token:FILE (tokens, one a line) or bearer:TOKEN; a token goes in Authorization: Bearer or as the basic-auth password (any user name); the CLI sends --api-token/MAILSINK_API_TOKEN or --api-user user:pass/MAILSINK_API_USER, else the token of MAILSINK_UI_AUTH; empty = none")
	fs.StringVar(&cfg.SMTPAuth, "smtp-auth", "any", "SMTP AUTH policy: any (offered, any credentials, optional), none (not offered), require (any credentials, required before MAIL), users=FILE (only FILE's user:password lines, one a line with # comments; required)")
	fs.IntVar(&cfg.MaxMessages, "max-messages", 0, "keep at most this many messages, pruning the oldest; 0 = unlimited")
	fs.Var(&cfg.MaxAge, "max-age", "prune messages older than this (Go duration such as 90m or 24h, or Nd for days); 0 = keep forever")
	fs.StringVar(&cfg.InboxHeader, "inbox-header", "X-Mailsink-Inbox", "header that names a message's inbox (after the AUTH user, before a recipient's +tag)")
	fs.BoolVar(&cfg.PlusTags, "tags-plus-addressing", false, "tag messages with the +tag of their recipients (user+tag@example.test), as Mailpit's option of that name")
	fs.TextVar(&cfg.LogLevel, "log-level", slog.LevelInfo, "log level: debug (shows SMTP protocol lines), info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&cfg.ChaosFile, "chaos", "", "chaos rules to start with: a JSON file (the body of PUT /api/v1/chaos, or just a list of rules)")
	fs.Func("chaos-rule", "a chaos rule in compact form, e.g. 'rcpt:to=*@bounce.test:550 5.1.1 No such user'; repeatable (the env twin takes one per line)", func(s string) error {
		for line := range strings.SplitSeq(s, "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			if _, err := chaos.ParseRule(line); err != nil {
				return err
			}
			cfg.ChaosRules = append(cfg.ChaosRules, line)
		}
		return nil
	})
	fs.Int64Var(&cfg.ChaosSeed, "chaos-seed", 0, "seed for chaos probabilities, so a run repeats exactly; 0 = random (GET /api/v1/chaos shows it)")
	fs.BoolVar(&cfg.ChaosMagic, "chaos-magic", false, "magic recipient addresses: user+smtp451@…, smtp-550@…, user+delay5s@…, user+disconnect@… get that behaviour at RCPT")
	cfg.MemoryLimit = 40 << 20
	fs.Var(&cfg.MemoryLimit, "memory-limit", "soft limit of the Go heap (bytes, or with KiB/MiB/GiB suffix): the garbage collector works harder near it instead of letting the heap double, so a burst or a 25 MiB message does not balloon RSS; 0 = Go's default (GOMEMLIMIT, when set, wins)")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", "", "serve Go's /debug/pprof/ profiles on this address (keep it on loopback, e.g. 127.0.0.1:6060) for performance work; empty = off")
	return fs
}

// parseConfig reads args, then fills every flag not given on the command
// line from its MAILSINK_* twin, then every flag still unset from the
// --config file: flag > env > file > default.
func parseConfig(args []string, getenv func(string) string, usageOut io.Writer) (*config, error) {
	hostname, err := os.Hostname()
	if err != nil || hostname == "" {
		hostname = "localhost"
	}
	cfg := &config{}
	fs := newFlagSet(cfg, hostname)
	fs.SetOutput(usageOut)
	fs.Usage = func() { printUsage(usageOut, fs) }
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	set := map[string]bool{} // by the command line or the environment
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			set[f.Name] = true
			if err := fs.Set(f.Name, v); err != nil {
				// flag's own errors for numbers and durations say only
				// "parse error": name the value and the flag it sets.
				errs = append(errs, fmt.Errorf("%s=%q (--%s): %w", envName(f.Name), v, f.Name, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.ConfigFile != "" {
		if err := applyConfigFile(fs, cfg.ConfigFile, set); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// applyConfigFile sets the flags not in set from path, a JSON object whose
// keys are flag names. A value is a string (as on the command line), a
// number or a boolean; list-valued flags (see takesList) also take an
// array. JSON because the standard library reads it and a flat object of
// flag names needs nothing more: no dependency for comments or nesting.
func applyConfigFile(fs *flag.FlagSet, path string, set map[string]bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var values map[string]json.RawMessage
	if err := json.Unmarshal(data, &values); err != nil || values == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		return fmt.Errorf("--config %s: want a JSON object of flag names and values: %w", path, err)
	}
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(values)) { // sorted: the same error every run
		f := fs.Lookup(key)
		if f == nil {
			errs = append(errs, fmt.Errorf("--config %s: unknown key %q: keys are flag names without the dashes (see --help)", path, key))
			continue
		}
		if key == "config" {
			errs = append(errs, fmt.Errorf("--config %s: key \"config\": a config file cannot name another", path))
			continue
		}
		if set[key] {
			continue // the command line or the environment wins
		}
		items, err := configValues(values[key], takesList(f))
		if err == nil {
			for _, v := range items {
				if err = fs.Set(key, v); err != nil {
					break
				}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--config %s: --%s=%s: %w", path, key, values[key], err))
		}
	}
	return errors.Join(errs...)
}

// configValues turns one JSON value of the config file into the strings
// the flag's Set takes, one per element of an array.
func configValues(raw json.RawMessage, list bool) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // "max-message-size": 26214400 stays an integer
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	scalar := func(v any) (string, bool) {
		switch v := v.(type) {
		case string:
			return v, true
		case json.Number:
			return v.String(), true
		case bool:
			return strconv.FormatBool(v), true
		}
		return "", false
	}
	if s, ok := scalar(v); ok {
		return []string{s}, nil
	}
	if arr, ok := v.([]any); ok && list {
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := scalar(e)
			if !ok {
				return nil, fmt.Errorf("array element %s is not a string, number or boolean", jsonText(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	if list {
		return nil, fmt.Errorf("%s is not a string, number, boolean or array of them", raw)
	}
	return nil, fmt.Errorf("%s is not a string, number or boolean", raw)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// serverSettings is getenv for the client subcommands (healthcheck, list,
// wait, delete, sendmail, bench), which find the server through its
// MAILSINK_* variables: where one of those is unset, the value comes from
// the JSON file MAILSINK_CONFIG names, as it does for the server, so a
// container configured by file needs no variables for its CLI either.
// Only the settings that say where and how to reach the server are taken.
// A missing or broken file is ignored here: the server reports it at
// start, and the client then works from the variables and defaults.
func serverSettings(getenv func(string) string) func(string) string {
	path := getenv(envName("config"))
	if path == "" {
		return getenv
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return getenv
	}
	var file map[string]json.RawMessage
	if json.Unmarshal(data, &file) != nil {
		return getenv
	}
	fromFile := map[string]string{}
	for _, name := range []string{"smtp-addr", "http-addr", "http-tls", "webroot", "ui-auth"} {
		if vs, err := configValues(file[name], false); err == nil && file[name] != nil {
			fromFile[envName(name)] = vs[0]
		}
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return fromFile[k]
	}
}

// takesList reports whether a flag adds up when given more than once, so
// that the config file may give it an array.
func takesList(f *flag.Flag) bool {
	_, ok := f.Value.(*list)
	return ok || f.Name == "chaos-rule"
}

func (cfg *config) validate() error {
	root, err := normalizeWebroot(cfg.Webroot)
	if err != nil {
		return fmt.Errorf("--webroot: %w", err)
	}
	cfg.Webroot = root
	switch cfg.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format: %q is neither text nor json", cfg.LogFormat)
	}
	if cfg.MaxRecipients < 0 || cfg.MaxConnections < 0 || cfg.MaxMessages < 0 || cfg.MaxConnsPerIP < 0 {
		return errors.New("--max-recipients, --max-connections, --max-connections-per-ip and --max-messages must not be negative")
	}
	if cfg.MinDataRate < 1 {
		return errors.New("--smtp-min-data-rate: must be at least 1 byte a second")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if cfg.Hostname == "" {
		return errors.New("--hostname: must not be empty")
	}
	mode, users, err := parseAuth(cfg.SMTPAuth)
	if err != nil {
		return fmt.Errorf("--smtp-auth: %w", err)
	}
	cfg.AuthMode, cfg.Users = mode, users
	if cfg.WebAuth, err = parseUIAuth(cfg.UIAuth); err != nil {
		return fmt.Errorf("--ui-auth: %w", err)
	}
	for _, o := range cfg.CORSOrigins {
		if err := checkOrigin(o); err != nil {
			return fmt.Errorf("--cors-origin: %w", err)
		}
	}
	return nil
}

// normalizeWebroot turns a --webroot value into "/" or "/a/b/": leading
// and trailing slash added, so "mail", "/mail" and "/mail/" are the same
// prefix. Only plain path segments are accepted: the prefix is compared
// with request paths as is and written into URLs and Location headers, so
// nothing in it may need escaping or change meaning when resolved.
func normalizeWebroot(v string) (string, error) {
	segs := strings.Split(strings.Trim(strings.TrimSpace(v), "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		return "/", nil
	}
	for _, seg := range segs {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%q is not a path like /mail/: empty, . and .. segments are not allowed", v)
		}
		for _, c := range seg {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-._~", c)) {
				return "", fmt.Errorf("%q is not a path like /mail/: only letters, digits, -, ., _ and ~ between slashes", v)
			}
		}
	}
	return "/" + strings.Join(segs, "/") + "/", nil
}

// parseAuth turns the --smtp-auth value into a policy; users=FILE reads
// FILE now so that a bad file fails the start, not the first login.
func parseAuth(v string) (smtpd.AuthMode, map[string]string, error) {
	switch {
	case v == "any" || v == "":
		return smtpd.AuthAny, nil, nil
	case v == "none":
		return smtpd.AuthNone, nil, nil
	case v == "require":
		return smtpd.AuthRequire, nil, nil
	case strings.HasPrefix(v, "users="):
		path := strings.TrimPrefix(v, "users=")
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, nil, err
		}
		users, err := parseUsers(data)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", path, err)
		}
		return smtpd.AuthUsers, users, nil
	}
	return 0, nil, fmt.Errorf("%q is not any, none, require or users=FILE", v)
}

// parseUsers reads "user:password" lines; blank lines and # comments are
// skipped. Passwords are kept in clear because CRAM-MD5 needs them.
func parseUsers(data []byte) (map[string]string, error) {
	users := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, pass, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("line %d: want user:password", n)
		}
		users[user] = pass
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, errors.New("no users")
	}
	return users, nil
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `mailsink: a development mail catcher. It accepts every message over SMTP,
relays nothing, stores everything in SQLite and serves it over HTTP.

Usage:
  mailsink [flags]                 run the server
  mailsink version                 print the version
  mailsink healthcheck [--url U]   exit 0 when the server answers /readyz, else 1
  mailsink readyz [--wait] [--timeout 30s] [--url U]
                                   the same; --wait polls until ready or the timeout
  mailsink list [--query Q]        list stored messages (or those matching a search)
  mailsink wait --query Q          block until matching mail arrives; print it as JSON
  mailsink delete (--query Q | --id ID... | --all)
  mailsink sendmail [-t] [-f FROM] [rcpt...]
                                   a sendmail drop-in: send stdin over SMTP
  mailsink bench [--sink] [--messages N] [--conns C] [--shape S]
                                   load-test an SMTP server (msg/s, latency, CPU, RSS)
  Each subcommand has its own --help.

Every flag can also be set by its environment variable, and by a key of
the --config JSON file ({"max-age": "7d", "chaos-rule": ["…"]}); the flag
wins over the variable, the variable over the file, the file over the
default:

`)
	fs.VisitAll(func(f *flag.Flag) {
		def := f.DefValue
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s  (%s, default %s)\n      %s\n", f.Name, envName(f.Name), def, f.Usage)
	})
}

// byteSize is a flag value in bytes that accepts unit suffixes.
type byteSize int64

// String shows whole KiB, MiB or GiB with the unit, so that --help and
// the README read "25MiB" rather than 26214400.
func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a size like 26214400 or 25MiB", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// duration is a time.Duration flag that also takes whole days ("7d").
type duration time.Duration

func (d *duration) String() string { return time.Duration(*d).String() }

func (d *duration) Set(s string) error {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a number of days", s)
		}
		*d = duration(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration like 90m, 24h or 7d", s)
	}
	*d = duration(v)
	return nil
}
