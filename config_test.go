package main

import (
	"io"
	"os"
	"path/filepath"
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
		{name: "bad env names variable", env: map[string]string{"MAILSINK_MAX_RECIPIENTS": "many"}, wantErr: "MAILSINK_MAX_RECIPIENTS"},
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
