package smtpd_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"mailsink/internal/syncbuf"
	"mailsink/smtpd"
)

// observed records every Observer call as a short string, in order.
type observed struct {
	mu     sync.Mutex
	events []string
}

func (o *observed) add(format string, args ...any) {
	o.mu.Lock()
	o.events = append(o.events, fmt.Sprintf(format, args...))
	o.mu.Unlock()
}

func (o *observed) SessionStarted()              { o.add("start") }
func (o *observed) SessionEnded()                { o.add("end") }
func (o *observed) TLS(implicit, ok bool)        { o.add("tls implicit=%v ok=%v", implicit, ok) }
func (o *observed) Auth(ok bool)                 { o.add("auth ok=%v", ok) }
func (o *observed) Reply(code int)               { o.add("%d", code) }
func (o *observed) Message(code int, size int64) { o.add("message %d %d", code, size) }

func (o *observed) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.events)
}

// TestObserver runs sessions and checks what the Observer was told, in
// order: sessions, replies, message outcomes with sizes, AUTH results.
func TestObserver(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 10100) // over testConfig's MaxMessageSize
	tests := []struct {
		name    string
		verdict func(*smtpd.Envelope, []byte) error
		script  string
		want    []string
	}{
		{"stored", nil, `
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 250 2.1.5
C: DATA
S: 354 Start
C: Subject: hi
C:
C: body
C: .
S: 250 2.0.0
C: QUIT
S: 221 2.0.0`, []string{"start", "220", "250", "250", "250", "354", "250", "message 250 21", "221", "end"}},
		{"backend rejects", func(*smtpd.Envelope, []byte) error {
			return &smtpd.Error{Code: 554, Enhanced: "5.7.1", Message: "No thanks"}
		}, `
C: HELO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 250 2.1.5
C: DATA
S: 354 Start
C: x
C: .
S: 554 5.7.1 No thanks
C: RCPT TO:<c@y.test>
S: 503 5.5.1`, []string{"start", "220", "250", "250", "250", "354", "554", "message 554 3", "503", "end"}},
		{"too big with DATA", nil, `
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 250 2.1.5
C: DATA
S: 354 Start
C: ` + big + `
C: .
S: 552 5.3.4`, []string{"start", "220", "250", "250", "250", "354", "552", "message 552 10102", "end"}},
		{"too big with BDAT", nil, `
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 250 2.1.5
C: BDAT 10100
R: "` + big + `"
S: 552 5.3.4`, []string{"start", "220", "250", "250", "250", "552", "message 552 0", "end"}},
		{"auth", nil, `
C: EHLO client.test
S: 250 *
C: AUTH PLAIN ` + b64("\x00\x00pw") + `
S: 535 5.7.8
C: AUTH PLAIN ` + b64("\x00u\x00pw") + `
S: 235 2.7.0`, []string{"start", "220", "250", "auth ok=false", "535", "auth ok=true", "235", "end"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obs := &observed{}
			cfg := testConfig()
			cfg.Observer = obs
			srv, addr := newTestServer(t, cfg, &recorder{verdict: tt.verdict})
			runTranscript(t, dial(t, addr), tt.script)
			if err := srv.Close(); err != nil { // waits for the session to end
				t.Fatal(err)
			}
			if got := obs.all(); !slices.Equal(got, tt.want) {
				t.Errorf("observed\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestSessionLogAndTranscript sends a message over STARTTLS with AUTH
// (net/smtp), then checks that the session id is in the Envelope, the
// transcript's first line and both Info log lines (message stored,
// session ended), that the Observer saw the handshake, and that neither
// the body nor the password reached the log.
func TestSessionLogAndTranscript(t *testing.T) {
	t.Parallel()
	cert := testCert(t)
	cfg := testConfig()
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	obs := &observed{}
	cfg.Observer = obs
	var logs syncbuf.Buffer
	be := &recorder{}
	srv := smtpd.New(cfg, be, slog.New(slog.NewTextHandler(&logs, nil))) // Info: Debug would log protocol lines
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	const marker = "BODY-MARKER-7f3a"
	c, err := smtp.Dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return c.Hello("client.test") },
		func() error { return c.StartTLS(tlsClientConfig(cert)) },
		func() error { return c.Auth(smtp.PlainAuth("", "alice", "s3cret-pw", "127.0.0.1")) },
		func() error { return c.Mail("a@x.test") },
		func() error { return c.Rcpt("b@y.test") },
		func() error {
			w, err := c.Data()
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "Subject: hi\r\n\r\n%s\r\n", marker)
			return w.Close()
		},
		c.Quit,
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, smtpd.ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}

	msgs := be.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	env := msgs[0].env
	if !regexp.MustCompile(`^[A-Z2-7]{16}$`).MatchString(env.Session) {
		t.Fatalf("Envelope.Session = %q, want 16 base32 characters", env.Session)
	}
	if first := env.Transcript[0]; first.Dir != "*" || !strings.HasPrefix(first.Text, "session "+env.Session+" from 127.0.0.1:") {
		t.Errorf("first transcript line = %+v, want the session id", first)
	}
	out := logs.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`msg="message stored" session=` + env.Session + ` remote=127\.0\.0\.1:\d+ id=` + env.ID + ` from=a@x\.test rcpts=1 size=\d+`),
		regexp.MustCompile(`msg="session ended" session=` + env.Session + ` remote=\S+ helo=client\.test duration=\S+ messages=1 rejected=0 replies=\d+ tls=true auth_user=alice`),
	} {
		if !want.MatchString(out) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{marker, "s3cret-pw", b64("\x00alice\x00s3cret-pw")} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	got := obs.all()
	for _, want := range []string{"tls implicit=false ok=true", "auth ok=true", "message 250"} {
		if !slices.ContainsFunc(got, func(e string) bool { return strings.HasPrefix(e, want) }) {
			t.Errorf("observer was not told %q: %q", want, got)
		}
	}
}
