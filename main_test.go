package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// server is a mailsink started in-process by run().
type server struct {
	smtp, http, smtps string
	db                string
	root              string // --webroot the test gave; "" = "/"
	cancel            context.CancelFunc
	done              chan error
}

// startServer runs mailsink on loopback ports with a fresh database (or the
// one named by a -db argument) and stops it when the test ends.
func startServer(tb testing.TB, env map[string]string, args ...string) *server {
	tb.Helper()
	return startServerLogging(tb, env, io.Discard, args...)
}

// startServerLogging is startServer with the log written to stderr
// (-log-level=warn unless args say otherwise).
func startServerLogging(tb testing.TB, env map[string]string, stderr io.Writer, args ...string) *server {
	tb.Helper()
	s := &server{db: filepath.Join(tb.TempDir(), "mailsink.db"), done: make(chan error, 1)}
	base := []string{"-smtp-addr=127.0.0.1:0", "-http-addr=127.0.0.1:0", "-db=" + s.db, "-hostname=mx.test", "-log-level=warn"}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	ready := make(chan struct{})
	getenv := func(k string) string { return env[k] }
	go func() {
		s.done <- run(ctx, append(base, args...), getenv, stderr, func(smtpAddr, httpAddr, smtpsAddr string) {
			s.smtp, s.http, s.smtps = smtpAddr, httpAddr, smtpsAddr
			close(ready)
		})
	}()
	select {
	case <-ready:
	case err := <-s.done:
		tb.Fatalf("run returned before ready: %v", err)
	}
	tb.Cleanup(func() { s.stop(tb) })
	return s
}

// stop cancels run and checks that it returned nil; calling it twice is fine.
func (s *server) stop(tb testing.TB) {
	tb.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			tb.Errorf("run returned %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		tb.Error("run did not return within 15s of cancel")
	}
}

func (s *server) url(path string) string { return "http://" + s.http + path }

// getJSON fetches path and decodes it into v, failing on a non-200.
func getJSON(tb testing.TB, url string, v any) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s = %s: %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		tb.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

func getBytes(tb testing.TB, url string) []byte {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s = %s: %s", url, resp.Status, body)
	}
	return body
}

type address struct{ Name, Address string }

type summary struct {
	ID, MessageID, Subject string
	From                   address
	To, Cc, Bcc            []address
	Size                   int64
	Read                   bool
}

type listReply struct {
	Total         int `json:"total"`
	MessagesCount int `json:"messages_count"`
	Messages      []summary
}

type attachment struct {
	PartID, FileName, ContentType string
	Size                          int64
}

type message struct {
	summary
	ReturnPath  string
	Text, HTML  string
	Attachments []attachment
	Inline      []attachment
}

// client is a minimal SMTP client that shows every reply, for exchanges
// net/smtp cannot express (BDAT, exact bytes, kill after the 250).
type client struct {
	tb testing.TB
	nc net.Conn
	tp *textproto.Conn
}

func dialSMTP(tb testing.TB, addr string) *client {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	c := &client{tb: tb, nc: nc, tp: textproto.NewConn(nc)}
	tb.Cleanup(func() { c.tp.Close() })
	c.expect(220)
	return c
}

// expect reads one (possibly multi-line) reply and checks its code.
func (c *client) expect(code int) string {
	c.tb.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, msg, err := c.tp.ReadResponse(code)
	if err != nil {
		c.tb.Fatalf("want %d, got %d %q: %v", code, got, msg, err)
	}
	return msg
}

func (c *client) cmd(code int, format string, args ...any) string {
	c.tb.Helper()
	if err := c.tp.PrintfLine(format, args...); err != nil {
		c.tb.Fatal(err)
	}
	return c.expect(code)
}

// sendBDAT delivers raw byte-for-byte in one BDAT LAST chunk.
func (c *client) sendBDAT(from, to string, raw []byte) string {
	c.tb.Helper()
	c.cmd(250, "MAIL FROM:<%s> BODY=BINARYMIME", from)
	c.cmd(250, "RCPT TO:<%s>", to)
	if _, err := fmt.Fprintf(c.nc, "BDAT %d LAST\r\n", len(raw)); err != nil {
		c.tb.Fatal(err)
	}
	if _, err := c.nc.Write(raw); err != nil {
		c.tb.Fatal(err)
	}
	return c.expect(250)
}

// sendDATA delivers raw with DATA, dot-stuffing lines that start with a
// dot and adding the CRLF the terminator needs when raw lacks it. It
// returns what the server must store after its own headers.
func (c *client) sendDATA(from, to string, raw []byte) (reply string, stored []byte) {
	c.tb.Helper()
	c.cmd(250, "MAIL FROM:<%s> BODY=8BITMIME", from)
	c.cmd(250, "RCPT TO:<%s>", to)
	c.cmd(354, "DATA")
	stored = raw
	if !bytes.HasSuffix(stored, []byte("\r\n")) {
		stored = append(bytes.Clone(raw), '\r', '\n')
	}
	var buf bytes.Buffer
	for _, line := range bytes.SplitAfter(stored, []byte("\r\n")) {
		if bytes.HasPrefix(line, []byte(".")) { // every piece starts a line
			buf.WriteByte('.')
		}
		buf.Write(line)
	}
	buf.WriteString(".\r\n")
	if _, err := c.nc.Write(buf.Bytes()); err != nil {
		c.tb.Fatal(err)
	}
	return c.expect(250), stored
}

var queuedID = regexp.MustCompile(`queued as (\S+)`)

// prefixRE is what mailsink may put before the client's bytes: exactly a
// Return-Path and a (folded) Received header field.
var prefixRE = regexp.MustCompile(`\AReturn-Path: <[^>\r\n]*>\r\nReceived: from [^\r\n]+(\r\n[ \t][^\r\n]+)*\r\n\z`)

// checkStored asserts that stored is our two header fields followed by sent.
func checkStored(tb testing.TB, name string, stored, sent []byte) {
	tb.Helper()
	if !bytes.HasSuffix(stored, sent) {
		tb.Errorf("%s: stored raw does not end with the bytes sent (stored %d bytes, sent %d)", name, len(stored), len(sent))
		return
	}
	if prefix := stored[:len(stored)-len(sent)]; !prefixRE.Match(prefix) {
		tb.Errorf("%s: prepended header block is not Return-Path + Received:\n%q", name, prefix)
	}
}

func TestEndToEndNetSMTP(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)

	// net/smtp with STARTTLS and AUTH PLAIN, as an app would do it.
	c, err := smtp.Dial(s.smtp)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("app.test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not advertised")
	}
	if err := c.StartTLS(&tls.Config{ServerName: "mx.test", InsecureSkipVerify: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", "alice", "secret", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("sender@app.test"); err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range []string{"to@example.test", "hidden@example.test"} {
		if err := c.Rcpt(rcpt); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	body := "From: Sender <sender@app.test>\r\nTo: Someone <to@example.test>\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <e2e-1@app.test>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\nHello over TLS.\r\n"
	if _, io := w.Write([]byte(body)); io != nil {
		t.Fatal(io)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}

	var list listReply
	getJSON(t, s.url("/api/v1/messages"), &list)
	if list.Total != 1 || len(list.Messages) != 1 {
		t.Fatalf("list total=%d len=%d, want 1", list.Total, len(list.Messages))
	}
	var m message
	getJSON(t, s.url("/api/v1/message/"+list.Messages[0].ID), &m)
	if m.Subject != "Grüße" || m.From.Address != "sender@app.test" || m.ReturnPath != "sender@app.test" || m.MessageID != "e2e-1@app.test" {
		t.Errorf("message = %+v", m)
	}
	if len(m.Bcc) != 1 || m.Bcc[0].Address != "hidden@example.test" {
		t.Errorf("Bcc = %+v, want the envelope-only recipient", m.Bcc)
	}
	if strings.TrimSpace(m.Text) != "Hello over TLS." {
		t.Errorf("Text = %q", m.Text)
	}
	raw := getBytes(t, s.url("/api/v1/message/latest/raw"))
	checkStored(t, "e2e", raw, []byte(body))
	// net/smtp sends SMTPUTF8 when offered, so the protocol is RFC 6531's name.
	if !regexp.MustCompile(`with UTF8SMTPSA \(TLS1\.[23] [A-Z0-9_]+\) id ` + m.ID + `;`).Match(raw) {
		t.Errorf("Received header does not name UTF8SMTPSA, TLS and id %s:\n%s", m.ID, raw[:bytes.Index(raw, []byte("From:"))])
	}

	// net/smtp.SendMail verifies the certificate of any STARTTLS it is
	// offered, so it works against a server with STARTTLS turned off.
	plain := startServer(t, nil, "-smtp-starttls=false", "-smtp-auth=none")
	if err := smtp.SendMail(plain.smtp, nil, "a@app.test", []string{"b@example.test"}, []byte("Subject: plain\r\n\r\nhi\r\n")); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	getJSON(t, plain.url("/api/v1/messages"), &list)
	if list.Total != 1 || list.Messages[0].Subject != "plain" {
		t.Errorf("after SendMail: %+v", list)
	}
}

func TestShutdownGreetsIdleSessionsWith421(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := dialSMTP(t, s.smtp)
	c.cmd(250, "EHLO idle.test")
	s.stop(t)
	msg := c.expect(421)
	if !strings.HasPrefix(msg, "4.3.2") {
		t.Errorf("shutdown reply %q, want 421 4.3.2", msg)
	}
}

// corpusDir is the public test corpus beside the repository, or "" (and a
// skip) when it is absent; MAILSINK_REQUIRE_CORPUS turns the skip into a failure.
func corpusDir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join("..", "shared", "testdata-public")
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		if os.Getenv("MAILSINK_REQUIRE_CORPUS") != "" {
			tb.Fatalf("public corpus missing at %s: %v", dir, err)
		}
		tb.Skipf("public corpus not found at %s", dir)
	}
	return dir
}

// deliverFiles sends each file over one SMTP session — alternately with
// BDAT (every byte kept) and DATA (dot-stuffed, a final CRLF added when
// missing) — then checks through the API that each is stored as our two
// trace headers plus the bytes sent, parses without leftover encoded words,
// and that every attachment downloads at its stated size. It returns the
// parsed messages by file name.
func deliverFiles(t *testing.T, files []string) map[string]message {
	t.Helper()
	s := startServer(t, nil, "-max-message-size=64MiB")
	c := dialSMTP(t, s.smtp)
	c.cmd(250, "EHLO corpus.test")
	type sent struct {
		name string
		id   string
		want []byte
	}
	var all []sent
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		var reply string
		want := raw
		if i%2 == 0 {
			reply = c.sendBDAT("sender@corpus.test", "rcpt@corpus.test", raw)
		} else {
			reply, want = c.sendDATA("sender@corpus.test", "rcpt@corpus.test", raw)
		}
		m := queuedID.FindStringSubmatch(reply)
		if m == nil {
			t.Fatalf("%s: reply %q names no id", name, reply)
		}
		all = append(all, sent{name, m[1], want})
	}
	c.cmd(221, "QUIT")

	var list listReply
	getJSON(t, s.url("/api/v1/messages?limit=1000"), &list)
	if list.Total != len(files) {
		t.Errorf("stored %d messages, sent %d", list.Total, len(files))
	}
	byName := map[string]message{}
	for _, m := range all {
		checkStored(t, m.name, getBytes(t, s.url("/api/v1/message/"+m.id+"/raw")), m.want)
		var msg message
		getJSON(t, s.url("/api/v1/message/"+m.id), &msg)
		byName[m.name] = msg
		if strings.Contains(msg.Subject, "=?") && !strings.HasPrefix(m.name, "encword-bad-charset") {
			t.Errorf("%s: subject %q still holds an encoded word", m.name, msg.Subject)
		}
		for _, a := range append(msg.Attachments, msg.Inline...) {
			if got := len(getBytes(t, s.url("/api/v1/message/"+m.id+"/part/"+a.PartID))); int64(got) != a.Size {
				t.Errorf("%s: part %s is %d bytes, listed as %d", m.name, a.PartID, got, a.Size)
			}
		}
	}
	return byName
}

// TestFixturesOverSMTP delivers our own testdata/mail fixtures (always
// present, unlike the public corpus) and compares what the API reports
// with the reviewed golden files.
func TestFixturesOverSMTP(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "mail", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	got := deliverFiles(t, files)
	for _, f := range files {
		data, err := os.ReadFile(strings.TrimSuffix(f, ".eml") + ".golden.json")
		if err != nil {
			t.Fatal(err)
		}
		var want struct {
			Subject    string
			From       *address
			To         []address
			Attached   []attachment
			Text, HTML string
			Headers    []struct{ Name string }
		}
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		m := got[filepath.Base(f)]
		// Sent with DATA, a file without a final line break gains one.
		trim := func(s string) string { return strings.TrimRight(s, "\r\n") }
		// Without a header block of its own, a file's first lines become
		// part of the header our trace fields start, so its body differs.
		sameBody := len(want.Headers) == 0 || trim(m.Text) == trim(want.Text) && trim(m.HTML) == trim(want.HTML)
		if m.Subject != want.Subject || (want.From != nil && m.From != *want.From) || len(m.To) != len(want.To) || !sameBody {
			t.Errorf("%s: API gives Subject %q From %+v To %+v Text %q HTML %q, golden has %q %+v %+v %q %q", f, m.Subject, m.From, m.To, m.Text, m.HTML, want.Subject, want.From, want.To, want.Text, want.HTML)
		}
		if len(m.Attachments) != len(want.Attached) {
			t.Errorf("%s: %d attachments, golden has %d", f, len(m.Attachments), len(want.Attached))
			continue
		}
		for i, a := range want.Attached {
			if m.Attachments[i].FileName != a.FileName || m.Attachments[i].PartID != a.PartID {
				t.Errorf("%s: attachment %d = %+v, golden %+v", f, i, m.Attachments[i], a)
			}
		}
	}
}

func TestCorpusOverSMTP(t *testing.T) {
	t.Parallel()
	dir := corpusDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	byName := deliverFiles(t, files)

	// Values read off the corpus files by hand.
	checks := []struct {
		file  string
		check func(m message) bool
		want  string
	}{
		{"attachment-rfc2231-latin1-filename.eml", func(m message) bool { return hasFile(m, "attachment.äöü") }, "attachment named attachment.äöü"},
		{"attachment-rfc2231-utf8-filename.eml", func(m message) bool { return hasFile(m, "attachment.äöü") }, "attachment named attachment.äöü"},
		{"charset-windows-1251-encoded-subject.eml", func(m message) bool {
			return strings.HasPrefix(m.Subject, "occurs when divided into an array, and the last e of the array! Путін ") && strings.HasSuffix(m.Subject, "!!!!!!")
		}, "windows-1251 subject decoded"},
		{"encword-utf8-q-hungarian-folded.eml", func(m message) bool {
			return m.Subject == "[PRJ-OTH] asdf  árvíztűrő tükörfúrógép" && m.From.Name == "sendeär" && m.From.Address == "sender@test.com"
		}, "Hungarian subject and From name"},
		{"utf8hdr-rfc6532-minimal.eml", func(m message) bool {
			return m.Subject == "Säying Hello" && m.From.Name == "Jöhn Doe" && m.From.Address == "jdöe@mächine.example" &&
				len(m.To) == 1 && m.To[0].Address == "märy@exämple.net"
		}, "raw UTF-8 headers"},
		{"encword-adjacent-encoded-words.eml", func(m message) bool {
			return m.Subject == "If you can read this you understand the example... so, cool!" && m.From.Name == "Keith Moore" &&
				len(m.To) == 1 && m.To[0].Name == "Keld Jørn Simonsen"
		}, "adjacent encoded words joined"},
	}
	for _, c := range checks {
		m, ok := byName[c.file]
		if !ok {
			t.Errorf("%s: not in the corpus", c.file)
			continue
		}
		if !c.check(m) {
			t.Errorf("%s: want %s; got Subject %q From %+v To %+v Attachments %+v", c.file, c.want, m.Subject, m.From, m.To, m.Attachments)
		}
	}
}

func hasFile(m message, name string) bool {
	for _, a := range append(m.Attachments, m.Inline...) {
		if a.FileName == name {
			return true
		}
	}
	return false
}

// TestRealClients delivers with swaks and Python's smtplib when they are
// installed (CI installs them; MAILSINK_REQUIRE_CLIENTS makes them required).
func TestRealClients(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	host, port, _ := net.SplitHostPort(s.smtp)
	tests := []struct {
		name    string
		bin     string
		args    []string
		subject string
	}{
		{"swaks", "swaks", []string{"--server", host, "--port", port, "--from", "swaks@client.test", "--to", "rcpt@example.test",
			"--header", "Subject: from swaks", "--tls", "--auth", "LOGIN", "--auth-user", "u", "--auth-password", "p"}, "from swaks"},
		{"python smtplib", "python3", []string{"-c", `
import smtplib, ssl, sys
from email.message import EmailMessage
m = EmailMessage(); m["Subject"] = "from smtplib"; m["From"] = "py@client.test"; m["To"] = "rcpt@example.test"
m.set_content("hello from python")
with smtplib.SMTP(sys.argv[1], int(sys.argv[2])) as s:
    s.starttls(context=ssl._create_unverified_context()); s.login("u", "p"); s.send_message(m)
`, host, port}, "from smtplib"},
	}
	for _, tt := range tests {
		bin, err := exec.LookPath(tt.bin)
		if err != nil {
			if os.Getenv("MAILSINK_REQUIRE_CLIENTS") != "" {
				t.Fatalf("%s not installed: %v", tt.bin, err)
			}
			t.Logf("skipping %s: not installed", tt.name)
			continue
		}
		out, err := runCmd(bin, tt.args...)
		if err != nil {
			t.Errorf("%s: %v\n%s", tt.name, err, out)
			continue
		}
		var list listReply
		getJSON(t, s.url("/api/v1/search?query="+strings.ReplaceAll(tt.subject, " ", "+")), &list)
		found := false
		for _, m := range list.Messages {
			found = found || m.Subject == tt.subject
		}
		if !found {
			t.Errorf("%s: no message with subject %q (search gave %+v)", tt.name, tt.subject, list.Messages)
		}
	}
}

func TestDispatchVersionHelpAndBadFlags(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := dispatch(context.Background(), []string{"version"}, func(string) string { return "" }, nil, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "mailsink ") {
		t.Errorf("version: code %d, out %q", code, out.String())
	}
	out.Reset()
	errOut.Reset()
	if code := dispatch(context.Background(), []string{"--help"}, func(string) string { return "" }, nil, &out, &errOut); code != 0 {
		t.Errorf("--help exit %d", code)
	}
	for _, want := range []string{"--smtp-addr", "MAILSINK_SMTP_ADDR", "--http-addr", "MAILSINK_HTTP_ADDR", "--db", "MAILSINK_DB",
		"--hostname", "--max-message-size", "--max-recipients", "--smtps-addr", "--tls-cert", "--tls-key", "--smtp-auth",
		"--log-level", "--log-format", "--max-messages", "--max-age", "healthcheck"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("--help does not mention %s", want)
		}
	}
	errOut.Reset()
	if code := dispatch(context.Background(), []string{"--max-recipients=lots"}, func(string) string { return "" }, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "max-recipients") {
		t.Errorf("bad flag: exit %d, stderr %q", code, errOut.String())
	}
}

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	env := func(k string) string {
		if k == "MAILSINK_HTTP_ADDR" {
			return s.http
		}
		return ""
	}
	if code := dispatch(context.Background(), []string{"healthcheck"}, env, nil, io.Discard, io.Discard); code != 0 {
		t.Errorf("healthcheck against a running server: exit %d, want 0", code)
	}
	if code := dispatch(context.Background(), []string{"healthcheck", "--url", s.url("/readyz")}, env, nil, io.Discard, io.Discard); code != 0 {
		t.Errorf("healthcheck --url: exit %d, want 0", code)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if code := dispatch(context.Background(), []string{"healthcheck", "--url", "http://" + closed + "/readyz", "--timeout", "2s"}, env, nil, io.Discard, io.Discard); code != 1 {
		t.Errorf("healthcheck against nothing: exit %d, want 1", code)
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = run(context.Background(), []string{"-smtp-addr=" + ln.Addr().String(), "-http-addr=127.0.0.1:0", "-db=" + filepath.Join(t.TempDir(), "x.db")},
		func(string) string { return "" }, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "--smtp-addr") {
		t.Errorf("run on a busy port = %v, want an error naming --smtp-addr", err)
	}
}

// readLines returns r's lines until a line matching stop, for reading logs.
func readLines(r io.Reader, stop func(string) bool) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if stop(sc.Text()) {
			return sc.Text(), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no matching line before EOF")
}

// writeCert makes a CA-less self-signed certificate for host and writes it
// as PEM files, returning their paths and a pool that trusts it.
func writeCert(t *testing.T, host string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLSCertAndSMTPS runs with a given certificate and an SMTPS listener:
// both STARTTLS and implicit TLS must present that certificate (verified,
// not skipped) and messages record the TLS protocol names.
func TestTLSCertAndSMTPS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := writeCert(t, "mx.test")
	s := startServer(t, nil, "-smtps-addr=127.0.0.1:0", "-tls-cert="+certFile, "-tls-key="+keyFile)
	tlsCfg := &tls.Config{ServerName: "mx.test", RootCAs: pool}

	// STARTTLS on the plain port, with net/smtp verifying the certificate.
	c, err := smtp.Dial(s.smtp)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(tlsCfg); err != nil {
		t.Fatalf("STARTTLS with verification: %v", err)
	}
	if err := c.Mail("a@tls.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@tls.test"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: starttls\r\n\r\nx\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()

	// Implicit TLS: the handshake comes first, STARTTLS is not offered.
	nc, err := tls.Dial("tcp", s.smtps, tlsCfg)
	if err != nil {
		t.Fatalf("SMTPS handshake: %v", err)
	}
	tc := &client{tb: t, nc: nc, tp: textproto.NewConn(nc)}
	defer tc.tp.Close()
	tc.expect(220)
	if ehlo := tc.cmd(250, "EHLO tls.test"); strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("SMTPS advertises STARTTLS:\n%s", ehlo)
	}
	tc.sendBDAT("a@tls.test", "b@tls.test", []byte("Subject: smtps\r\n\r\ny\r\n"))
	tc.cmd(221, "QUIT")

	for _, subject := range []string{"starttls", "smtps"} {
		var list listReply
		getJSON(t, s.url("/api/v1/search?query="+subject), &list)
		if len(list.Messages) != 1 {
			t.Fatalf("search %s: %+v", subject, list)
		}
		raw := getBytes(t, s.url("/api/v1/message/"+list.Messages[0].ID+"/raw"))
		if !regexp.MustCompile(`with (UTF8SMTPS|ESMTPS) \(TLS1\.3 `).Match(raw) {
			t.Errorf("%s: Received does not record TLS:\n%.300s", subject, raw)
		}
	}
}

// TestMaxMessagesFlag checks the retention flag reaches the store: the
// oldest messages go once there are more than --max-messages.
func TestMaxMessagesFlag(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"MAILSINK_MAX_MESSAGES": "2"})
	c := dialSMTP(t, s.smtp)
	c.cmd(250, "EHLO keep.test")
	for i := range 3 {
		c.sendBDAT("a@keep.test", "b@keep.test", []byte(fmt.Sprintf("Subject: keep %d\r\n\r\nx\r\n", i)))
	}
	var list listReply
	getJSON(t, s.url("/api/v1/messages"), &list)
	var subjects []string
	for _, m := range list.Messages {
		subjects = append(subjects, m.Subject)
	}
	if list.Total != 2 || strings.Join(subjects, ",") != "keep 2,keep 1" {
		t.Errorf("after 3 messages with MAILSINK_MAX_MESSAGES=2: total %d, subjects %v", list.Total, subjects)
	}
}

// TestInboxesEndToEnd routes mail into inboxes the three ways the SMTP side
// offers (AUTH user, header, +tag), then lists, searches, waits in and
// clears one inbox without touching the others.
func TestInboxesEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"MAILSINK_TAGS_PLUS_ADDRESSING": "true"})

	c, err := smtp.Dial(s.smtp)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", "ci-job-1", "x", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("app@app.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("bob@example.test"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: by auth\r\n\r\nx\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()

	raw := dialSMTP(t, s.smtp)
	raw.cmd(250, "EHLO inbox.test")
	raw.sendBDAT("app@app.test", "bob@example.test", []byte("Subject: by header\r\nX-Mailsink-Inbox: Job-2\r\n\r\nx\r\n"))
	raw.sendBDAT("app@app.test", "bob+job3@example.test", []byte("Subject: by plus\r\n\r\nx\r\n"))
	raw.sendBDAT("app@app.test", "bob@example.test", []byte("Subject: default\r\n\r\nx\r\n"))

	var inboxes []struct {
		Name          string
		Total, Unread int
	}
	getJSON(t, s.url("/api/v1/inboxes"), &inboxes)
	got := map[string]int{}
	for _, in := range inboxes {
		got[in.Name] = in.Total
	}
	if len(got) != 4 || got["ci-job-1"] != 1 || got["job-2"] != 1 || got["job3"] != 1 || got[""] != 1 {
		t.Errorf("inboxes = %+v", inboxes)
	}
	var list listReply
	getJSON(t, s.url("/api/v1/search?query=inbox:job3"), &list)
	if len(list.Messages) != 1 || list.Messages[0].Subject != "by plus" {
		t.Errorf("inbox:job3 = %+v", list.Messages)
	}
	var tagged struct{ Tags []string }
	getJSON(t, s.url("/api/v1/message/"+list.Messages[0].ID), &tagged)
	if len(tagged.Tags) != 1 || tagged.Tags[0] != "job3" {
		t.Errorf("plus-address tag = %v, want [job3]", tagged.Tags)
	}

	var waited listReply
	getJSON(t, s.url("/api/v1/wait?query=inbox:job-2&timeout=5s"), &waited)
	if len(waited.Messages) != 1 || waited.Messages[0].Subject != "by header" {
		t.Errorf("wait in inbox job-2 = %+v", waited.Messages)
	}

	req, _ := http.NewRequest(http.MethodDelete, s.url("/api/v1/search?query=inbox:ci-job-1"), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("delete inbox: %v %v", resp, err)
	}
	resp.Body.Close()
	getJSON(t, s.url("/api/v1/messages"), &list)
	if list.Total != 3 {
		t.Errorf("after clearing one inbox %d messages remain, want 3", list.Total)
	}
}
