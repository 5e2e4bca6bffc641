package smtpd_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailsink/smtpd"
)

const envelopeScript = `
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: DATA
S: 250 2.1.0
S: 250 2.1.5
S: 354 ...`

func TestShutdownIdle(t *testing.T) {
	t.Parallel()
	srv, addr := newTestServer(t, testConfig(), &recorder{})
	c := dial(t, addr)
	runTranscript(t, c, "C: EHLO client.test\nS: 250 *")
	errc := make(chan error, 1)
	go func() { errc <- srv.Shutdown(context.Background()) }()
	runTranscript(t, c, "S: 421 4.3.2 mx.test Service shutting down\nS: EOF")
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown = %v, want nil", err)
	}
	if err := srv.Shutdown(context.Background()); !errors.Is(err, smtpd.ErrServerClosed) {
		t.Errorf("second Shutdown = %v, want ErrServerClosed", err)
	}
	if err := srv.Close(); !errors.Is(err, smtpd.ErrServerClosed) {
		t.Errorf("Close after Shutdown = %v, want ErrServerClosed", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
}

// TestShutdownInFlight: a DATA transfer and a Deliver in progress finish
// with their normal reply, then get 421 4.3.2; delivery contexts stay alive.
func TestShutdownInFlight(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	var ctxErr atomic.Value
	be := &recorder{}
	backend := smtpd.BackendFunc(func(ctx context.Context, env *smtpd.Envelope, r io.Reader) error {
		if err := be.Deliver(ctx, env, r); err != nil {
			return err
		}
		if env.From == "slow@x.test" {
			close(started)
			<-release
			ctxErr.Store(fmt.Sprint(ctx.Err()))
		}
		return nil
	})
	srv, addr := newTestServer(t, testConfig(), backend)

	transfer := dial(t, addr) // mid-DATA when Shutdown starts
	runTranscript(t, transfer, envelopeScript+"\nC: Subject: part one")
	deliver := dial(t, addr) // inside Deliver when Shutdown starts
	runTranscript(t, deliver, strings.Replace(envelopeScript, "a@x.test", "slow@x.test", 1)+"\nC: .")
	<-started
	idle := dial(t, addr)
	runTranscript(t, idle, "C: NOOP\nS: 250 2.0.0")

	errc := make(chan error, 1)
	go func() { errc <- srv.Shutdown(context.Background()) }()
	runTranscript(t, idle, "S: 421 4.3.2\nS: EOF") // Shutdown has begun

	runTranscript(t, transfer, "C: part two\nC: .\nS: 250 2.0.0 Ok: queued as\nS: 421 4.3.2\nS: EOF")
	close(release)
	runTranscript(t, deliver, "S: 250 2.0.0 Ok: queued as\nS: 421 4.3.2\nS: EOF")
	if err := <-errc; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if got := ctxErr.Load(); got != "<nil>" {
		t.Errorf("delivery ctx.Err() during Shutdown = %v, want <nil>", got)
	}
	if got := len(be.messages()); got != 2 {
		t.Errorf("messages = %d, want 2", got)
	}
}

// TestShutdownContextExpiry: when ctx ends first everything is closed,
// delivery contexts are cancelled and Shutdown returns ctx.Err().
func TestShutdownContextExpiry(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	cancelled := make(chan struct{})
	backend := smtpd.BackendFunc(func(ctx context.Context, env *smtpd.Envelope, r io.Reader) error {
		if _, err := io.ReadAll(r); err != nil {
			return err
		}
		close(started)
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	})
	srv, addr := newTestServer(t, testConfig(), backend)
	c := dial(t, addr)
	runTranscript(t, c, envelopeScript+"\nC: .")
	<-started
	idle := dial(t, addr)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Shutdown(ctx) }()
	runTranscript(t, idle, "S: 421 4.3.2\nS: EOF")
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	<-cancelled
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := c.tp.ReadLine(); err == nil && !strings.HasPrefix(line, "4") {
		t.Errorf("after forced close got %q", line)
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	t.Run("command", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig()
		cfg.CommandTimeout = 100 * time.Millisecond
		_, addr := newTestServer(t, cfg, &recorder{})
		runTranscript(t, dial(t, addr), "S: 421 4.4.2 mx.test Idle timeout\nS: EOF")
	})
	t.Run("data", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig()
		cfg.DataTimeout = 100 * time.Millisecond
		be := &recorder{}
		srv, addr := newTestServer(t, cfg, be)
		runTranscript(t, dial(t, addr), envelopeScript+"\nC: Subject: never finished\nS: 421 4.4.2\nS: EOF")
		srv.Close() // waits for the session, so the abort is recorded
		if len(be.messages()) != 0 || be.aborted != 1 {
			t.Errorf("messages, aborted = %d, %d; want 0, 1", len(be.messages()), be.aborted)
		}
	})
	t.Run("bdat", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig()
		cfg.DataTimeout = 100 * time.Millisecond
		_, addr := newTestServer(t, cfg, &recorder{})
		runTranscript(t, dial(t, addr), "C: EHLO c.test\nS: 250 *\nC: MAIL FROM:<a@x.test>\nC: RCPT TO:<b@y.test>\nC: BDAT 100\nR: \"short\"\nS: 250 2.1.0\nS: 250 2.1.5\nS: 421 4.4.2\nS: EOF")
	})
}

func TestMaxConnections(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxConnections = 1
	_, addr := newTestServer(t, cfg, &recorder{})
	first := dial(t, addr)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	second := &client{nc: nc, tp: newTP(nc)}
	runTranscript(t, second, "S: 421 4.7.0 mx.test Too many connections\nS: EOF")
	runTranscript(t, first, "C: NOOP\nS: 250 2.0.0")
}

func TestBackendReplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		err     error
		reply   string
		notText string
	}{
		{"smtp error", &smtpd.Error{Code: 550, Enhanced: "5.7.1", Message: "Rejected as spam"}, "550 5.7.1 Rejected as spam", ""},
		{"derived enhanced code", &smtpd.Error{Code: 452, Message: "Try later"}, "452 4.0.0 Try later", ""},
		{"wrapped smtp error", fmt.Errorf("check: %w", &smtpd.Error{Code: 554, Enhanced: "5.6.0", Message: "Bad\r\ncontent"}), "554 5.6.0 Bad  content", ""},
		{"other error", errors.New("database is locked: secret detail"), "451 4.3.0", "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			be := &recorder{verdict: func(*smtpd.Envelope, []byte) error { return tt.err }}
			_, addr := newTestServer(t, testConfig(), be)
			c := dial(t, addr)
			runTranscript(t, c, envelopeScript+"\nC: .")
			if got := c.readLine(t); !strings.HasPrefix(got, tt.reply) || tt.notText != "" && strings.Contains(got, tt.notText) {
				t.Errorf("reply = %q, want %q", got, tt.reply)
			}
			runTranscript(t, c, "C: NOOP\nS: 250 2.0.0") // the session goes on
		})
	}

	t.Run("rejects without reading", func(t *testing.T) {
		t.Parallel()
		backend := smtpd.BackendFunc(func(ctx context.Context, env *smtpd.Envelope, r io.Reader) error {
			return &smtpd.Error{Code: 554, Enhanced: "5.7.1", Message: "No thanks"}
		})
		_, addr := newTestServer(t, testConfig(), backend)
		c := dial(t, addr)
		runTranscript(t, c, envelopeScript+"\nR: \""+strings.Repeat("0123456789\\r\\n", 500)+"\"\nC: .\nS: 554 5.7.1 No thanks\nC: NOOP\nS: 250 2.0.0")
	})

	t.Run("panic", func(t *testing.T) {
		t.Parallel()
		be := &recorder{verdict: func(*smtpd.Envelope, []byte) error { panic("backend bug") }}
		_, addr := newTestServer(t, testConfig(), be)
		runTranscript(t, dial(t, addr), envelopeScript+"\nC: .\nS: 421 4.3.0\nS: EOF")
		runTranscript(t, dial(t, addr), "C: NOOP\nS: 250 2.0.0") // the server survived
	})
}

// TestMisbehavingClients: garbage, NULs, abrupt disconnects and a client
// that never reads affect only their own connection.
func TestMisbehavingClients(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.CommandTimeout = 2 * time.Second
	be := &recorder{}
	srv, addr := newTestServer(t, cfg, be)

	// Disconnect mid-DATA: nothing is delivered.
	c := dial(t, addr)
	runTranscript(t, c, envelopeScript+"\nC: Subject: cut off\nC: half a message")
	c.nc.Close()

	// Garbage with NULs, then gone.
	g := dial(t, addr)
	g.send(t, "\x00\x01\x02\xff\xfe\r\n\x00\x00\x00EHLO\x00x\r\nMAIL FROM:<\x00>\r\n")
	g.nc.Close()

	// A client that never reads: its replies pile up until the write
	// deadline; other sessions are unaffected.
	flood, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer flood.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := []byte(strings.Repeat("NOOP\r\n", 10000))
		for i := 0; i < 200; i++ {
			flood.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := flood.Write(buf); err != nil {
				return
			}
		}
	}()

	ok := dial(t, addr)
	runTranscript(t, ok, envelopeScript+"\nC: .\nS: 250 2.0.0\nC: QUIT\nS: 221 2.0.0")
	<-done
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(be.messages()); n != 1 || be.aborted != 1 {
		t.Errorf("messages, aborted = %d, %d; want 1, 1", n, be.aborted)
	}
}
