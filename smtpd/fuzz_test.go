package smtpd_test

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzSession feeds arbitrary bytes as a whole client session to a real
// server over loopback: the server must never panic or hang, and every
// delivered message must come from a well-formed transaction.
func FuzzSession(f *testing.F) {
	seeds := []string{
		"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n",
		"HELO c.test\r\nMAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\nDATA\r\n.\r\n",
		"EHLO c.test\r\nMAIL FROM:<a@x.test> BODY=BINARYMIME\r\nRCPT TO:<b@y.test>\r\nBDAT 5\r\nab\r\n.BDAT 0 LAST\r\n",
		"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nx\n.\nMAIL FROM:<e@x.test>\r\n.\r\n",
		"EHLO c.test\r\nAUTH PLAIN AHUAcA==\r\nAUTH LOGIN\r\n*\r\nSTARTTLS\r\nRSET\r\n",
		"EHLO c.test\r\nMAIL FROM:<ü@x.test> SMTPUTF8\r\nRCPT TO:<用户@例子.test> NOTIFY=NEVER\r\nBDAT 3 LAST\r\nabc",
		"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nunterminated",
		"\x00\xff\r\nBDAT 99999999999999999999\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	cfg := testConfig()
	cfg.CommandTimeout = 2 * time.Second
	cfg.DataTimeout = 2 * time.Second
	cfg.MaxMessageSize = 2000
	be := &recorder{}
	_, addr := newTestServer(f, cfg, be)

	f.Fuzz(func(t *testing.T, in []byte) {
		seen := len(be.messages())
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		// Write and read concurrently so a large input cannot deadlock
		// against unread replies.
		werr := make(chan error, 1)
		go func() {
			_, err := nc.Write(in)
			if err == nil {
				err = nc.(*net.TCPConn).CloseWrite()
			}
			werr <- err
		}()
		out, err := io.ReadAll(nc)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("server hung; got %q", out)
		}
		<-werr // the server may close first; write errors are fine
		if !bytes.HasPrefix(out, []byte("220 mx.test ESMTP mailsink\r\n")) {
			t.Fatalf("no greeting: %q", out)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n") {
			if len(line) < 4 || line[0] < '2' || line[0] > '5' || (line[3] != ' ' && line[3] != '-') {
				t.Fatalf("malformed reply line %q", line)
			}
		}
		for _, m := range be.messages()[seen:] {
			env := m.env
			if len(env.Rcpts) == 0 || env.ID == "" || env.Helo == "" {
				t.Fatalf("delivered an ill-formed transaction: %+v", env)
			}
			if !bytes.HasPrefix(m.data, []byte("Return-Path: <"+env.From+">\r\nReceived: from "+env.Helo+" ")) {
				t.Fatalf("bad trace headers: %q", m.data)
			}
			if n := len(env.Transcript); n == 0 || !strings.HasPrefix(env.Transcript[n-1].Text, "[message data: ") {
				t.Fatalf("transcript does not end with the data line: %+v", env.Transcript)
			}
			if up := bytes.ToUpper(in); !bytes.Contains(up, []byte("DATA")) && !bytes.Contains(up, []byte("BDAT")) {
				t.Fatalf("message delivered without DATA/BDAT")
			}
		}
	})
}
