package main

import (
	"bytes"
	"errors"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// sentMessage is the part of GET /api/v1/message/{id} these tests read.
type sentMessage struct {
	ID, MessageID, ReturnPath, Subject, Text string
	From                                     address
	To, Cc, Bcc                              []address
	Envelope                                 struct {
		MailFrom   string
		Rcpts      []struct{ Address string }
		TLSVersion string
	}
}

func (m sentMessage) rcpts() []string {
	var out []string
	for _, r := range m.Envelope.Rcpts {
		out = append(out, r.Address)
	}
	return out
}

// findMessage returns the one message matching query and its raw bytes.
func findMessage(tb testing.TB, s *server, query string) (sentMessage, []byte) {
	tb.Helper()
	var list listReply
	getJSON(tb, s.url("/api/v1/search?query="+query), &list)
	if len(list.Messages) != 1 {
		tb.Fatalf("search %q found %d messages, want 1", query, len(list.Messages))
	}
	var m sentMessage
	getJSON(tb, s.url("/api/v1/message/"+list.Messages[0].ID), &m)
	return m, getBytes(tb, s.url("/api/v1/message/"+m.ID+"/raw"))
}

// clientBytes is raw without the two trace fields mailsink prepends.
func clientBytes(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	_, rest, ok := bytes.Cut(raw, []byte("\r\nReceived: "))
	if !ok {
		tb.Fatalf("no Received field in %q", raw)
	}
	for {
		_, after, ok := bytes.Cut(rest, []byte("\r\n"))
		if !ok {
			tb.Fatalf("unterminated Received field")
		}
		rest = after
		if len(rest) == 0 || (rest[0] != ' ' && rest[0] != '\t') {
			return rest
		}
	}
}

var bareLF = regexp.MustCompile(`(^|[^\r])\n`)

func TestSendmailDelivers(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	env := map[string]string{"MAILSINK_SMTP_ADDR": s.smtp, "USER": "ciuser"}

	tests := []struct {
		name  string
		env   map[string]string // nil: env
		args  []string
		stdin string
		check func(t *testing.T, m sentMessage, sent []byte)
	}{
		{
			name:  "recipients as arguments, LF input",
			args:  []string{"bob@example.test", "Carol <carol@example.test>, dave@example.test"},
			stdin: "From: Alice <alice@app.test>\nTo: bob@example.test\nSubject: tokargs\n\nline one\nline two\n",
			check: func(t *testing.T, m sentMessage, sent []byte) {
				if got := m.rcpts(); !slices.Equal(got, []string{"bob@example.test", "carol@example.test", "dave@example.test"}) {
					t.Errorf("envelope recipients %v", got)
				}
				if m.ReturnPath != "alice@app.test" {
					t.Errorf("envelope sender %q, want the From address", m.ReturnPath)
				}
				if bareLF.Match(sent) {
					t.Errorf("a bare LF reached the server: %q", sent)
				}
				if !bytes.HasPrefix(sent, []byte("From: Alice <alice@app.test>\r\nTo: bob@example.test\r\nSubject: tokargs\r\n")) ||
					!bytes.HasSuffix(sent, []byte("\r\n\r\nline one\r\nline two\r\n")) {
					t.Errorf("sent bytes %q", sent)
				}
				if !regexp.MustCompile(`\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n`).Match(sent) {
					t.Errorf("no Date field added: %q", sent)
				}
				if !strings.HasSuffix(m.MessageID, "@"+host) || !bytes.Contains(sent, []byte("\r\nMessage-ID: <"+m.MessageID+">\r\n")) {
					t.Errorf("Message-ID %q not added as <…@%s>: %q", m.MessageID, host, sent)
				}
			},
		},
		{
			name: "-t takes To, Cc and Bcc and strips Bcc",
			args: []string{"-t", "-i"},
			stdin: "From: a@app.test\nTo: To One <to@example.test>\nCc: cc@example.test\nBcc: hidden@example.test,\n  Secret <secret@example.test>\n" +
				"Subject: tokbcc\n\nbody\n",
			check: func(t *testing.T, m sentMessage, sent []byte) {
				if got := m.rcpts(); !slices.Equal(got, []string{"to@example.test", "cc@example.test", "hidden@example.test", "secret@example.test"}) {
					t.Errorf("envelope recipients %v", got)
				}
				if regexp.MustCompile(`(?i)(^|\n)bcc:|secret`).Match(sent) {
					t.Errorf("the Bcc field was sent: %q", sent)
				}
				if len(m.Bcc) != 2 || m.Bcc[0].Address != "hidden@example.test" || m.Bcc[1].Address != "secret@example.test" {
					t.Errorf("API Bcc %+v, want the two blind recipients", m.Bcc)
				}
			},
		},
		{
			name:  "-t adds argument recipients",
			args:  []string{"-ti", "extra@example.test", "to@example.test"},
			stdin: "To: to@example.test\nSubject: tokextra\n\nbody\n",
			check: func(t *testing.T, m sentMessage, _ []byte) {
				if got := m.rcpts(); !slices.Equal(got, []string{"extra@example.test", "to@example.test"}) {
					t.Errorf("envelope recipients %v", got)
				}
			},
		},
		{
			name:  "-f sets the envelope sender",
			args:  []string{"-f", "bounce@app.test", "r@example.test"},
			stdin: "From: Alice <alice@app.test>\nSubject: tokdashf\n\nx\n",
			check: func(t *testing.T, m sentMessage, _ []byte) {
				if m.ReturnPath != "bounce@app.test" || m.From.Address != "alice@app.test" {
					t.Errorf("ReturnPath %q From %+v", m.ReturnPath, m.From)
				}
			},
		},
		{
			name:  "-fADDR attached",
			args:  []string{"-f<attached@app.test>", "r@example.test"},
			stdin: "Subject: tokattached\n\nx\n",
			check: func(t *testing.T, m sentMessage, _ []byte) {
				if m.ReturnPath != "attached@app.test" {
					t.Errorf("ReturnPath %q", m.ReturnPath)
				}
			},
		},
		{
			name:  "-r is -f",
			args:  []string{"r@example.test", "-r", "rflag@app.test"},
			stdin: "Subject: tokrflag\n\nx\n",
			check: func(t *testing.T, m sentMessage, _ []byte) {
				if m.ReturnPath != "rflag@app.test" {
					t.Errorf("ReturnPath %q", m.ReturnPath)
				}
			},
		},
		{
			name:  "-f <> is the null sender",
			args:  []string{"-f", "<>", "r@example.test"},
			stdin: "From: daemon@app.test\nSubject: toknull\n\nx\n",
			check: func(t *testing.T, m sentMessage, _ []byte) {
				if m.ReturnPath != "" || m.Envelope.MailFrom != "" {
					t.Errorf("ReturnPath %q MailFrom %q, want the null sender", m.ReturnPath, m.Envelope.MailFrom)
				}
			},
		},
		{
			name:  "-F names the From it adds",
			args:  []string{"-F", "Jane Q. Doe", "-f", "jane@app.test", "r@example.test"},
			stdin: "To: r@example.test\nSubject: tokfullname\n\nx\n",
			check: func(t *testing.T, m sentMessage, sent []byte) {
				if m.From != (address{Name: "Jane Q. Doe", Address: "jane@app.test"}) {
					t.Errorf("From %+v", m.From)
				}
				if !bytes.Contains(sent, []byte("\r\nFrom: \"Jane Q. Doe\" <jane@app.test>\r\n")) {
					t.Errorf("sent %q", sent)
				}
			},
		},
		{
			name:  "-F does not replace a From",
			args:  []string{"-FIgnored Name", "r@example.test"},
			stdin: "From: Real <real@app.test>\nSubject: tokkeepfrom\n\nx\n",
			check: func(t *testing.T, m sentMessage, _ []byte) {
				if m.From != (address{Name: "Real", Address: "real@app.test"}) || m.ReturnPath != "real@app.test" {
					t.Errorf("From %+v ReturnPath %q", m.From, m.ReturnPath)
				}
			},
		},
		{
			name:  "no From and no -f: $USER@host",
			args:  []string{"root"},
			stdin: "Subject: tokuser\n\ncron output\n",
			check: func(t *testing.T, m sentMessage, _ []byte) {
				if want := "ciuser@" + host; m.ReturnPath != want || m.From.Address != want {
					t.Errorf("ReturnPath %q From %+v, want %s", m.ReturnPath, m.From, want)
				}
				if got := m.rcpts(); !slices.Equal(got, []string{"root@" + host}) {
					t.Errorf("bare name became %v, want root@%s", got, host)
				}
			},
		},
		{
			name:  "a dot-only line does not end the input",
			args:  []string{"-oi", "r@example.test"},
			stdin: "Subject: tokdot\n\nbefore\n.\nafter\n..two dots\n.\n",
			check: func(t *testing.T, m sentMessage, sent []byte) {
				if !bytes.HasSuffix(sent, []byte("\r\n\r\nbefore\r\n.\r\nafter\r\n..two dots\r\n.\r\n")) {
					t.Errorf("sent %q", sent)
				}
				if got := strings.ReplaceAll(m.Text, "\r\n", "\n"); !strings.HasPrefix(got, "before\n.\nafter\n..two dots\n.") {
					t.Errorf("Text %q", m.Text)
				}
			},
		},
		{
			name:  "Date and Message-ID given are kept",
			args:  []string{"--", "r@example.test"},
			stdin: "Message-ID: <given@app.test>\nDate: Thu, 26 Nov 2026 10:00:00 +0000\nSubject: tokkeepids\n\nx\n",
			check: func(t *testing.T, m sentMessage, sent []byte) {
				if m.MessageID != "given@app.test" {
					t.Errorf("Message-ID %q", m.MessageID)
				}
				if n := len(regexp.MustCompile(`(?im)^(date|message-id):`).FindAll(sent, -1)); n != 2 {
					t.Errorf("%d Date/Message-ID fields, want the 2 given: %q", n, sent)
				}
			},
		},
		{
			name:  "input without a header block",
			args:  []string{"r@example.test"},
			stdin: "toknoheader is the first line\nand more\n",
			check: func(t *testing.T, m sentMessage, sent []byte) {
				if !bytes.HasSuffix(sent, []byte("\r\n\r\ntoknoheader is the first line\r\nand more\r\n")) || !bytes.HasPrefix(sent, []byte("From: <ciuser@")) {
					t.Errorf("sent %q", sent)
				}
			},
		},
		{
			name:  "ignored sendmail options",
			args:  []string{"-bm", "-oem", "-odi", "-U", "-v", "-N", "never", "-Rhdrs", "-V", "envid", "-i", "r@example.test"},
			stdin: "Subject: tokignored\n\nx\n",
			check: func(t *testing.T, m sentMessage, _ []byte) {
				if got := m.rcpts(); !slices.Equal(got, []string{"r@example.test"}) {
					t.Errorf("envelope recipients %v", got)
				}
			},
		},
		{
			name:  "--starttls",
			args:  []string{"--starttls", "r@example.test"},
			stdin: "Subject: tokstarttls\n\nx\n",
			check: func(t *testing.T, m sentMessage, _ []byte) {
				if !strings.HasPrefix(m.Envelope.TLSVersion, "TLS") {
					t.Errorf("TLSVersion %q, want TLS", m.Envelope.TLSVersion)
				}
			},
		},
		{
			name:  "plain SMTP by default",
			args:  []string{"r@example.test"},
			stdin: "Subject: tokplain\n\nx\n",
			check: func(t *testing.T, m sentMessage, _ []byte) {
				if m.Envelope.TLSVersion != "" {
					t.Errorf("TLSVersion %q, want none", m.Envelope.TLSVersion)
				}
			},
		},
		{
			name:  "--smtp-addr beats MAILSINK_SMTP_ADDR",
			env:   map[string]string{"MAILSINK_SMTP_ADDR": closedAddr(t)},
			args:  []string{"--smtp-addr", s.smtp, "r@example.test"},
			stdin: "Subject: tokflagaddr\n\nx\n",
			check: func(*testing.T, sentMessage, []byte) {},
		},
		{
			name:  "MAILSINK_SMTP_ADDR with a wildcard host",
			env:   map[string]string{"MAILSINK_SMTP_ADDR": "0.0.0.0:" + port(t, s.smtp)},
			args:  []string{"r@example.test"},
			stdin: "Subject: tokwildcard\n\nx\n",
			check: func(*testing.T, sentMessage, []byte) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := tt.env
			if e == nil {
				e = env
			}
			r := runCLI(t, e, tt.stdin, append([]string{"sendmail"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			tok := regexp.MustCompile(`tok[a-z]+`).FindString(tt.stdin)
			m, raw := findMessage(t, s, tok)
			tt.check(t, m, clientBytes(t, raw))
		})
	}
}

// fakeSMTP is a scripted SMTP server: greeting first, then each command is
// answered by its verb's reply in replies (default "250 ok"); "." is the
// reply after the message data. It returns its address.
func fakeSMTP(tb testing.TB, greeting string, replies map[string]string) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				tp := textproto.NewConn(nc)
				tp.PrintfLine("%s", greeting)
				if !strings.HasPrefix(greeting, "220") {
					return
				}
				for {
					line, err := tp.ReadLine()
					if err != nil {
						return
					}
					verb := strings.ToUpper(strings.Fields(line + " x")[0])
					reply, ok := replies[verb]
					switch {
					case ok:
					case verb == "QUIT":
						reply = "221 bye"
					case verb == "DATA":
						reply = "354 go on"
					default:
						reply = "250 ok"
					}
					tp.PrintfLine("%s", reply)
					if verb == "DATA" && strings.HasPrefix(reply, "354") {
						if _, err := tp.ReadDotBytes(); err != nil {
							return
						}
						dot, ok := replies["."]
						if !ok {
							dot = "250 queued"
						}
						tp.PrintfLine("%s", dot)
					}
					if verb == "QUIT" {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

func TestSendmailExitCodes(t *testing.T) {
	t.Parallel()
	msg := "From: a@app.test\nTo: b@example.test\nSubject: x\n\nbody\n"
	tests := []struct {
		name    string
		addr    string
		args    []string
		stdin   string
		want    int
		wantErr string
	}{
		{"no recipients", "", nil, msg, 64, "no recipients"},
		{"-t without recipient fields", "", []string{"-t"}, "Subject: x\n\nbody\n", 64, "no recipients"},
		{"unknown option", "", []string{"-Z", "b@example.test"}, msg, 64, "unknown option -Z"},
		{"unknown long option", "", []string{"--bogus", "b@example.test"}, msg, 64, "unknown option --bogus"},
		{"-f without a value", "", []string{"b@example.test", "-f"}, msg, 64, "needs a value"},
		{"unsupported mode", "", []string{"-bs"}, msg, 64, "-bs"},
		{"server unreachable", closedAddr(t), []string{"b@example.test"}, msg, 69, "connection refused"},
		{"421 greeting", fakeSMTP(t, "421 4.3.2 busy", nil), []string{"b@example.test"}, msg, 75, "busy"},
		{"451 to RCPT", fakeSMTP(t, "220 fake", map[string]string{"RCPT": "451 4.3.0 try later"}), []string{"b@example.test"}, msg, 75, "try later"},
		{"550 to RCPT", fakeSMTP(t, "220 fake", map[string]string{"RCPT": "550 5.1.1 no such user"}), []string{"b@example.test"}, msg, 69, "no such user"},
		{"554 after DATA", fakeSMTP(t, "220 fake", map[string]string{".": "554 5.6.0 rejected"}), []string{"b@example.test"}, msg, 69, "rejected"},
		{"accepted by a fake", fakeSMTP(t, "220 fake", nil), []string{"b@example.test"}, msg, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := tt.addr
			if addr == "" {
				addr = closedAddr(t) // usage errors must fail before connecting
			}
			r := runCLI(t, map[string]string{"MAILSINK_SMTP_ADDR": addr}, tt.stdin, append([]string{"sendmail"}, tt.args...)...)
			if r.code != tt.want || !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseSendmailArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    sendmailOpts
		wantErr bool
	}{
		{"recipients only", []string{"a@x", "b@y"}, sendmailOpts{rcpts: []string{"a@x", "b@y"}}, false},
		{"grouped -ti", []string{"-ti"}, sendmailOpts{extract: true}, false},
		{"-f separate", []string{"-f", "s@x", "a@x"}, sendmailOpts{sender: "s@x", senderSet: true, rcpts: []string{"a@x"}}, false},
		{"-fADDR", []string{"-fs@x"}, sendmailOpts{sender: "s@x", senderSet: true}, false},
		{"-r ADDR", []string{"-r", "s@x"}, sendmailOpts{sender: "s@x", senderSet: true}, false},
		{"-F NAME", []string{"-F", "A B", "-FC"}, sendmailOpts{fullName: "C"}, false},
		{"-- ends options", []string{"-t", "--", "-x@y", "-t"}, sendmailOpts{extract: true, rcpts: []string{"-x@y", "-t"}}, false},
		{"ignored", []string{"-oi", "-i", "-oem", "-bm", "-odb", "-U", "-h", "5", "-Lsm", "-em"}, sendmailOpts{}, false},
		{"--smtp-addr", []string{"--smtp-addr", "h:1", "a@x"}, sendmailOpts{smtpAddr: "h:1", addrSet: true, rcpts: []string{"a@x"}}, false},
		{"--smtp-addr=", []string{"--smtp-addr=h:2"}, sendmailOpts{smtpAddr: "h:2", addrSet: true}, false},
		{"-smtp-addr=", []string{"-smtp-addr=h:3"}, sendmailOpts{smtpAddr: "h:3", addrSet: true}, false},
		{"--starttls", []string{"--starttls"}, sendmailOpts{startTLS: true}, false},
		{"--starttls=false", []string{"--starttls", "--starttls=false"}, sendmailOpts{}, false},
		{"--help", []string{"--help"}, sendmailOpts{help: true}, false},
		{"-t with junk", []string{"-tx"}, sendmailOpts{}, true},
		{"-F without value", []string{"-F"}, sendmailOpts{}, true},
		{"--smtp-addr without value", []string{"--smtp-addr"}, sendmailOpts{}, true},
		{"--starttls=maybe", []string{"--starttls=maybe"}, sendmailOpts{}, true},
		{"-bp", []string{"-bp"}, sendmailOpts{}, true},
		{"-q", []string{"-q"}, sendmailOpts{}, true},
	}
	for _, tt := range tests {
		got, err := parseSendmailArgs(tt.args)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil && !(got.extract == tt.want.extract && got.sender == tt.want.sender && got.senderSet == tt.want.senderSet &&
			got.fullName == tt.want.fullName && got.smtpAddr == tt.want.smtpAddr && got.addrSet == tt.want.addrSet &&
			got.startTLS == tt.want.startTLS && got.help == tt.want.help && slices.Equal(got.rcpts, tt.want.rcpts)) {
			t.Errorf("%s: got %+v, want %+v", tt.name, *got, tt.want)
		}
	}
}

func TestSplitHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		in         string
		wantFields []string
		wantBody   string
	}{
		{"header and body", "A: 1\r\nB: 2\r\n 2b\r\n\r\nbody\r\n", []string{"A: 1\r\n", "B: 2\r\n 2b\r\n"}, "body\r\n"},
		{"header only, no final newline", "A: 1\r\nB: 2", []string{"A: 1\r\n", "B: 2\r\n"}, ""},
		{"no header", "hello world\r\n", nil, "hello world\r\n"},
		{"header ends at a non-field line", "A: 1\r\nnot a field\r\nmore\r\n", []string{"A: 1\r\n"}, "not a field\r\nmore\r\n"},
		{"leading continuation is body", " x: y\r\n", nil, " x: y\r\n"},
		{"empty", "", nil, ""},
	}
	for _, tt := range tests {
		fields, body, _ := splitHeader([]byte(tt.in))
		var raws []string
		for _, f := range fields {
			raws = append(raws, f.raw)
		}
		if !slices.Equal(raws, tt.wantFields) || string(body) != tt.wantBody {
			t.Errorf("%s: fields %q body %q, want %q %q", tt.name, raws, body, tt.wantFields, tt.wantBody)
		}
	}
	for in, want := range map[string]string{"a\nb\r\nc\rd\n": "a\r\nb\r\nc\rd\r\n", "\n\n": "\r\n\r\n", "x": "x"} {
		if got := string(toCRLF([]byte(in))); got != want {
			t.Errorf("toCRLF(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSendmailArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		argv, want []string
	}{
		{[]string{"/usr/sbin/sendmail", "-t", "-i"}, []string{"sendmail", "-t", "-i"}},
		{[]string{"sendmail"}, []string{"sendmail"}},
		{[]string{"/usr/local/bin/mailsink", "list"}, []string{"list"}},
		{[]string{"mailsink"}, []string{}},
		{[]string{"/usr/sbin/sendmail.postfix", "-t"}, []string{"-t"}},
	}
	for _, tt := range tests {
		if got := sendmailArgs(tt.argv); !slices.Equal(got, tt.want) {
			t.Errorf("sendmailArgs(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
}

// TestSendmailSymlink runs the built binary through a symlink named
// sendmail, the way PHP's sendmail_path or cron would.
func TestSendmailSymlink(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	link := filepath.Join(t.TempDir(), "sendmail")
	if err := os.Symlink(binary(t), link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link, "-t", "-i")
	cmd.Env = append(os.Environ(), "MAILSINK_SMTP_ADDR="+s.smtp)
	cmd.Stdin = strings.NewReader("From: php@app.test\nTo: user@example.test\nSubject: toksymlink\n\nsent via a symlink\n")
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s -t -i: %v\n%s", link, err, out)
	}
	m, _ := findMessage(t, s, "toksymlink")
	if m.ReturnPath != "php@app.test" || !slices.Equal(m.rcpts(), []string{"user@example.test"}) {
		t.Errorf("ReturnPath %q rcpts %v", m.ReturnPath, m.rcpts())
	}

	// Exit codes reach the shell: no recipients is EX_USAGE.
	cmd = exec.Command(link)
	cmd.Stdin = strings.NewReader("x")
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 64 {
		t.Errorf("sendmail without recipients: %v, want exit status 64", err)
	}
}
