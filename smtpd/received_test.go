package smtpd_test

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailsink/smtpd"
)

const dateRe = `((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4})`

func TestTraceHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		network string
		lookup  func(ctx context.Context, ip string) ([]string, error)
		script  string
		want    string // regexp for the prepended fields; (ID) and (DATE) are placeholders
	}{
		{"one recipient with rDNS", "tcp4",
			func(ctx context.Context, ip string) ([]string, error) {
				if ip != "127.0.0.1" {
					return nil, errors.New("unexpected ip " + ip)
				}
				return []string{"bad name (with spaces).", "host.example."}, nil
			}, `
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
S: 250 2.1.0
S: 250 2.1.5`,
			`Return-Path: <a@x\.test>\r\nReceived: from client\.test \(host\.example \[127\.0\.0\.1\]\)\r\n\tby mx\.test \(mailsink\) with ESMTP id (ID)\r\n\tfor <b@y\.test>; (DATE)\r\n`},
		{"null sender, two recipients, no rDNS", "tcp4", nil, `
C: MAIL FROM:<>
C: RCPT TO:<b@y.test>
C: RCPT TO:<c@y.test>
S: 250 2.1.0
S: 250 2.1.5
S: 250 2.1.5`,
			`Return-Path: <>\r\nReceived: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test \(mailsink\) with ESMTP id (ID);\r\n\t(DATE)\r\n`},
		{"IPv6 and a resolver that never answers", "tcp6",
			func(ctx context.Context, ip string) ([]string, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}, `
C: MAIL FROM:<a@x.test>
C: RCPT TO:<Postmaster>
S: 250 2.1.0
S: 250 2.1.5`,
			`Return-Path: <a@x\.test>\r\nReceived: from client\.test \(\[IPv6:::1\]\)\r\n\tby mx\.test \(mailsink\) with ESMTP id (ID)\r\n\tfor <Postmaster>; (DATE)\r\n`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			if tt.lookup != nil {
				cfg.LookupAddr = tt.lookup
			}
			host := "127.0.0.1:0"
			if tt.network == "tcp6" {
				host = "[::1]:0"
			}
			ln, err := net.Listen(tt.network, host)
			if err != nil {
				t.Skipf("no %s loopback: %v", tt.network, err)
			}
			be := &recorder{}
			srv := smtpd.New(cfg, be, discardLogger())
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			c := dial(t, ln.Addr().String())
			before := time.Now().Add(-time.Second)
			runTranscript(t, c, "C: EHLO client.test\nS: 250 *\n"+tt.script+"\nC: DATA\nS: 354 ...\nC: Subject: x\nC:\nC: hi\nC: .\nS: 250 2.0.0")
			after := time.Now().Add(time.Second)
			msgs := be.messages()
			if len(msgs) != 1 {
				t.Fatalf("messages = %d, want 1", len(msgs))
			}
			re := regexp.MustCompile("^" + strings.NewReplacer("(ID)", `([A-Z2-7]{26})`, "(DATE)", dateRe).Replace(tt.want) + "Subject: x\r\n\r\nhi\r\n$")
			m := re.FindStringSubmatch(string(msgs[0].data))
			if m == nil {
				t.Fatalf("message = %q\nwant match for %q", msgs[0].data, re)
			}
			if m[1] != msgs[0].env.ID {
				t.Errorf("Received id = %q, want Envelope.ID %q", m[1], msgs[0].env.ID)
			}
			date, err := time.Parse(time.RFC1123Z, m[2])
			if err != nil || date.Before(before.Truncate(time.Second)) || date.After(after) {
				t.Errorf("Received date = %q (%v), want now", m[2], err)
			}
		})
	}
}

// TestEnvelope checks every Envelope field and the transcript of two
// messages in one session.
func TestEnvelope(t *testing.T) {
	t.Parallel()
	be := &recorder{}
	_, addr := newTestServer(t, testConfig(), be)
	c := dial(t, addr)
	before := time.Now()
	runTranscript(t, c, `
C: EHLO client.test
S: 250 *
C: MAIL FROM:<ü@x.test> body=8bitmime SMTPUTF8 ENVID=QQ+2B1 ret=hdrs SIZE=50
C: RCPT TO:<b@y.test> notify=success,delay ORCPT=rfc822;b+40y.test
C: RCPT TO:<@r.test:c@y.test>
C: DATA
S: 250 2.1.0
S: 250 2.1.5
S: 250 2.1.5
S: 354 ...
C: Subject: first
C:
C: secret body text
C: .
S: 250 2.0.0
C: NOOP
S: 250 2.0.0
C: MAIL FROM:<a@x.test>
C: RCPT TO:<d@y.test>
C: DATA
S: 250 2.1.0
S: 250 2.1.5
S: 354 ...
C: second secret
C: .
S: 250 2.0.0`)
	after := time.Now()
	msgs := be.messages()
	if len(msgs) != 2 {
		t.Fatalf("messages = %d, want 2", len(msgs))
	}
	env := msgs[0].env
	if len(env.ID) < 20 || strings.Trim(env.ID, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" || env.ID == msgs[1].env.ID {
		t.Errorf("IDs = %q, %q: want distinct URL-safe ids of 20+ chars", env.ID, msgs[1].env.ID)
	}
	if env.RemoteAddr.String() != c.nc.LocalAddr().String() || env.LocalAddr.String() != addr {
		t.Errorf("RemoteAddr, LocalAddr = %v, %v; want %v, %v", env.RemoteAddr, env.LocalAddr, c.nc.LocalAddr(), addr)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Helo", env.Helo, "client.test"},
		{"ESMTP", env.ESMTP, true},
		{"TLS", env.TLS == nil, true},
		{"AuthUser", env.AuthUser, ""},
		{"From", env.From, "ü@x.test"},
		{"FromParams", fmtParams(env.FromParams), "BODY=8bitmime SMTPUTF8 ENVID=QQ+2B1 RET=hdrs SIZE=50"},
		{"Rcpts", len(env.Rcpts), 2},
		{"Rcpt0", env.Rcpts[0].Address + " " + fmtParams(env.Rcpts[0].Params), "b@y.test NOTIFY=success,delay ORCPT=rfc822;b+40y.test"},
		{"Rcpt1", env.Rcpts[1].Address + " " + fmtParams(env.Rcpts[1].Params), "c@y.test "},
		{"Protocol", env.Protocol, "UTF8SMTP"},
		{"Body", env.Body, "8BITMIME"},
		{"SMTPUTF8", env.SMTPUTF8, true},
		{"Chunked", env.Chunked, false},
		{"Received", !env.Received.Before(before) && !env.Received.After(after), true},
		{"second Protocol", msgs[1].env.Protocol, "ESMTP"},
		{"second Body", msgs[1].env.Body, "7BIT"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}

	first := transcriptText(env.Transcript)
	wantFirst := []string{
		"S 220 mx.test ESMTP mailsink",
		"C EHLO client.test",
		"S 250-mx.test Hello client.test",
		"C MAIL FROM:<ü@x.test> body=8bitmime SMTPUTF8 ENVID=QQ+2B1 ret=hdrs SIZE=50",
		"S 354 Start mail input; end with <CRLF>.<CRLF>",
		"* [message data: 36 octets]",
	}
	for _, w := range wantFirst {
		if !strings.Contains(first, w+"\n") {
			t.Errorf("first transcript lacks %q:\n%s", w, first)
		}
	}
	if !strings.HasSuffix(first, "* [message data: 36 octets]\n") {
		t.Errorf("first transcript should end with the data line:\n%s", first)
	}
	second := transcriptText(msgs[1].env.Transcript)
	for _, w := range []string{"C EHLO client.test", "transcript lines of earlier transactions omitted", "C NOOP", "C MAIL FROM:<a@x.test>", "* [message data: 15 octets]"} {
		if !strings.Contains(second, w) {
			t.Errorf("second transcript lacks %q:\n%s", w, second)
		}
	}
	for _, tr := range []string{first, second} {
		if strings.Contains(tr, "secret") || strings.Contains(tr, "Subject") {
			t.Errorf("transcript contains message content:\n%s", tr)
		}
	}
	if strings.Contains(second, "ü@x.test") {
		t.Errorf("second transcript repeats the first transaction:\n%s", second)
	}
	for i, l := range env.Transcript {
		if l.Time.IsZero() || i > 0 && l.Time.Before(env.Transcript[i-1].Time) {
			t.Errorf("transcript line %d has a bad time %v", i, l.Time)
		}
	}
}

func fmtParams(ps []smtpd.Param) string {
	var s []string
	for _, p := range ps {
		if p.Value == "" {
			s = append(s, p.Key)
		} else {
			s = append(s, p.Key+"="+p.Value)
		}
	}
	return strings.Join(s, " ")
}

func transcriptText(tr []smtpd.TranscriptLine) string {
	var b strings.Builder
	for _, l := range tr {
		b.WriteString(l.Dir + " " + l.Text + "\n")
	}
	return b.String()
}

// TestHeloProtocol: a HELO session is plain "SMTP".
func TestHeloProtocol(t *testing.T) {
	t.Parallel()
	be := &recorder{}
	_, addr := newTestServer(t, testConfig(), be)
	runTranscript(t, dial(t, addr), "C: HELO old.test\nS: 250 mx.test Hello old.test\nC: MAIL FROM:<a@x.test>\nC: RCPT TO:<b@y.test>\nC: DATA\nS: 250 2.1.0\nS: 250 2.1.5\nS: 354 ...\nC: .\nS: 250 2.0.0")
	msgs := be.messages()
	if len(msgs) != 1 || msgs[0].env.Protocol != "SMTP" || msgs[0].env.ESMTP || msgs[0].env.Helo != "old.test" {
		t.Fatalf("messages = %+v", msgs)
	}
	if !strings.Contains(string(msgs[0].data), "with SMTP id ") {
		t.Errorf("Received lacks 'with SMTP': %q", msgs[0].data)
	}
}
