package smtpd_test

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"mailsink/smtpd"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestAuth(t *testing.T) {
	t.Parallel()
	users := map[string]string{"alice": "secret"}
	plainOK := b64("\x00alice\x00secret")
	plainBad := b64("\x00alice\x00wrong")
	tests := []struct {
		name       string
		mode       smtpd.AuthMode
		transcript string
		wantUser   string // AuthUser of the delivered message; "-" = no message expected
	}{
		{"any: plain initial response", smtpd.AuthAny, `
C: AUTH PLAIN ` + plainBad + `
S: 235 2.7.0 Authentication successful
C: AUTH PLAIN ` + plainBad + `
S: 503 5.5.1`, "alice"},
		{"any: not required", smtpd.AuthAny, ``, ""},
		{"any: plain without initial response", smtpd.AuthAny, `
C: AUTH plain
S: 334 
C: ` + b64("bob\x00bob\x00x") + `
S: 235 2.7.0`, "bob"},
		{"any: plain empty initial response is malformed", smtpd.AuthAny, `
C: AUTH PLAIN =
S: 501 5.5.2
C: AUTH PLAIN ` + b64("no-nuls") + `
S: 501 5.5.2
C: AUTH PLAIN ` + b64("\x00\x00pw") + `
S: 535 5.7.8`, ""},
		{"any: login without initial response", smtpd.AuthAny, `
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: ` + b64("carol") + `
S: 334 UGFzc3dvcmQ6
C: ` + b64("pw") + `
S: 235 2.7.0`, "carol"},
		{"any: login with initial response", smtpd.AuthAny, `
C: AUTH LOGIN ` + b64("dave") + `
S: 334 UGFzc3dvcmQ6
C: ` + b64("pw") + `
S: 235 2.7.0`, "dave"},
		{"cancel, bad base64, unknown mechanism", smtpd.AuthAny, `
C: AUTH LOGIN
S: 334 VXNlcm5hbWU6
C: *
S: 501 5.7.0 Authentication cancelled
C: AUTH PLAIN !!!
S: 501 5.5.2
C: AUTH PLAIN
S: 334 
C: not base64
S: 501 5.5.2
C: AUTH XOAUTH2 abc
S: 504 5.5.4
C: AUTH
S: 501 5.5.4
C: AUTH CRAM-MD5 abc
S: 501 5.5.4
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: AUTH PLAIN ` + plainOK + `
S: 503 5.5.1
C: RSET
S: 250 2.0.0`, ""},
		{"none", smtpd.AuthNone, `
C: AUTH PLAIN ` + plainOK + `
S: 502 5.5.1`, ""},
		{"require: any credentials", smtpd.AuthRequire, `
C: MAIL FROM:<a@x.test>
S: 530 5.7.0 Authentication required
C: AUTH PLAIN ` + plainBad + `
S: 235 2.7.0`, "alice"},
		{"require: unauthenticated gets no message in", smtpd.AuthRequire, `
C: MAIL FROM:<a@x.test>
S: 530 5.7.0
C: RCPT TO:<b@y.test>
S: 503 5.5.1`, "-"},
		{"users: wrong then right", smtpd.AuthUsers, `
C: MAIL FROM:<a@x.test>
S: 530 5.7.0
C: AUTH PLAIN ` + plainBad + `
S: 535 5.7.8 Authentication credentials invalid
C: AUTH PLAIN ` + b64("\x00mallory\x00secret") + `
S: 535 5.7.8
C: AUTH PLAIN ` + b64("bob\x00alice\x00secret") + `
S: 535 5.7.8
C: AUTH LOGIN ` + b64("alice") + `
S: 334 UGFzc3dvcmQ6
C: ` + b64("wrong") + `
S: 535 5.7.8
C: AUTH PLAIN ` + b64("alice\x00alice\x00secret") + `
S: 235 2.7.0`, "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Auth, cfg.Users = tt.mode, users
			be := &recorder{}
			_, addr := newTestServer(t, cfg, be)
			c := dial(t, addr)
			runTranscript(t, c, "C: EHLO client.test\nS: 250 *\n"+tt.transcript)
			if tt.wantUser == "-" {
				return
			}
			authParam := " AUTH=<>" // accepted (and ignored) when AUTH is advertised
			if tt.mode == smtpd.AuthNone {
				authParam = ""
			}
			runTranscript(t, c, `
C: MAIL FROM:<a@x.test>`+authParam+`
C: RCPT TO:<b@y.test>
C: DATA
S: 250 2.1.0
S: 250 2.1.5
S: 354 ...
C: .
S: 250 2.0.0`)
			msgs := be.messages()
			if len(msgs) != 1 {
				t.Fatalf("messages = %d, want 1", len(msgs))
			}
			env := msgs[0].env
			if env.AuthUser != tt.wantUser {
				t.Errorf("AuthUser = %q, want %q", env.AuthUser, tt.wantUser)
			}
			wantProto := "ESMTP"
			if tt.wantUser != "" {
				wantProto = "ESMTPA"
			}
			if env.Protocol != wantProto {
				t.Errorf("Protocol = %q, want %q", env.Protocol, wantProto)
			}
			// Secrets never reach the transcript.
			for _, l := range env.Transcript {
				for _, secret := range []string{"secret", plainOK, plainBad, b64("pw"), b64("wrong")} {
					if strings.Contains(l.Text, secret) {
						t.Errorf("transcript line %q contains a credential", l.Text)
					}
				}
			}
		})
	}
}

func TestAuthCRAMMD5(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mode   smtpd.AuthMode
		user   string
		key    string
		reply  string
		authed bool
	}{
		{"users: right digest", smtpd.AuthUsers, "alice", "secret", "235 2.7.0", true},
		{"users: wrong digest", smtpd.AuthUsers, "alice", "nope", "535 5.7.8", false},
		{"users: unknown user", smtpd.AuthUsers, "eve", "secret", "535 5.7.8", false},
		{"any: any digest", smtpd.AuthAny, "zed", "whatever", "235 2.7.0", true},
		{"require: any digest", smtpd.AuthRequire, "zed", "whatever", "235 2.7.0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Auth, cfg.Users = tt.mode, map[string]string{"alice": "secret"}
			_, addr := newTestServer(t, cfg, &recorder{})
			c := dial(t, addr)
			runTranscript(t, c, "C: EHLO client.test\nS: 250 *\nC: AUTH CRAM-MD5")
			line := c.readLine(t)
			if !strings.HasPrefix(line, "334 ") {
				t.Fatalf("reply = %q, want 334 challenge", line)
			}
			challenge, err := base64.StdEncoding.DecodeString(line[4:])
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(challenge), "<") || !strings.HasSuffix(string(challenge), "@mx.test>") {
				t.Errorf("challenge = %q, want <…@mx.test>", challenge)
			}
			m := hmac.New(md5.New, []byte(tt.key))
			m.Write(challenge)
			c.send(t, b64(tt.user+" "+hex.EncodeToString(m.Sum(nil)))+"\r\n")
			if got := c.readLine(t); !strings.HasPrefix(got, tt.reply) {
				t.Fatalf("reply = %q, want %q", got, tt.reply)
			}
			want := "530 5.7.0"
			if tt.authed || tt.mode == smtpd.AuthAny {
				want = "250 2.1.0"
			}
			runTranscript(t, c, "C: MAIL FROM:<a@x.test>\nS: "+want)
			if !tt.authed {
				runTranscript(t, c, "C: AUTH CRAM-MD5\nS: 334 ...\nC: "+b64("malformed")+"\nS: 501 5.5.2")
			}
		})
	}
}

// lockedBuffer is an io.Writer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNoSecretsInLogs runs AUTH exchanges with a Debug logger and checks
// that passwords appear in no form, while the elision marker does.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	cfg := testConfig()
	cfg.Auth, cfg.Users = smtpd.AuthUsers, map[string]string{"alice": "hunter2"}
	srv := smtpd.New(cfg, &recorder{}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	c := dial(t, ln.Addr().String())
	runTranscript(t, c, `
C: EHLO client.test
S: 250 *
C: AUTH LOGIN `+b64("alice")+`
S: 334 UGFzc3dvcmQ6
C: `+b64("hunter3")+`
S: 535 5.7.8
C: AUTH PLAIN
S: 334 
C: `+b64("\x00alice\x00hunter2")+`
S: 235 2.7.0
C: QUIT
S: 221 2.0.0`)
	srv.Close()
	out := logs.String()
	for _, secret := range []string{"hunter", b64("hunter3"), b64("\x00alice\x00hunter2")} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "[credentials elided]") || !strings.Contains(out, "AUTH PLAIN") {
		t.Errorf("log lacks the elided AUTH exchange:\n%s", out)
	}
}
