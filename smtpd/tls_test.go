package smtpd_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"mailsink/smtpd"
)

func tlsServer(t *testing.T, be *recorder) (string, tls.Certificate) {
	t.Helper()
	cert := testCert(t)
	cfg := testConfig()
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	_, addr := newTestServer(t, cfg, be)
	return addr, cert
}

// TestStartTLS does a real handshake and checks that plaintext pipelined
// after STARTTLS is discarded (the command-injection attack).
func TestStartTLS(t *testing.T) {
	t.Parallel()
	be := &recorder{}
	addr, cert := tlsServer(t, be)
	c := dial(t, addr)
	runTranscript(t, c, `
C: STARTTLS
S: 503 5.5.1
C: EHLO client.test
S: 250-mx.test Hello client.test
S: 250-PIPELINING
S: 250-SIZE 10000
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-CHUNKING
S: 250-BINARYMIME
S: 250-DSN
S: 250-STARTTLS
S: 250-AUTH PLAIN LOGIN CRAM-MD5
S: 250 HELP
C: STARTTLS now
S: 501 5.5.4
C: AUTH PLAIN `+b64("\x00u\x00p")+`
S: 235 2.7.0
C: STARTTLS
C: RSET
C: EHLO evil.test
C: MAIL FROM:<evil@x.test>
S: 220 2.0.0 Ready to start TLS`)
	if n := c.tp.R.Buffered(); n != 0 {
		t.Fatalf("%d unexpected octets after 220", n)
	}
	tc := tls.Client(c.nc, tlsClientConfig(cert))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	s := &client{nc: tc, tp: textproto.NewConn(tc)}
	// Back at the greeting state: MAIL needs a new EHLO, and the first
	// reply is to this MAIL, not to anything injected in plaintext.
	runTranscript(t, s, `
C: MAIL FROM:<a@x.test>
S: 503 5.5.1
C: EHLO client.test
S: 250-mx.test Hello client.test
S: 250-PIPELINING
S: 250-SIZE 10000
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-CHUNKING
S: 250-BINARYMIME
S: 250-DSN
S: 250-AUTH PLAIN LOGIN CRAM-MD5
S: 250 HELP
C: STARTTLS
S: 503 5.5.1
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: DATA
S: 250 2.1.0
S: 250 2.1.5
S: 354 ...
C: Subject: tls
C:
C: hi
C: .
S: 250 2.0.0
C: QUIT
S: 221 2.0.0`)
	msgs := be.messages()
	if len(msgs) != 1 {
		t.Fatalf("messages = %d, want 1", len(msgs))
	}
	env := msgs[0].env
	if env.TLS == nil || env.TLS.Version != "TLS 1.3" || env.TLS.CipherSuite == "" || env.TLS.ServerName != "localhost" {
		t.Errorf("TLS = %+v, want TLS 1.3 with a cipher and SNI localhost", env.TLS)
	}
	if env.AuthUser != "" || env.Protocol != "ESMTPS" {
		t.Errorf("AuthUser, Protocol = %q, %q; want \"\", ESMTPS (AUTH forgotten after STARTTLS)", env.AuthUser, env.Protocol)
	}
	if env.From == "evil@x.test" || env.Helo != "client.test" {
		t.Errorf("From, Helo = %q, %q: injected commands ran", env.From, env.Helo)
	}
	var sawDiscard, sawTLS bool
	for _, l := range env.Transcript {
		sawDiscard = sawDiscard || l.Dir == "*" && strings.Contains(l.Text, "discarded") && strings.Contains(l.Text, "after STARTTLS")
		sawTLS = sawTLS || l.Dir == "*" && strings.Contains(l.Text, "TLS 1.3")
		if strings.Contains(l.Text, "evil") {
			t.Errorf("transcript has injected line %q", l.Text)
		}
	}
	if !sawDiscard || !sawTLS {
		t.Errorf("transcript lacks the discard (%v) or handshake (%v) event: %+v", sawDiscard, sawTLS, env.Transcript)
	}
	if !bytes.Contains(msgs[0].data, []byte("with ESMTPS (TLS1.3 TLS_")) {
		t.Errorf("Received header lacks TLS comment: %q", msgs[0].data)
	}
}

func TestStartTLSHandshakeFailure(t *testing.T) {
	t.Parallel()
	be := &recorder{}
	addr, _ := tlsServer(t, be)
	c := dial(t, addr)
	runTranscript(t, c, `
C: EHLO client.test
S: 250 *
C: STARTTLS
S: 220 2.0.0
C: this is not a ClientHello
S: EOF`)
	// The server is unaffected.
	runTranscript(t, dial(t, addr), "C: NOOP\nS: 250 2.0.0")
}

func TestServeTLS(t *testing.T) {
	t.Parallel()
	cert := testCert(t)
	cfg := testConfig()
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	be := &recorder{}
	srv := smtpd.New(cfg, be, discardLogger())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln) }()
	tc, err := tls.Dial("tcp", ln.Addr().String(), tlsClientConfig(cert))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	c := &client{nc: tc, tp: textproto.NewConn(tc)}
	if got := c.readLine(t); got != "220 mx.test ESMTP mailsink" {
		t.Fatalf("greeting = %q", got)
	}
	runTranscript(t, c, `
C: EHLO client.test
S: 250-mx.test Hello client.test
S: 250-PIPELINING
S: 250-SIZE 10000
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-CHUNKING
S: 250-BINARYMIME
S: 250-DSN
S: 250-AUTH PLAIN LOGIN CRAM-MD5
S: 250 HELP
C: STARTTLS
S: 503 5.5.1
C: AUTH PLAIN `+b64("\x00u\x00p")+`
S: 235 2.7.0
C: MAIL FROM:<a@x.test> SMTPUTF8
C: RCPT TO:<b@y.test>
C: DATA
S: 250 2.1.0
S: 250 2.1.5
S: 354 ...
C: .
S: 250 2.0.0
C: QUIT
S: 221 2.0.0`)
	if err := srv.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := <-errc; !errors.Is(err, smtpd.ErrServerClosed) {
		t.Errorf("ServeTLS = %v, want ErrServerClosed", err)
	}
	msgs := be.messages()
	if len(msgs) != 1 || msgs[0].env.Protocol != "UTF8SMTPSA" || msgs[0].env.TLS == nil {
		t.Fatalf("messages = %+v, want one UTF8SMTPSA message over TLS", msgs)
	}

	// Without Config.TLS, ServeTLS refuses to start.
	plain := smtpd.New(testConfig(), be, discardLogger())
	if err := plain.ServeTLS(ln); err == nil {
		t.Error("ServeTLS without Config.TLS succeeded")
	}
}

// TestSendMail uses net/smtp as a real client: SendMail with PLAIN auth
// in the clear (net/smtp allows it towards 127.0.0.1), then a Client
// doing STARTTLS with a config that trusts the self-signed cert. net/smtp
// sends SMTPUTF8 when offered, hence the UTF8SMTP* protocol names.
func TestSendMail(t *testing.T) {
	t.Parallel()
	msg := "From: a@x.test\r\nTo: b@y.test\r\nSubject: net/smtp\r\n\r\n.leading dot\r\nbody\r\n"

	t.Run("SendMail with AUTH", func(t *testing.T) {
		t.Parallel()
		be := &recorder{}
		cfg := testConfig()
		cfg.Auth, cfg.Users = smtpd.AuthUsers, map[string]string{"alice": "secret"}
		_, addr := newTestServer(t, cfg, be)
		auth := smtp.PlainAuth("", "alice", "secret", "127.0.0.1")
		if err := smtp.SendMail(addr, auth, "a@x.test", []string{"b@y.test", "c@y.test"}, []byte(msg)); err != nil {
			t.Fatalf("SendMail: %v", err)
		}
		bad := smtp.PlainAuth("", "alice", "wrong", "127.0.0.1")
		if err := smtp.SendMail(addr, bad, "a@x.test", []string{"b@y.test"}, []byte(msg)); err == nil || !strings.Contains(err.Error(), "535") {
			t.Errorf("SendMail with a wrong password = %v, want 535", err)
		}
		msgs := be.messages()
		if len(msgs) != 1 {
			t.Fatalf("messages = %d, want 1", len(msgs))
		}
		if got := string(body(t, msgs[0].data)); got != msg {
			t.Errorf("body = %q, want %q", got, msg)
		}
		if env := msgs[0].env; env.AuthUser != "alice" || len(env.Rcpts) != 2 || env.Protocol != "UTF8SMTPA" || !env.SMTPUTF8 {
			t.Errorf("envelope = %+v", env)
		}
	})

	t.Run("Client with STARTTLS and AUTH", func(t *testing.T) {
		t.Parallel()
		be := &recorder{}
		addr, cert := tlsServer(t, be)
		c, err := smtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.StartTLS(tlsClientConfig(cert)); err != nil {
			t.Fatalf("StartTLS: %v", err)
		}
		if err := c.Auth(smtp.PlainAuth("", "alice", "x", "127.0.0.1")); err != nil {
			t.Fatalf("Auth: %v", err)
		}
		if err := c.Mail("a@x.test"); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("b@y.test"); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("end of data: %v", err)
		}
		if err := c.Quit(); err != nil {
			t.Fatalf("Quit: %v", err)
		}
		msgs := be.messages()
		if len(msgs) != 1 {
			t.Fatalf("messages = %d, want 1", len(msgs))
		}
		if got := string(body(t, msgs[0].data)); got != msg {
			t.Errorf("body = %q, want %q", got, msg)
		}
		if env := msgs[0].env; env.Protocol != "UTF8SMTPSA" || env.TLS == nil || env.AuthUser != "alice" {
			t.Errorf("envelope = %+v", env)
		}
	})
}

func TestSelfSignedCert(t *testing.T) {
	t.Parallel()
	cert, err := smtpd.SelfSignedCert("mail.example.test")
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	for _, name := range []string{"mail.example.test", "localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("VerifyHostname(%q): %v", name, err)
		}
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d < 365*24*time.Hour || d > 367*24*time.Hour {
		t.Errorf("validity = %v, want about a year", d)
	}
	if leaf.PublicKeyAlgorithm.String() != "ECDSA" {
		t.Errorf("key = %v, want ECDSA", leaf.PublicKeyAlgorithm)
	}
}
