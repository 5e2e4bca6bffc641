package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"mailsink/smtpd"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	users := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(users, []byte("# test users\nalice:secret\n\nbob:pa:ss\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	// htpasswd -B writes $2y$; Go's bcrypt writes $2a$.
	y := "$2y$" + strings.TrimPrefix(string(hash), "$2a$")
	if err := os.WriteFile(htpasswd, []byte("# users\nann:"+string(hash)+"\nbob:"+y+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	md5 := filepath.Join(t.TempDir(), "md5")
	if err := os.WriteFile(md5, []byte("ann:$apr1$x$abcdefghijklmnopqrstuv\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("# rotate\ntok-a\n\ntok-b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("# nobody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(*config) bool
		wantErr string // substring; "" = no error
	}{
		{name: "defaults", check: func(c *config) bool {
			return c.SMTPAddr == "0.0.0.0:1025" && c.HTTPAddr == "0.0.0.0:8025" && c.DBPath == "mailsink.db" &&
				c.MaxMessageSize == 25<<20 && c.MaxRecipients == 100 && c.SMTPSAddr == "" && c.AuthMode == smtpd.AuthAny &&
				c.StartTLS && c.MaxMessages == 0 && c.MaxAge == 0 && c.LogFormat == "text" && c.Hostname != ""
		}},
		{name: "env fills what flags leave", env: map[string]string{"MAILSINK_SMTP_ADDR": "127.0.0.1:2525", "MAILSINK_DB": ":memory:", "MAILSINK_MAX_AGE": "7d"},
			check: func(c *config) bool {
				return c.SMTPAddr == "127.0.0.1:2525" && c.DBPath == ":memory:" && time.Duration(c.MaxAge) == 7*24*time.Hour
			}},
		{name: "flag beats env", args: []string{"--smtp-addr=127.0.0.1:3000"}, env: map[string]string{"MAILSINK_SMTP_ADDR": "127.0.0.1:2525"},
			check: func(c *config) bool { return c.SMTPAddr == "127.0.0.1:3000" }},
		{name: "size units", args: []string{"--max-message-size=10MiB"}, check: func(c *config) bool { return c.MaxMessageSize == 10<<20 }},
		{name: "size plain", env: map[string]string{"MAILSINK_MAX_MESSAGE_SIZE": "1000"}, check: func(c *config) bool { return c.MaxMessageSize == 1000 }},
		{name: "auth none", args: []string{"--smtp-auth=none"}, check: func(c *config) bool { return c.AuthMode == smtpd.AuthNone }},
		{name: "auth require", args: []string{"--smtp-auth", "require"}, check: func(c *config) bool { return c.AuthMode == smtpd.AuthRequire }},
		{name: "auth users file", args: []string{"--smtp-auth=users=" + users}, check: func(c *config) bool {
			return c.AuthMode == smtpd.AuthUsers && c.Users["alice"] == "secret" && c.Users["bob"] == "pa:ss" && len(c.Users) == 2
		}},
		{name: "log json debug", args: []string{"--log-format=json", "--log-level=debug"}, check: func(c *config) bool { return c.LogFormat == "json" && c.LogLevel.String() == "DEBUG" }},
		{name: "bad size names flag", args: []string{"--max-message-size=huge"}, wantErr: "max-message-size"},
		{name: "memory limit default", check: func(c *config) bool { return c.MemoryLimit == 40<<20 }},
		{name: "memory limit env", env: map[string]string{"MAILSINK_MEMORY_LIMIT": "32MiB"}, check: func(c *config) bool { return c.MemoryLimit == 32<<20 }},
		{name: "memory limit off", args: []string{"--memory-limit=0"}, check: func(c *config) bool { return c.MemoryLimit == 0 }},
		{name: "bad memory limit names flag", args: []string{"--memory-limit=lots"}, wantErr: "memory-limit"},
		{name: "bad env names variable", env: map[string]string{"MAILSINK_MAX_RECIPIENTS": "many"}, wantErr: `MAILSINK_MAX_RECIPIENTS="many" (--max-recipients)`},
		{name: "bad auth", args: []string{"--smtp-auth=sometimes"}, wantErr: "--smtp-auth"},
		{name: "users file missing", args: []string{"--smtp-auth=users=/nonexistent/users"}, wantErr: "--smtp-auth"},
		{name: "users file empty", args: []string{"--smtp-auth=users=" + empty}, wantErr: "no users"},
		{name: "bad log format", args: []string{"--log-format=xml"}, wantErr: "--log-format"},
		{name: "cert without key", args: []string{"--tls-cert=x.pem"}, wantErr: "--tls-key"},
		{name: "bad max age", args: []string{"--max-age=soon"}, wantErr: "max-age"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected argument"},
		{name: "chaos rules repeat, env one per line", args: []string{"--chaos-rule=rcpt:to=*@a.test:550", "--chaos-rule", "mail:p=50%:451"},
			env: map[string]string{"MAILSINK_CHAOS_SEED": "7", "MAILSINK_CHAOS_MAGIC": "true"},
			check: func(c *config) bool {
				return len(c.ChaosRules) == 2 && c.ChaosRules[1] == "mail:p=50%:451" && c.ChaosSeed == 7 && c.ChaosMagic
			}},
		{name: "chaos rules from env lines", env: map[string]string{"MAILSINK_CHAOS_RULE": "rcpt:to=*@a.test:550 5.1.1 No\n\n  rcpt:greylist=2s\n"},
			check: func(c *config) bool {
				return len(c.ChaosRules) == 2 && c.ChaosRules[0] == "rcpt:to=*@a.test:550 5.1.1 No" && c.ChaosRules[1] == "rcpt:greylist=2s"
			}},
		{name: "bad chaos rule", args: []string{"--chaos-rule=rcpt:to=*@a.test:999 nope"}, wantErr: "chaos-rule"},
		{name: "web security defaults", check: func(c *config) bool {
			return !c.HTTPTLS && len(c.AllowedHosts) == 0 && len(c.CORSOrigins) == 0 && c.WebAuth == nil
		}},
		{name: "allowed hosts and cors from env", env: map[string]string{"MAILSINK_ALLOWED_HOSTS": "mail.test, .corp.test", "MAILSINK_CORS_ORIGIN": "https://dash.test,http://localhost:3000", "MAILSINK_HTTP_TLS": "true"},
			check: func(c *config) bool {
				return len(c.AllowedHosts) == 2 && c.AllowedHosts[1] == ".corp.test" && len(c.CORSOrigins) == 2 && c.CORSOrigins[1] == "http://localhost:3000" && c.HTTPTLS
			}},
		{name: "allowed hosts flag beats env", args: []string{"--allowed-hosts=a.test"}, env: map[string]string{"MAILSINK_ALLOWED_HOSTS": "b.test"},
			check: func(c *config) bool { return len(c.AllowedHosts) == 1 && c.AllowedHosts[0] == "a.test" }},
		{name: "cors star", args: []string{"--cors-origin=*"}, check: func(c *config) bool { return len(c.CORSOrigins) == 1 && c.CORSOrigins[0] == "*" }},
		{name: "bad cors origin", args: []string{"--cors-origin=https://dash.test/app"}, wantErr: "--cors-origin"},
		{name: "cors origin without scheme", env: map[string]string{"MAILSINK_CORS_ORIGIN": "dash.test"}, wantErr: "--cors-origin"},
		{name: "ui auth htpasswd", args: []string{"--ui-auth=htpasswd:" + htpasswd}, check: func(c *config) bool {
			return c.WebAuth != nil && c.WebAuth.Users["ann"] == string(hash) && c.WebAuth.Users["bob"] == y && len(c.WebAuth.Tokens) == 0
		}},
		{name: "ui auth token file from env", env: map[string]string{"MAILSINK_UI_AUTH": "token:" + tokenFile}, check: func(c *config) bool {
			return c.WebAuth != nil && len(c.WebAuth.Tokens) == 2 && c.WebAuth.Tokens[1] == "tok-b"
		}},
		{name: "ui auth bearer", args: []string{"--ui-auth=bearer:s3cret"}, check: func(c *config) bool {
			return c.WebAuth != nil && len(c.WebAuth.Tokens) == 1 && c.WebAuth.Tokens[0] == "s3cret"
		}},
		{name: "ui auth none", args: []string{"--ui-auth=none"}, check: func(c *config) bool { return c.WebAuth == nil }},
		{name: "ui auth md5 refused", args: []string{"--ui-auth=htpasswd:" + md5}, wantErr: "htpasswd -B"},
		{name: "ui auth empty token file", args: []string{"--ui-auth=token:" + empty}, wantErr: "--ui-auth"},
		{name: "ui auth missing file", args: []string{"--ui-auth=htpasswd:/nonexistent"}, wantErr: "--ui-auth"},
		{name: "ui auth unknown kind", env: map[string]string{"MAILSINK_UI_AUTH": "basic:ann:pw"}, wantErr: "--ui-auth"},
		{name: "ui auth empty bearer", args: []string{"--ui-auth=bearer:"}, wantErr: "--ui-auth"},
		{name: "per-IP cap and data rate defaults", check: func(c *config) bool { return c.MaxConnsPerIP == 250 && c.MinDataRate == 500 }},
		{name: "per-IP cap from env", env: map[string]string{"MAILSINK_MAX_CONNECTIONS_PER_IP": "0", "MAILSINK_SMTP_MIN_DATA_RATE": "100"},
			check: func(c *config) bool { return c.MaxConnsPerIP == 0 && c.MinDataRate == 100 }},
		{name: "negative per-IP cap", args: []string{"--max-connections-per-ip=-1"}, wantErr: "--max-connections-per-ip"},
		{name: "zero data rate", args: []string{"--smtp-min-data-rate=0"}, wantErr: "--smtp-min-data-rate"},
		{name: "bad chaos stage in env", env: map[string]string{"MAILSINK_CHAOS_RULE": "never:550"}, wantErr: "MAILSINK_CHAOS_RULE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("config = %+v", cfg)
			}
		})
	}
}

func TestProbeAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0.0.0.0:8025":   "127.0.0.1:8025",
		":8025":          "127.0.0.1:8025",
		"[::]:8025":      "[::1]:8025",
		"10.1.2.3:80":    "10.1.2.3:80",
		"localhost:8025": "localhost:8025",
	} {
		if got := probeAddr(in); got != want {
			t.Errorf("probeAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestConfigPrecedence pins flag > env > file > default for every pair,
// for a plain value and for a list-valued flag.
func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "mailsink.json")
	if err := os.WriteFile(file, []byte(`{
		"smtp-addr": "127.0.0.1:3003",
		"chaos-rule": ["rcpt:to=*@file.test:550", "mail:p=50%:451"],
		"max-recipients": 7
	}`), 0o600); err != nil {
		t.Fatal(err)
	}
	const (
		flagAddr = "127.0.0.1:3001"
		envAddr  = "127.0.0.1:3002"
		fileAddr = "127.0.0.1:3003"
		defAddr  = "0.0.0.0:1025"
	)
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		noFile    bool
		wantAddr  string
		wantRules []string
	}{
		{name: "flag over env", args: []string{"--smtp-addr=" + flagAddr}, env: map[string]string{"MAILSINK_SMTP_ADDR": envAddr}, noFile: true, wantAddr: flagAddr},
		{name: "flag over file", args: []string{"--smtp-addr=" + flagAddr, "--chaos-rule=rcpt:to=*@flag.test:550"},
			wantAddr: flagAddr, wantRules: []string{"rcpt:to=*@flag.test:550"}},
		{name: "flag over default", args: []string{"--smtp-addr=" + flagAddr}, noFile: true, wantAddr: flagAddr},
		{name: "env over file", env: map[string]string{"MAILSINK_SMTP_ADDR": envAddr, "MAILSINK_CHAOS_RULE": "rcpt:to=*@env.test:550"},
			wantAddr: envAddr, wantRules: []string{"rcpt:to=*@env.test:550"}},
		{name: "env over default", env: map[string]string{"MAILSINK_SMTP_ADDR": envAddr}, noFile: true, wantAddr: envAddr},
		{name: "file over default", wantAddr: fileAddr, wantRules: []string{"rcpt:to=*@file.test:550", "mail:p=50%:451"}},
		{name: "default", noFile: true, wantAddr: defAddr},
		{name: "all three: flag", args: []string{"--smtp-addr=" + flagAddr}, env: map[string]string{"MAILSINK_SMTP_ADDR": envAddr}, wantAddr: flagAddr,
			wantRules: []string{"rcpt:to=*@file.test:550", "mail:p=50%:451"}},
		{name: "config path from env", env: map[string]string{"MAILSINK_CONFIG": file}, noFile: true, wantAddr: fileAddr,
			wantRules: []string{"rcpt:to=*@file.test:550", "mail:p=50%:451"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if !tt.noFile {
				args = append([]string{"--config", file}, args...)
			}
			cfg, err := parseConfig(args, func(k string) string { return tt.env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.SMTPAddr != tt.wantAddr {
				t.Errorf("smtp-addr = %q, want %q", cfg.SMTPAddr, tt.wantAddr)
			}
			if strings.Join(cfg.ChaosRules, "|") != strings.Join(tt.wantRules, "|") {
				t.Errorf("chaos rules = %q, want %q", cfg.ChaosRules, tt.wantRules)
			}
			if wantRcpts := map[bool]int{true: 100, false: 7}[tt.noFile && tt.env["MAILSINK_CONFIG"] == ""]; cfg.MaxRecipients != wantRcpts {
				t.Errorf("max-recipients = %d, want %d", cfg.MaxRecipients, wantRcpts)
			}
		})
	}
}

// TestConfigFile covers the value types of the config file and its errors,
// each of which names the file and the key or flag.
func TestConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		body    string
		check   func(*config) bool
		wantErr []string // substrings; nil = no error
	}{
		{name: "types", body: `{"max-age": "7d", "max-message-size": 1048576, "memory-limit": "32MiB", "smtp-starttls": false,
			"tags-plus-addressing": true, "chaos-seed": 42, "log-level": "debug", "webroot": "mail",
			"allowed-hosts": ["a.test", ".b.test"], "cors-origin": "https://x.test,https://y.test", "chaos-rule": "rcpt:greylist=2s"}`,
			check: func(c *config) bool {
				return time.Duration(c.MaxAge) == 7*24*time.Hour && c.MaxMessageSize == 1<<20 && c.MemoryLimit == 32<<20 && !c.StartTLS &&
					c.PlusTags && c.ChaosSeed == 42 && c.LogLevel.String() == "DEBUG" && c.Webroot == "/mail/" &&
					strings.Join(c.AllowedHosts, " ") == "a.test .b.test" && len(c.CORSOrigins) == 2 && strings.Join(c.ChaosRules, "|") == "rcpt:greylist=2s"
			}},
		{name: "empty object", body: `{}`, check: func(c *config) bool { return c.SMTPAddr == "0.0.0.0:1025" }},
		{name: "unknown key", body: `{"smtp-adr": "x", "db": "x.db"}`, wantErr: []string{`unknown key "smtp-adr"`, "f.json"}},
		{name: "config key", body: `{"config": "other.json"}`, wantErr: []string{`key "config"`, "f.json"}},
		{name: "bad value", body: `{"max-age": "soon"}`, wantErr: []string{"--max-age", "f.json", "soon"}},
		{name: "bad bool", body: `{"smtp-starttls": "maybe"}`, wantErr: []string{"--smtp-starttls", "f.json"}},
		{name: "bad number", body: `{"max-recipients": 1.5}`, wantErr: []string{"--max-recipients", "f.json"}},
		{name: "array for a single value", body: `{"smtp-addr": ["a:1", "b:2"]}`, wantErr: []string{"--smtp-addr", "f.json", "not a string, number or boolean"}},
		{name: "object value", body: `{"chaos-rule": {"rule": "x"}}`, wantErr: []string{"--chaos-rule", "f.json"}},
		{name: "null value", body: `{"db": null}`, wantErr: []string{"--db", "f.json"}},
		{name: "bad array element", body: `{"allowed-hosts": ["a.test", 1, {}]}`, wantErr: []string{"--allowed-hosts", "f.json", "array element {}"}},
		{name: "bad chaos rule", body: `{"chaos-rule": ["rcpt:greylist=2s", "never:550"]}`, wantErr: []string{"--chaos-rule", "f.json"}},
		{name: "bad webroot", body: `{"webroot": "/a/../b"}`, wantErr: []string{"--webroot"}},
		{name: "not an object", body: `["smtp-addr"]`, wantErr: []string{"f.json", "JSON object"}},
		{name: "null document", body: `null`, wantErr: []string{"f.json", "JSON object"}},
		{name: "syntax error", body: `{"db": "x",}`, wantErr: []string{"f.json", "JSON object"}},
		{name: "every error at once", body: `{"nope": 1, "max-age": "soon"}`, wantErr: []string{`unknown key "nope"`, "--max-age"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := write(strings.ReplaceAll(tt.name, " ", "-")+"-f.json", tt.body)
			cfg, err := parseConfig([]string{"--config=" + file}, func(string) string { return "" }, io.Discard)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("no error, want one containing %q", tt.wantErr)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("err = %v, want one containing %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("config = %+v", cfg)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		_, err := parseConfig(nil, func(k string) string { return map[string]string{"MAILSINK_CONFIG": filepath.Join(dir, "nope.json")}[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--config") || !strings.Contains(err.Error(), "nope.json") {
			t.Errorf("err = %v, want one naming --config and the file", err)
		}
	})
}

func TestConfigWebroot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" = an error naming --webroot
	}{
		{"", "/"}, {"/", "/"}, {"mail", "/mail/"}, {"/mail", "/mail/"}, {"/mail/", "/mail/"}, {"mail/", "/mail/"},
		{" /mail/ ", "/mail/"}, {"/a/b.c/~d_e-f/", "/a/b.c/~d_e-f/"},
		{"/a//b/", ""}, {"/a/../b", ""}, {"/./", ""}, {"/mail?x=1", ""}, {"/mail#x", ""}, {"http://x.test/mail", ""},
		{"/m%20ail", ""}, {"/m ail", ""}, {`\mail`, ""}, {"/mäil", ""},
	}
	for _, tt := range tests {
		cfg, err := parseConfig([]string{"--webroot", tt.in}, func(string) string { return "" }, io.Discard)
		switch {
		case tt.want == "" && (err == nil || !strings.Contains(err.Error(), "--webroot")):
			t.Errorf("--webroot %q: err = %v, want one naming --webroot", tt.in, err)
		case tt.want != "" && err != nil:
			t.Errorf("--webroot %q: %v", tt.in, err)
		case tt.want != "" && cfg.Webroot != tt.want:
			t.Errorf("--webroot %q = %q, want %q", tt.in, cfg.Webroot, tt.want)
		}
	}
	cfg, err := parseConfig(nil, func(k string) string { return map[string]string{"MAILSINK_WEBROOT": "mail"}[k] }, io.Discard)
	if err != nil || cfg.Webroot != "/mail/" {
		t.Errorf("MAILSINK_WEBROOT=mail: %v, %v; want /mail/", cfg, err)
	}
}

// TestHelpListsEveryFlagAndEnvTwin checks that each flag of the server has
// a MAILSINK_* twin that parseConfig reads and that --help shows both.
func TestHelpListsEveryFlagAndEnvTwin(t *testing.T) {
	t.Parallel()
	var help strings.Builder
	if _, err := parseConfig([]string{"--help"}, func(string) string { return "" }, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	if !strings.Contains(help.String(), "--config JSON file") {
		t.Errorf("--help does not explain the config file:\n%s", help.String())
	}
	fs := newFlagSet(&config{}, "localhost")
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		env := envName(f.Name)
		if !regexp.MustCompile(`^MAILSINK_[A-Z0-9_]+$`).MatchString(env) {
			t.Errorf("--%s: env twin %q", f.Name, env)
		}
		if line := "--" + f.Name + "  (" + env + ", default "; !strings.Contains(help.String(), line) {
			t.Errorf("--help lacks %q", line)
		}
		// The twin is read: an invalid value through it fails naming it,
		// a valid one (the default itself) does not.
		if f.DefValue != "" {
			if _, err := parseConfig(nil, func(k string) string { return map[string]string{env: f.DefValue}[k] }, io.Discard); err != nil {
				t.Errorf("%s=%s (the default): %v", env, f.DefValue, err)
			}
		}
	})
	if n < 30 {
		t.Errorf("only %d flags seen", n)
	}
}
