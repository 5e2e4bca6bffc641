package smtpd_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mailsink/smtpd"
)

func TestTranscripts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        func(*smtpd.Config) // nil: testConfig()
		transcript string
		wantMsgs   int
	}{
		{"ehlo advertises extensions", nil, `
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
C: QUIT
S: 221 2.0.0 mx.test closing connection
S: EOF`, 0},
		{"ehlo without size limit or auth", func(c *smtpd.Config) { c.MaxMessageSize = 0; c.Auth = smtpd.AuthNone }, `
C: ehlo client.test
S: 250-mx.test Hello client.test
S: 250-PIPELINING
S: 250-SIZE
S: 250-8BITMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-CHUNKING
S: 250-BINARYMIME
S: 250-DSN
S: 250 HELP
C: AUTH PLAIN AGEAYg==
S: 502 5.5.1
C: MAIL FROM:<a@x.test> AUTH=<>
S: 555 5.5.4`, 0},
		{"helo: no extensions, parameters refused", nil, `
C: HELO client.test
S: 250 mx.test Hello client.test
C: MAIL FROM:<a@x.test> SIZE=10
S: 555 5.5.4
C: MAIL FROM:<a@x.test> SMTPUTF8
S: 555 5.5.4
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test> NOTIFY=NEVER
S: 555 5.5.4
C: RCPT TO:<b@y.test>
S: 250 2.1.5
C: AUTH PLAIN
S: 503 5.5.1
C: BDAT 3 LAST
R: "abc"
S: 503 5.5.1
C: DATA
S: 354 ...
C: Subject: hi
C:
C: hello
C: .
S: 250 2.0.0 Ok: queued as
C: QUIT
S: 221 2.0.0`, 1},
		{"pipelined envelope", nil, `
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: RCPT TO:<c@y.test>
C: DATA
S: 250 2.1.0 Sender <a@x.test> OK
S: 250 2.1.5 Recipient <b@y.test> OK
S: 250 2.1.5 Recipient <c@y.test> OK
S: 354 Start mail input
C: Subject: pipelined
C:
C: ..leading dot
C: .
C: MAIL FROM:<>
C: RCPT TO:<d@y.test>
C: DATA
S: 250 2.0.0 Ok: queued as
S: 250 2.1.0
S: 250 2.1.5
S: 354 ...
C: .
C: QUIT
S: 250 2.0.0 Ok: queued as
S: 221 2.0.0
S: EOF`, 2},
		{"bad sequence", nil, `
C: MAIL FROM:<a@x.test>
S: 503 5.5.1
C: RCPT TO:<b@y.test>
S: 503 5.5.1
C: DATA
S: 503 5.5.1
C: STARTTLS
S: 502 5.5.1
C: AUTH PLAIN
S: 503 5.5.1
C: EHLO client.test
S: 250 *
C: RCPT TO:<b@y.test>
S: 503 5.5.1
C: DATA
S: 503 5.5.1
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: MAIL FROM:<a@x.test>
S: 503 5.5.1 Nested
C: AUTH PLAIN AGEAYg==
S: 503 5.5.1
C: DATA
S: 503 5.5.1
C: RSET
S: 250 2.0.0 Ok
C: RCPT TO:<b@y.test>
S: 503 5.5.1`, 0},
		{"every other verb", nil, `
C: FOO bar
S: 500 5.5.2 Command unrecognized
C: M@IL FROM:<a@x.test>
S: 500 5.5.2
C: TURN
S: 502 5.5.1
C: ETRN x.test
S: 502 5.5.1
C: SEND FROM:<a@x.test>
S: 502 5.5.1
C: SOML FROM:<a@x.test>
S: 502 5.5.1
C: SAML FROM:<a@x.test>
S: 502 5.5.1
C: noop
S: 250 2.0.0
C: NOOP with an argument
S: 250 2.0.0
C: HELP
S: 214-2.0.0 ...
S: 214 2.0.0 ...
C: HELP MAIL
S: 214-2.0.0 ...
S: 214 2.0.0 ...
C: VRFY
S: 501 5.5.4
C: VRFY bob
S: 252 2.5.0
C: EXPN
S: 501 5.5.4
C: EXPN staff
S: 252 2.5.0
C: HELO
S: 501 5.5.4
C: EHLO
S: 501 5.5.4
C: EHLO two words
S: 501 5.5.4
C: RSET now
S: 501 5.5.4
C: Ehlo client.test
S: 250 *
C: DATA now
S: 501 5.5.4
C: STARTTLS
S: 502 5.5.1
C: QUIT now
S: 501 5.5.4
C: quit
S: 221 2.0.0
S: EOF`, 0},
		{"paths", nil, `
C: EHLO client.test
S: 250 *
C: MAIL FROM:a@x.test
S: 501 5.5.4
C: MAIL FROM:<a@x.test
S: 501 5.5.4
C: MAIL TO:<a@x.test>
S: 501 5.5.4
C: MAIL FROM:<a@x.test>junk
S: 501 5.5.4
C: MAIL FROM:<a@>
S: 553 5.1.7
C: MAIL FROM:<a b@x.test>
S: 553 5.1.7
C: MAIL FROM:<ü@x.test>
S: 553 5.6.7
C: MAIL FROM:<` + strings.Repeat("a", 250) + `@x.test>
S: 501 5.5.4 Path too long
C: mail from: <a@x.test>
S: 250 2.1.0 Sender <a@x.test> OK
C: RCPT FROM:<b@y.test>
S: 501 5.5.4
C: RCPT TO:<>
S: 553 5.1.3
C: RCPT TO:<a@>
S: 553 5.1.3
C: RCPT TO:<@>
S: 553 5.1.3
C: RCPT TO:<a b@c>
S: 553 5.1.3
C: RCPT TO:<a@b..c>
S: 553 5.1.3
C: RCPT TO:<a@-b.c>
S: 553 5.1.3
C: RCPT TO:<a.@b.c>
S: 553 5.1.3
C: RCPT TO:<"unterminated@b.c>
S: 501 5.5.4
C: RCPT TO:<u@[300.1.1.1]>
S: 553 5.1.3
C: RCPT TO:<u@[IPv6:zz::1]>
S: 553 5.1.3
C: RCPT TO:<u@[IPv6:192.0.2.1]>
S: 553 5.1.3
C: RCPT TO:<u@[tag:content]>
S: 553 5.1.3
C: RCPT TO:<ü@x.test>
S: 553 5.6.7
C: RCPT TO:<Postmaster>
S: 250 2.1.5 Recipient <Postmaster> OK
C: rcpt to:<pOSTMASTER>
S: 250 2.1.5 Recipient <pOSTMASTER> OK
C: RCPT TO:<"john \"j\" smith"@x.test>
S: 250 2.1.5 Recipient <"john \"j\" smith"@x.test> OK
C: RSET
S: 250 2.0.0
C: MAIL FROM:<>
S: 250 2.1.0 Sender <> OK
C: RCPT TO:<u@[192.0.2.1]>
S: 250 2.1.5 Recipient <u@[192.0.2.1]> OK
C: RCPT TO:<u@[IPv6:2001:db8::1]>
S: 250 2.1.5 Recipient <u@[IPv6:2001:db8::1]> OK
C: RCPT TO:<@a.test,@b.test:user@c.test>
S: 250 2.1.5 Recipient <user@c.test> OK
C: RCPT TO:<d@y.test>
S: 452 4.5.3 Too many recipients
C: RSET
S: 250 2.0.0
C: MAIL FROM:<ü@bücher.test> SMTPUTF8
S: 250 2.1.0
C: RCPT TO:<用户@例子.test>
S: 250 2.1.5 Recipient <用户@例子.test> OK
C: RCPT TO:<@bad_route:user@c.test>
S: 553 5.1.3`, 0},
		{"mail and rcpt parameters", nil, `
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test> SIZE=20000
S: 552 5.3.4
C: MAIL FROM:<a@x.test> SIZE=abc
S: 501 5.5.4
C: MAIL FROM:<a@x.test> SIZE=
S: 501 5.5.4
C: MAIL FROM:<a@x.test> SIZE
S: 501 5.5.4
C: MAIL FROM:<a@x.test> SIZE=1 size=2
S: 501 5.5.4
C: MAIL FROM:<a@x.test> BODY=9BIT
S: 501 5.5.4
C: MAIL FROM:<a@x.test> SMTPUTF8=yes
S: 501 5.5.4
C: MAIL FROM:<a@x.test> RET=ALL
S: 501 5.5.4
C: MAIL FROM:<a@x.test> ENVID=a+zz
S: 501 5.5.4
C: MAIL FROM:<a@x.test> AUTH=a=b
S: 501 5.5.4
C: MAIL FROM:<a@x.test> FOO=bar
S: 555 5.5.4
C: MAIL FROM:<a@x.test> -X=1
S: 501 5.5.4
C: MAIL FROM:<a@x.test> size=100 body=8bitmime RET=HDRS ENVID=QQ+2B1 AUTH=<>
S: 250 2.1.0
C: RCPT TO:<b@y.test> NOTIFY=NEVER,SUCCESS
S: 501 5.5.4
C: RCPT TO:<b@y.test> NOTIFY=BOGUS
S: 501 5.5.4
C: RCPT TO:<b@y.test> NOTIFY=SUCCESS,SUCCESS
S: 501 5.5.4
C: RCPT TO:<b@y.test> ORCPT=bad
S: 501 5.5.4
C: RCPT TO:<b@y.test> XYZ=1
S: 555 5.5.4
C: RCPT TO:<b@y.test> NOTIFY=success,FAILURE,delay ORCPT=rfc822;b+40y.test
S: 250 2.1.5
C: RCPT TO:<c@y.test> NOTIFY=NEVER
S: 250 2.1.5
C: DATA
S: 354 ...
C: .
S: 250 2.0.0`, 1},
		{"data variants", nil, `
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test> BODY=BINARYMIME
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 250 2.1.5
C: DATA
S: 503 5.5.1
C: RSET
S: 250 2.0.0
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: DATA
S: 250 2.1.0
S: 250 2.1.5
S: 354 ...
C: .
S: 250 2.0.0 Ok: queued as
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: DATA
S: 250 2.1.0
S: 250 2.1.5
S: 354 ...
R: "` + strings.Repeat("x", 2000) + `\r\n` + strings.Repeat("y", 9000) + `\r\n.\r\n"
S: 552 5.3.4
C: NOOP
S: 250 2.0.0
C: RCPT TO:<b@y.test>
S: 503 5.5.1`, 1},
		{"bdat", nil, `
C: EHLO client.test
S: 250 *
C: BDAT 3
R: "abc"
S: 503 5.5.1
C: MAIL FROM:<a@x.test> BODY=BINARYMIME
C: BDAT 3
R: "abc"
C: RCPT TO:<b@y.test>
C: BDAT 5
R: "ab\r\n."
C: BDAT 9
R: "\r\n.\r\n\x00\n\r\x00"
C: DATA
C: RCPT TO:<c@y.test>
C: MAIL FROM:<a@x.test>
C: BDAT 0 LAST
S: 250 2.1.0
S: 503 5.5.1
S: 250 2.1.5
S: 250 2.0.0 5 octets received
S: 250 2.0.0 9 octets received
S: 503 5.5.1
S: 503 5.5.1
S: 503 5.5.1
S: 250 2.0.0 Ok: queued as
C: BDAT 2 LAST
R: "xy"
S: 503 5.5.1
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: BDAT 0 LAST
S: 250 2.1.0
S: 250 2.1.5
S: 250 2.0.0 Ok: queued as
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: BDAT 4 FOO
R: "abcd"
C: BDAT 4 LAST
R: "abcd"
S: 250 2.1.0
S: 250 2.1.5
S: 501 5.5.4
S: 250 2.0.0 Ok: queued as
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: BDAT 5
R: "abc\r\n"
C: RSET
C: BDAT 3 LAST
R: "abc"
S: 250 2.1.0
S: 250 2.1.5
S: 250 2.0.0 5 octets received
S: 250 2.0.0 Ok
S: 503 5.5.1
C: BDAT nonsense
S: 501 5.5.4
S: 421 4.5.0
S: EOF`, 3},
		{"bdat oversize then a working command", nil, `
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: BDAT 6000
R: "` + strings.Repeat("a", 6000) + `"
C: BDAT 6000 LAST
R: "` + strings.Repeat("b", 6000) + `"
C: NOOP
S: 250 2.1.0
S: 250 2.1.5
S: 250 2.0.0 6000 octets received
S: 552 5.3.4
S: 250 2.0.0
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: BDAT 20000 LAST
R: "` + strings.Repeat("c", 20000) + `"
S: 250 2.1.0
S: 250 2.1.5
S: 552 5.3.4
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: BDAT 10 LAST
R: "0123456789"
S: 250 2.1.0
S: 250 2.1.5
S: 250 2.0.0 Ok: queued as`, 1},
		{"line length", nil, `
C: NOOP ` + strings.Repeat("x", 507) + `
S: 250 2.0.0
C: NOOP ` + strings.Repeat("x", 4091) + `
S: 250 2.0.0
C: NOOP ` + strings.Repeat("x", 4092) + `
S: 500 5.5.2 Line too long
C: NOOP ` + strings.Repeat("x", 100000) + `
S: 500 5.5.2 Line too long
C: EHLO client.test
S: 250 *
R: "NOOP bare LF\n"
S: 250 2.0.0
C: QUIT
S: 221 2.0.0`, 0},
		{"too many errors", nil, strings.Repeat("C: XYZZY\nS: 500 5.5.2\n", 20) + `
S: 421 4.7.0
S: EOF`, 0},
		{"errors count only consecutively", nil, strings.Repeat("C: XYZZY\nS: 500 5.5.2\n", 19) + `
C: NOOP
S: 250 2.0.0
` + strings.Repeat("C: XYZZY\nS: 500 5.5.2\n", 19) + `
C: NOOP
S: 250 2.0.0`, 0},
		{"max recipients unlimited", func(c *smtpd.Config) { c.MaxRecipients = 0 }, `
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
` + strings.Repeat("C: RCPT TO:<b@y.test>\nS: 250 2.1.5\n", 10), 0},
		{"repeated ehlo resets the transaction", nil, `
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: EHLO again.test
S: 250 *
C: RCPT TO:<b@y.test>
S: 503 5.5.1
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: HELO other.test
S: 250 mx.test Hello other.test
C: RCPT TO:<b@y.test>
S: 503 5.5.1`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			be := &recorder{}
			_, addr := newTestServer(t, cfg, be)
			runTranscript(t, dial(t, addr), tt.transcript)
			if got := len(be.messages()); got != tt.wantMsgs {
				t.Errorf("messages = %d, want %d", got, tt.wantMsgs)
			}
		})
	}
}

// TestTranscriptFiles plays testdata/smtp/*.txt; the first line of each
// is "# messages: N".
func TestTranscriptFiles(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "smtp", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no transcripts in testdata/smtp")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(b), "\n")
			want, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(first, "# messages:")))
			if err != nil {
				t.Fatalf("first line %q: want \"# messages: N\"", first)
			}
			be := &recorder{}
			_, addr := newTestServer(t, testConfig(), be)
			runTranscript(t, dial(t, addr), string(b))
			if got := len(be.messages()); got != want {
				t.Errorf("messages = %d, want %d", got, want)
			}
		})
	}
}

// TestBDATBinary checks chunks arrive byte-exact, "\r\n.\r\n" included.
func TestBDATBinary(t *testing.T) {
	t.Parallel()
	be := &recorder{}
	_, addr := newTestServer(t, testConfig(), be)
	c := dial(t, addr)
	runTranscript(t, c, `
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test> BODY=BINARYMIME
C: RCPT TO:<b@y.test>
C: BDAT 5
R: "ab\r\n."
C: BDAT 9
R: "\r\n.\r\n\x00\n\r\x00"
C: BDAT 3 LAST
R: "\xff\r\r"
S: 250 2.1.0
S: 250 2.1.5
S: 250 2.0.0 5 octets received
S: 250 2.0.0 9 octets received
S: 250 2.0.0 Ok: queued as`)
	msgs := be.messages()
	if len(msgs) != 1 {
		t.Fatalf("messages = %d, want 1", len(msgs))
	}
	want := "ab\r\n.\r\n.\r\n\x00\n\r\x00\xff\r\r"
	if got := string(body(t, msgs[0].data)); got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	env := msgs[0].env
	if !env.Chunked || env.Body != "BINARYMIME" {
		t.Errorf("Chunked, Body = %v, %q; want true, BINARYMIME", env.Chunked, env.Body)
	}
}
