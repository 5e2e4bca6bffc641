package smtpd_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailsink/smtpd"
)

// message is one delivery captured by recorder.
type message struct {
	env  smtpd.Envelope
	data []byte // exactly what Deliver read
}

// recorder is the Backend fake: it records the Envelope and the exact
// bytes of every message it accepts.
type recorder struct {
	mu      sync.Mutex
	msgs    []message
	aborted int
	partial [][]byte // what Deliver read of each aborted message
	// verdict, if set, decides the result after the message is read.
	verdict func(env *smtpd.Envelope, data []byte) error
}

func (r *recorder) Deliver(ctx context.Context, env *smtpd.Envelope, rd io.Reader) error {
	data, err := io.ReadAll(rd)
	if err != nil {
		r.mu.Lock()
		r.aborted++
		r.partial = append(r.partial, data)
		r.mu.Unlock()
		return err
	}
	if r.verdict != nil {
		if err := r.verdict(env, data); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, message{env: *env, data: data})
	return nil
}

func (r *recorder) messages() []message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]message(nil), r.msgs...)
}

// abortedMessages returns what Deliver read of each aborted message.
func (r *recorder) abortedMessages() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.partial...)
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testConfig is the default configuration of the transcript tests.
func testConfig() smtpd.Config {
	return smtpd.Config{
		Hostname:       "mx.test",
		MaxMessageSize: 10000,
		MaxRecipients:  3,
		CommandTimeout: 10 * time.Second,
		DataTimeout:    10 * time.Second,
		LookupAddr: func(ctx context.Context, ip string) ([]string, error) {
			return nil, errors.New("no rdns in tests")
		},
	}
}

// newTestServer serves cfg on 127.0.0.1:0 and returns the server and its
// address; Cleanup closes it and checks Serve's result.
func newTestServer(tb testing.TB, cfg smtpd.Config, be smtpd.Backend) (*smtpd.Server, string) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := smtpd.New(cfg, be, discardLogger())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		if err := srv.Close(); err != nil && !errors.Is(err, smtpd.ErrServerClosed) {
			tb.Errorf("Close = %v", err)
		}
		if err := <-errc; !errors.Is(err, smtpd.ErrServerClosed) {
			tb.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return srv, ln.Addr().String()
}

// client is one test connection: the raw conn for writes and one
// textproto.Conn for all reads.
type client struct {
	nc net.Conn
	tp *textproto.Conn
}

// dial connects and reads the greeting.
func dial(tb testing.TB, addr string) *client {
	tb.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	c := &client{nc: nc, tp: textproto.NewConn(nc)}
	if got := c.readLine(tb); !strings.HasPrefix(got, "220 ") || !strings.HasSuffix(got, " ESMTP mailsink") {
		tb.Fatalf("greeting = %q", got)
	}
	return c
}

func (c *client) readLine(tb testing.TB) string {
	tb.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.tp.ReadLine()
	if err != nil {
		tb.Fatalf("read reply: %v", err)
	}
	return line
}

func (c *client) send(tb testing.TB, s string) {
	tb.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.nc, s); err != nil {
		tb.Fatalf("write: %v", err)
	}
}

// expectEOF checks the server closed the connection.
func (c *client) expectEOF(tb testing.TB) {
	tb.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.tp.ReadLine()
	if err == nil {
		tb.Fatalf("got %q, want connection closed", line)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		tb.Fatalf("connection still open: %v", err)
	}
}

var enhancedRe = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}( |$)`)

// matchReply reports whether got matches the expectation want:
// code and separator exactly, then want's text as a prefix of got's
// (a trailing "..." is ignored: "354 ..." accepts any text).
func matchReply(got, want string) bool {
	if len(got) < 4 || len(want) < 4 || got[:4] != want[:4] {
		return false
	}
	wantRest, gotRest := want[4:], got[4:]
	return strings.HasPrefix(gotRest, strings.TrimSuffix(wantRest, "..."))
}

// runTranscript plays a script: "C: line" is sent with CRLF, consecutive
// C:/R: lines go out in ONE write (the pipelining test); "R: <Go string>"
// sends raw bytes; "S: reply" reads one reply line and matches it;
// "S: 250 *" reads a whole multi-line 250 reply; "S: EOF" expects the
// server to have closed; "#" lines are comments.
func runTranscript(tb testing.TB, c *client, script string) {
	tb.Helper()
	var batch bytes.Buffer
	flush := func() {
		if batch.Len() > 0 {
			c.send(tb, batch.String())
			batch.Reset()
		}
	}
	for n, line := range strings.Split(script, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line == "C:" {
			line = "C: " // an empty line
		}
		if len(line) < 3 || line[1:3] != ": " {
			tb.Fatalf("script line %d: bad line %q", n+1, line)
		}
		body := line[3:]
		switch line[0] {
		case 'C':
			batch.WriteString(body + "\r\n")
		case 'R':
			raw, err := strconv.Unquote(body)
			if err != nil {
				tb.Fatalf("script line %d: %v", n+1, err)
			}
			batch.WriteString(raw)
		case 'S':
			flush()
			switch {
			case body == "EOF":
				c.expectEOF(tb)
			case strings.HasSuffix(body, " *"):
				code := body[:3]
				for {
					got := c.readLine(tb)
					if !strings.HasPrefix(got, code) {
						tb.Fatalf("script line %d: reply %q, want %s multi-line", n+1, got, code)
					}
					if len(got) < 4 || got[3] == ' ' {
						break
					}
				}
			default:
				if got := c.readLine(tb); !matchReply(got, body) {
					tb.Fatalf("script line %d: reply = %q, want %q", n+1, got, body)
				}
			}
		default:
			tb.Fatalf("script line %d: bad line %q", n+1, line)
		}
	}
	flush()
}

// tlsClientConfig trusts cert.
func tlsClientConfig(cert tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

func testCert(tb testing.TB) tls.Certificate {
	tb.Helper()
	cert, err := smtpd.SelfSignedCert("mx.test")
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

// body returns the message after the two trace header fields.
func body(tb testing.TB, data []byte) []byte {
	tb.Helper()
	if !bytes.HasPrefix(data, []byte("Return-Path: <")) {
		tb.Fatalf("message does not start with Return-Path: %q", data)
	}
	_, rest, ok := bytes.Cut(data, []byte("\r\nReceived: "))
	if !ok {
		tb.Fatalf("no Received header: %q", data)
	}
	// Received is folded: its end is the first CRLF not followed by a tab.
	for i := 0; i+1 < len(rest); i++ {
		if rest[i] == '\r' && rest[i+1] == '\n' && (i+2 >= len(rest) || rest[i+2] != '\t') {
			return rest[i+2:]
		}
	}
	tb.Fatalf("unterminated Received header: %q", data)
	return nil
}

func newTP(nc net.Conn) *textproto.Conn { return textproto.NewConn(nc) }
