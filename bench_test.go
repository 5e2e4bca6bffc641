package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

// runBenchJSON runs `mailsink bench ARGS --json` and decodes its report.
func runBenchJSON(t *testing.T, args ...string) (int, benchReport, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := dispatch(context.Background(), append([]string{"bench", "--json"}, args...), noEnv, nil, &out, &errOut)
	var rep benchReport
	if out.Len() > 0 {
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("--json output does not parse: %v\n%s", err, out.String())
		}
	}
	return code, rep, errOut.String()
}

// checkSane asserts the invariants of any clean result of n messages.
func checkSane(t *testing.T, name string, r *benchResult, n int) {
	t.Helper()
	if r == nil {
		t.Fatalf("%s: no result", name)
	}
	if r.Acked != n || r.Attempted != n || r.ErrorCount != 0 || len(r.Errors) != 0 {
		t.Errorf("%s: acked %d of %d, %d errors %v; want all %d, none", name, r.Acked, r.Attempted, r.ErrorCount, r.Errors, n)
	}
	if r.MsgPerSec <= 0 || r.MBPerSec <= 0 || r.WallSeconds <= 0 || r.Bytes <= 0 {
		t.Errorf("%s: msg/s %v, MB/s %v, wall %v s, bytes %d; want all > 0", name, r.MsgPerSec, r.MBPerSec, r.WallSeconds, r.Bytes)
	}
	a := r.AckMS
	if !(0 < a.P50 && a.P50 <= a.P90 && a.P90 <= a.P99 && a.P99 <= a.Max) {
		t.Errorf("%s: ack ms %+v, want 0 < p50 <= p90 <= p99 <= max", name, a)
	}
}

// benchIndex is the message number in a bench Message-ID ("run.N@…").
func benchIndex(t *testing.T, runID, msgID string) int {
	t.Helper()
	rest, ok := strings.CutPrefix(msgID, runID+".")
	num, _, ok2 := strings.Cut(rest, "@")
	i, err := strconv.Atoi(num)
	if !ok || !ok2 || err != nil {
		t.Fatalf("Message-ID %q is not one of run %s", msgID, runID)
	}
	return i
}

// dotUnstuff undoes dotStuff: what the server must store.
func dotUnstuff(b []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		out = append(out, bytes.TrimPrefix(line, []byte("."))...)
	}
	return out
}

func TestBenchAgainstServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		rcpts     int
		pipelined bool
		ownPID    bool // --pid of this process, which runs the server
	}{
		{name: "text", args: []string{"--shape=text"}, rcpts: 1},
		{name: "multipart", args: []string{"--shape=multipart"}, rcpts: 1, ownPID: true},
		{name: "rcpts pipelined", args: []string{"--shape=rcpts", "--pipeline"}, rcpts: benchRcpts, pipelined: true},
		{name: "one connection pipelined", args: []string{"--conns=1", "--pipeline", "--size=4KiB"}, rcpts: 1, pipelined: true},
	}
	const n = 200
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, nil)
			args := append([]string{"--smtp-addr=" + s.smtp, "--http=" + s.http, "--messages=" + strconv.Itoa(n), "--conns=5", "--sample=10"}, tt.args...)
			if tt.ownPID {
				args = append(args, "--pid="+strconv.Itoa(os.Getpid()))
			}
			code, rep, stderr := runBenchJSON(t, args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %s", code, stderr)
			}
			r := rep.Target
			checkSane(t, "target", r, n)
			if rep.Sink != nil || rep.Ratio != nil {
				t.Errorf("sink %v, ratio %v without --sink", rep.Sink, rep.Ratio)
			}
			if r.Pipelined != tt.pipelined {
				t.Errorf("pipelined = %v, want %v", r.Pipelined, tt.pipelined)
			}

			v := r.Visible
			if v == nil {
				t.Fatal("no time-to-visible with --http")
			}
			if v.Sampled != n/10 || v.Seen != v.Sampled || v.AllSeen != n {
				t.Errorf("visible: %d of %d samples seen, %d events of the run; want all of %d, %d", v.Seen, v.Sampled, v.AllSeen, n/10, n)
			}
			if v.MS.P50 > v.MS.P99 || v.MS.P99 > v.MS.Max || v.MS.P50 < 0 {
				t.Errorf("visible ms %+v, want 0 <= p50 <= p99 <= max", v.MS)
			}

			// The server runs in this process: only an explicit --pid
			// measures it, and then its CPU time includes the client's.
			if tt.ownPID != (r.Server != nil) {
				t.Fatalf("server stats %+v with --pid %v", r.Server, tt.ownPID)
			}
			if r.Server != nil && (r.Server.CPUMS <= 0 || r.Server.PeakRSSMiB <= 0 || r.Server.HWMMiB < r.Server.StartRSSMiB) {
				t.Errorf("server stats %+v, want CPU and RSS > 0, VmHWM >= start", r.Server)
			}

			// Exactly the messages of the run were stored, each once.
			var list listReply
			getJSON(t, s.url("/api/v1/messages?limit=1000"), &list)
			if list.Total != n || len(list.Messages) != n {
				t.Fatalf("store holds %d messages (%d listed), want %d", list.Total, len(list.Messages), n)
			}
			seen := map[int]bool{}
			for _, m := range list.Messages {
				seen[benchIndex(t, rep.RunID, m.MessageID)] = true
			}
			if len(seen) != n {
				t.Errorf("%d distinct messages stored, want %d", len(seen), n)
			}

			// One message byte for byte: the body as generated (so the
			// dot-stuffing came undone exactly) and every recipient.
			m := list.Messages[0]
			i := benchIndex(t, rep.RunID, m.MessageID)
			gen := newBenchGen(rep.RunID, rep.Shape, rep.Size, rep.Rcpts, rep.Messages)
			_, want := gen.mail(i, nil)
			raw := getBytes(t, s.url("/api/v1/message/"+m.ID+"/raw"))
			if !bytes.HasSuffix(raw, dotUnstuff(want.body)) {
				t.Errorf("message %d: stored raw does not end with the generated body", i)
			}
			if !bytes.Contains(raw, []byte("\r\n.\r\n")) && rep.Shape != "multipart" {
				t.Errorf("message %d: the lone '.' line did not arrive", i)
			}
			if got := len(m.To) + len(m.Bcc); got != tt.rcpts {
				t.Errorf("message %d: %d recipients, want %d", i, got, tt.rcpts)
			}
		})
	}
}

func TestBenchSink(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	const n = 200
	code, rep, stderr := runBenchJSON(t, "--sink", "--smtp-addr="+s.smtp, "--http="+s.http, "--messages=200", "--conns=5", "--sample=20")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	checkSane(t, "sink", rep.Sink, n)
	checkSane(t, "target", rep.Target, n)
	if rep.Sink.Visible != nil || rep.Sink.Server != nil {
		t.Errorf("sink has visible %+v / server %+v; it has neither an API nor its own process", rep.Sink.Visible, rep.Sink.Server)
	}
	if rep.Target.Visible == nil || rep.Target.Visible.Seen != n/20 {
		t.Errorf("target visible = %+v, want all %d samples", rep.Target.Visible, n/20)
	}
	if rep.Ratio == nil || rep.Ratio.MsgPerSec <= 0 || rep.Ratio.MBPerSec <= 0 {
		t.Fatalf("ratio = %+v, want > 0", rep.Ratio)
	}
	if want := rep.Target.MsgPerSec / rep.Sink.MsgPerSec; rep.Ratio.MsgPerSec != want {
		t.Errorf("ratio %v, want target/sink = %v", rep.Ratio.MsgPerSec, want)
	}
	var list listReply
	getJSON(t, s.url("/api/v1/messages?limit=1"), &list)
	if list.Total != n {
		t.Errorf("store holds %d messages, want %d: the sink's must not arrive there", list.Total, n)
	}

	// The table names both servers and the ratio.
	var out bytes.Buffer
	if code := dispatch(context.Background(), []string{"bench", "--sink", "--smtp-addr=" + s.smtp, "--http=", "--messages=50", "--conns=2", "--shape=multipart", "--size=8KiB"},
		noEnv, nil, &out, io.Discard); code != 0 {
		t.Fatalf("table run: exit %d", code)
	}
	for _, want := range []string{"sink 127.0.0.1:", s.smtp, "target/sink", "msg/s", "MB/s", "ack p99 / max", "50 of 50", "×"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}

	// An empty --smtp-addr measures the sink alone.
	code, rep, stderr = runBenchJSON(t, "--sink", "--smtp-addr=", "--http=", "--messages=100", "--conns=3", "--shape=rcpts")
	if code != 0 || rep.Target != nil || rep.Ratio != nil {
		t.Fatalf("sink alone: exit %d, target %v, ratio %v; stderr %s", code, rep.Target, rep.Ratio, stderr)
	}
	checkSane(t, "sink alone", rep.Sink, 100)
}

func TestBenchSinkOnly(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, []string{"bench", "--sink-only", "--sink-addr=127.0.0.1:0"}, noEnv, nil, pw, io.Discard)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatal("no output from --sink-only")
	}
	var addr string
	if _, err := fmt.Sscanf(lines.Text(), "sink listening on %s", &addr); err != nil {
		t.Fatalf("first line %q: %v", lines.Text(), err)
	}

	code, rep, stderr := runBenchJSON(t, "--smtp-addr="+addr, "--http=", "--messages=150", "--conns=4", "--pipeline")
	if code != 0 {
		t.Fatalf("bench against the sink: exit %d, stderr %s", code, stderr)
	}
	checkSane(t, "target", rep.Target, 150)
	if !rep.Target.Pipelined || rep.Target.Visible != nil {
		t.Errorf("pipelined %v (the sink offers it), visible %+v (no --http)", rep.Target.Pipelined, rep.Target.Visible)
	}

	cancel()
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "sink: 150 messages") {
		t.Errorf("last line %q, want the sink's count of 150", lines.Text())
	}
	go io.Copy(io.Discard, pr)
	if code := <-done; code != 0 {
		t.Errorf("--sink-only exit %d after interrupt, want 0", code)
	}
}

func TestBenchErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--chaos-rule=rcpt:every=10:451 4.3.0 Try again later")
	const n = 100
	args := []string{"--smtp-addr=" + s.smtp, "--http=", "--messages=" + strconv.Itoa(n), "--conns=4"}
	code, rep, stderr := runBenchJSON(t, args...)
	if code != 1 || !strings.Contains(stderr, "--max-errors 0") {
		t.Errorf("exit %d, stderr %q; want 1 naming --max-errors", code, stderr)
	}
	r := rep.Target
	if r == nil || r.Errors["RCPT 451"] == 0 || r.ErrorCount != r.Errors["RCPT 451"] || r.Acked+r.ErrorCount != n {
		t.Fatalf("result %+v, want only RCPT 451 errors, and acked + errors = %d", r, n)
	}
	if !strings.Contains(r.ErrorSample["RCPT 451"], "Try again later") {
		t.Errorf("error sample %q, want the server's text", r.ErrorSample["RCPT 451"])
	}
	var list listReply
	getJSON(t, s.url("/api/v1/messages?limit=1"), &list)
	if list.Total != r.Acked {
		t.Errorf("store holds %d, want the %d acked", list.Total, r.Acked)
	}

	// Tolerated errors: exit 0, and a failed session reconnected.
	if code, rep, stderr := runBenchJSON(t, append(args, "--max-errors=1000")...); code != 0 || rep.Target.Acked == 0 {
		t.Errorf("--max-errors=1000: exit %d, acked %d; stderr %s", code, rep.Target.Acked, stderr)
	}

	// Nothing listening: every message is a connect error, quickly.
	code, rep, _ = runBenchJSON(t, "--smtp-addr="+closedAddr(t), "--http=", "--messages=10", "--conns=10")
	if code != 1 || rep.Target == nil || rep.Target.Errors["connect"] != 10 || rep.Target.Acked != 0 {
		t.Errorf("closed port: exit %d, result %+v; want 1 and 10 connect errors", code, rep.Target)
	}
}

func TestBenchUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{name: "help", args: []string{"--help"}, code: 0, wantErr: "--sink-only"},
		{name: "zero messages", args: []string{"--messages=0"}, code: 2, wantErr: "--messages"},
		{name: "zero conns", args: []string{"--conns=0"}, code: 2, wantErr: "--conns"},
		{name: "unknown shape", args: []string{"--shape=huge"}, code: 2, wantErr: "--shape"},
		{name: "tiny size", args: []string{"--size=10"}, code: 2, wantErr: "--size"},
		{name: "bad size", args: []string{"--size=lots"}, code: 2, wantErr: "size"},
		{name: "no rcpts", args: []string{"--rcpts=0"}, code: 2, wantErr: "--rcpts"},
		{name: "zero sample", args: []string{"--sample=0"}, code: 2, wantErr: "--sample"},
		{name: "sink and sink-only", args: []string{"--sink", "--sink-only"}, code: 2, wantErr: "exclude"},
		{name: "no target", args: []string{"--smtp-addr="}, code: 2, wantErr: "--smtp-addr"},
		{name: "bad target", args: []string{"--smtp-addr=nowhere"}, code: 2, wantErr: "--smtp-addr"},
		{name: "bad http", args: []string{"--http=ftp://x"}, code: 2, wantErr: "--http"},
		{name: "unknown flag", args: []string{"--nope"}, code: 2, wantErr: "nope"},
		{name: "argument", args: []string{"extra"}, code: 2, wantErr: "extra"},
		{name: "unreadable pid", args: []string{"--smtp-addr=" + closedAddr(t), "--http=", "--pid=999999999"}, code: 1, wantErr: "--pid"},
		{name: "unreachable http", args: []string{"--smtp-addr=" + closedAddr(t), "--http=" + closedAddr(t)}, code: 1, wantErr: "--http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var errOut bytes.Buffer
			code := dispatch(context.Background(), append([]string{"bench"}, tt.args...), noEnv, nil, io.Discard, &errOut)
			if code != tt.code || !strings.Contains(errOut.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d mentioning %q", code, errOut.String(), tt.code, tt.wantErr)
			}
		})
	}
}

func TestBenchMessageGenerator(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		shape string
		size  int
		rcpts int
	}{
		{"text 2KiB", "text", 2 << 10, 1},
		{"text small", "text", 1 << 10, 1},
		{"text 1MiB", "text", 1 << 20, 1},
		{"multipart 50KiB", "multipart", 50 << 10, 1},
		{"multipart 8KiB", "multipart", 8 << 10, 1},
		{"multipart 5MiB", "multipart", 5 << 20, 2},
		{"rcpts 20", "rcpts", 2 << 10, 20},
		{"rcpts 100 in 16KiB", "rcpts", 16 << 10, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const messages = 1000
			g := newBenchGen("0badc0de", tt.shape, tt.size, tt.rcpts, messages)
			ids, subjects := map[string]bool{}, map[string]bool{}
			for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 7, 63, 64, messages - 1} {
				_, m := g.mail(i, nil)
				wire := append(bytes.Clone(m.head), m.body...)
				if !bytes.HasSuffix(wire, []byte("\r\n")) {
					t.Fatalf("message %d does not end in CRLF", i)
				}
				// Stuffed: no line is a lone "." (it would end DATA), and
				// stuffing what the server will store gives the wire back.
				raw := dotUnstuff(wire)
				if bytes.HasPrefix(wire, []byte(".\r\n")) || bytes.Contains(wire, []byte("\n.\r\n")) {
					t.Errorf("message %d has an unstuffed '.' line", i)
				}
				if got := dotStuff(nil, raw); !bytes.Equal(got, wire) {
					t.Errorf("message %d: stuffing is not exactly one '.' per dot line", i)
				}
				if tt.shape != "multipart" && !bytes.Contains(raw, []byte("\r\n.\r\n")) {
					t.Errorf("message %d has no lone '.' line to exercise stuffing", i)
				}
				if lo, hi := tt.size*9/10, tt.size*11/10; len(raw) < lo || len(raw) > hi {
					t.Errorf("message %d is %d bytes, want %d ± 10%%", i, len(raw), tt.size)
				}

				msg, err := mail.ReadMessage(bytes.NewReader(raw))
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				h := msg.Header
				if got, want := h.Get("Message-Id"), "<"+g.messageID(i)+">"; got != want || m.id != g.messageID(i) {
					t.Errorf("message %d: Message-ID %q (id %q), want %q", i, got, m.id, want)
				}
				if s := h.Get("Subject"); !strings.Contains(s, "0badc0de #"+strconv.Itoa(i)+" ") {
					t.Errorf("message %d: Subject %q lacks the run id and number", i, s)
				}
				ids[h.Get("Message-Id")], subjects[h.Get("Subject")] = true, true
				to, err := h.AddressList("To")
				if err != nil || len(to) != tt.rcpts || len(m.rcpts) != tt.rcpts {
					t.Errorf("message %d: To %v (%v), envelope %v; want %d recipients", i, to, err, m.rcpts, tt.rcpts)
				}
				if _, err := h.Date(); err != nil {
					t.Errorf("message %d: Date: %v", i, err)
				}
				body, _ := io.ReadAll(msg.Body)
				mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
				switch {
				case err != nil:
					t.Errorf("message %d: Content-Type: %v", i, err)
				case tt.shape == "multipart":
					checkBenchMultipart(t, i, mt, params, body)
				case mt != "text/plain" || len(strings.Fields(string(body))) < 10:
					t.Errorf("message %d: %s with %d words, want text/plain prose", i, mt, len(strings.Fields(string(body))))
				}
			}
			if len(ids) != 11 || len(subjects) != 11 {
				t.Errorf("%d distinct Message-IDs, %d distinct Subjects of 11 messages", len(ids), len(subjects))
			}
		})
	}
}

// checkBenchMultipart walks the expected multipart/mixed tree: an
// alternative of text and HTML, then a base64 PDF attachment.
func checkBenchMultipart(t *testing.T, i int, mt string, params map[string]string, body []byte) {
	t.Helper()
	if mt != "multipart/mixed" {
		t.Fatalf("message %d: %s, want multipart/mixed", i, mt)
	}
	var got []string
	var walk func(r *multipart.Reader)
	walk = func(r *multipart.Reader) {
		for {
			p, err := r.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			pt, pp, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if err != nil {
				t.Fatalf("message %d: part Content-Type: %v", i, err)
			}
			got = append(got, pt)
			data, _ := io.ReadAll(p)
			switch {
			case strings.HasPrefix(pt, "multipart/"):
				walk(multipart.NewReader(bytes.NewReader(data), pp["boundary"]))
			case p.Header.Get("Content-Transfer-Encoding") == "base64":
				dec, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(data)))
				if err != nil || !bytes.HasPrefix(dec, []byte("%PDF-")) || p.FileName() == "" {
					t.Errorf("message %d: attachment %q: %d bytes, %v", i, p.FileName(), len(dec), err)
				}
			case len(strings.Fields(string(data))) < 5:
				t.Errorf("message %d: %s part has almost no words", i, pt)
			}
		}
	}
	walk(multipart.NewReader(bytes.NewReader(body), params["boundary"]))
	want := []string{"multipart/alternative", "text/plain", "text/html", "application/pdf"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("message %d: parts %v, want %v", i, got, want)
	}
}

func TestBenchDotStuff(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"no dots", "a\r\nb\r\n", "a\r\nb\r\n"},
		{"leading dot", ".a\r\n", "..a\r\n"},
		{"lone dot", "x\r\n.\r\ny\r\n", "x\r\n..\r\ny\r\n"},
		{"already two dots", "..\r\n", "...\r\n"},
		{"dot inside a line", "a.b\r\n. c\r\n", "a.b\r\n.. c\r\n"},
		{"no final CRLF", "a\r\n.b", "a\r\n..b\r\n"},
		{"only a dot", ".", "..\r\n"},
		{"empty", "", "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(dotStuff(nil, []byte(tt.in))); got != tt.want {
				t.Errorf("dotStuff(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestBenchSinkDataEnd(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 200<<10)
	tests := []struct {
		name, in string
		want     int // bytes read up to the end of the "." line; -1: none
	}{
		{"simple", "a\r\n.\r\nMAIL", 6},
		{"stuffed dot is content", "..\r\n.\r\n", 7},
		{"dot mid-line is content", "a.\r\nb .\r\n.\r\n", 12},
		{"bare LF end", "a\n.\n", 4},
		{"a long line ending in a dot is content", long + ".\r\n.\r\n", len(long) + 6},
		{"no end", "a\r\n.b\r\n", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := discardData(bufio.NewReaderSize(strings.NewReader(tt.in), 64<<10))
			if tt.want < 0 {
				if err == nil {
					t.Errorf("found an end in %q", tt.in)
				}
				return
			}
			if err != nil || n != int64(tt.want) {
				t.Errorf("read %d, %v; want %d", n, err, tt.want)
			}
		})
	}
}

func TestBenchPercentilesAndURL(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if got, want := benchPercentiles(ds), (benchLatency{P50: 50, P90: 90, P99: 99, Max: 100}); got != want {
		t.Errorf("percentiles of 1..100 ms = %+v, want %+v", got, want)
	}
	if got := benchPercentiles(nil); got != (benchLatency{}) {
		t.Errorf("percentiles of nothing = %+v", got)
	}
	for in, want := range map[string]string{
		"127.0.0.1:8025":         "ws://127.0.0.1:8025/api/events",
		"http://localhost:8025/": "ws://localhost:8025/api/events",
		"https://mail.test/sink": "wss://mail.test/sink/api/events",
	} {
		if got, err := benchEventsURL(in); got != want || err != nil {
			t.Errorf("benchEventsURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestBenchListenerPID(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	if got := listenerPID(s.smtp); got != os.Getpid() {
		t.Errorf("listenerPID(%s) = %d, want this process %d", s.smtp, got, os.Getpid())
	}
	for _, addr := range []string{closedAddr(t), "192.0.2.1:25", "nonsense"} {
		if got := listenerPID(addr); got != 0 {
			t.Errorf("listenerPID(%s) = %d, want 0", addr, got)
		}
	}
}
