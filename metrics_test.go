package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"mailsink/smtpd/chaos"
	"mailsink/store"
)

// logCapture collects the server's log and signals each "session ended"
// line, which smtpd writes after telling the Observer: once the test has
// seen it, the session is out of mailsink_smtp_sessions_active.
type logCapture struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ended chan struct{}
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if bytes.Contains(p, []byte(`msg="session ended"`)) {
		l.ended <- struct{}{}
	}
	return l.buf.Write(p)
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitSessions waits for n more sessions to end.
func (l *logCapture) waitSessions(tb testing.TB, n int) {
	tb.Helper()
	timeout := time.After(10 * time.Second)
	for range n {
		select {
		case <-l.ended:
		case <-timeout:
			tb.Fatalf("sessions did not end; log:\n%s", l.String())
		}
	}
}

// scrape GETs /metrics and parses the Prometheus text format.
func scrape(tb testing.TB, url string, header http.Header) map[string]*dto.MetricFamily {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s = %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		tb.Errorf("Content-Type = %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		tb.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// metricValue is the value of the series of name whose labels include
// labels (a counter's or gauge's value, a histogram's sample count), and
// whether there is one.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// TestMetricsEndToEnd runs the real server, sends mail that is stored,
// rejected by a chaos rule, too big, refused at RCPT by a magic address,
// sent after AUTH and over STARTTLS, opens a websocket and calls the
// API; then scrapes /metrics and checks the figures, the log lines and
// that the session id of the log is in the message's transcript.
func TestMetricsEndToEnd(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "chaos.json")
	rules := `[{"Name": "reject-flagged", "Stage": "message", "Match": {"Header": {"Name": "X-Reject"}}, "Code": 554, "Enhanced": "5.7.1", "Text": "Flagged"}]`
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logCapture{ended: make(chan struct{}, 16)}
	s := startServerLogging(t, nil, logs, "--chaos="+file, "--chaos-magic", "--max-message-size=4096", "--log-level=info")

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+s.http+"/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	const marker = "BODY-MARKER-5c1e9d"
	content := func(header string) string {
		return header + "Subject: metrics\r\n\r\n" + marker + "\r\n.\r\n"
	}

	// Session 1: stored, rejected by chaos, too big, refused at RCPT.
	c := dialSMTP(t, s.smtp)
	c.cmd(250, "EHLO app.test")
	reply, _ := c.sendDATA("a@app.test", "b@example.test", []byte("Subject: ok\r\n\r\n"+marker+"\r\n"))
	id := queuedID.FindStringSubmatch(reply)[1]
	for _, tt := range []struct {
		content string
		code    int
	}{
		{content("X-Reject: yes\r\n"), 554},
		{strings.Repeat("x", 5000) + "\r\n.\r\n", 552},
	} {
		c.cmd(250, "MAIL FROM:<a@app.test>")
		c.cmd(250, "RCPT TO:<b@example.test>")
		c.cmd(354, "DATA")
		if _, err := c.nc.Write([]byte(tt.content)); err != nil {
			t.Fatal(err)
		}
		c.expect(tt.code)
	}
	c.cmd(250, "MAIL FROM:<a@app.test>")
	c.cmd(450, "RCPT TO:<user+smtp450@example.test>")
	c.cmd(250, "RSET")
	c.cmd(221, "QUIT")

	// Session 2: AUTH, failed then good, and a message.
	a := dialSMTP(t, s.smtp)
	a.cmd(250, "EHLO app.test")
	a.cmd(535, "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00\x00pw")))
	a.cmd(235, "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00alice\x00pw-secret-1")))
	a.sendDATA("a@app.test", "b@example.test", []byte("Subject: auth\r\n\r\n"+marker+"\r\n"))
	a.cmd(221, "QUIT")

	// Session 3: STARTTLS (the self-signed certificate).
	sc, err := smtp.Dial(s.smtp)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Fatal(err)
	}
	if err := smtpSend(sc, "Subject: tls\r\n\r\n"+marker+"\r\n"); err != nil {
		t.Fatal(err)
	}
	logs.waitSessions(t, 3)

	var list listReply
	getJSON(t, s.url("/api/v1/messages"), &list)
	var transcript []struct{ Dir, Text string }
	getJSON(t, s.url("/api/v1/message/"+id+"/transcript"), &transcript)

	fams := scrape(t, s.url("/metrics"), nil)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mailsink_smtp_sessions_total", nil, 3},
		{"mailsink_smtp_sessions_active", nil, 0},
		{"mailsink_smtp_messages_total", []string{"code", "250"}, 3},
		{"mailsink_smtp_messages_total", []string{"code", "554"}, 1},
		{"mailsink_smtp_messages_total", []string{"code", "552"}, 1},
		{"mailsink_smtp_replies_total", []string{"code", "450"}, 1},
		{"mailsink_smtp_replies_total", []string{"code", "221"}, 3},
		{"mailsink_smtp_auth_total", []string{"result", "ok"}, 1},
		{"mailsink_smtp_auth_total", []string{"result", "failed"}, 1},
		{"mailsink_smtp_tls_handshakes_total", []string{"mode", "starttls", "result", "ok"}, 1},
		{"mailsink_ingest_duration_seconds", nil, 3},
		{"mailsink_chaos_rule_fired_total", []string{"rule", "reject-flagged", "stage", "message"}, 1},
		{"mailsink_chaos_rule_fired_total", []string{"origin", "magic"}, 1},
		{"mailsink_chaos_actions_total", []string{"action", "reply"}, 2},
		{"mailsink_chaos_active", nil, 1},
		{"mailsink_store_messages", nil, 3},
		{"mailsink_websocket_clients", nil, 1},
		{"mailsink_http_request_duration_seconds", []string{"route", "GET /api/v1/message/{id}/transcript"}, 1},
		{"mailsink_http_requests_total", []string{"route", "GET /api/v1/messages", "code", "200"}, 1},
	}
	for _, ch := range checks {
		got, ok := metricValue(fams, ch.name, ch.labels...)
		if !ok || got != ch.want {
			t.Errorf("%s%v = %v (found %v), want %v", ch.name, ch.labels, got, ok, ch.want)
		}
	}
	for _, name := range []string{"mailsink_store_size_bytes", "mailsink_smtp_message_bytes_total", "go_goroutines", "process_cpu_seconds_total"} {
		if v, ok := metricValue(fams, name); !ok || v <= 0 {
			t.Errorf("%s = %v (found %v), want > 0", name, v, ok)
		}
	}
	// Routes are patterns, never paths: no message id in any label.
	for _, m := range fams["mailsink_http_request_duration_seconds"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if strings.Contains(lp.GetValue(), id) {
				t.Errorf("route label %q holds a message id", lp.GetValue())
			}
		}
	}
	if len(list.Messages) != 3 {
		t.Errorf("API lists %d messages, want 3", len(list.Messages))
	}

	// The stored message's log line names its session; the transcript
	// starts with the same id.
	out := logs.String()
	m := regexp.MustCompile(`msg="message stored" component=smtpd session=(\S+) remote=\S+ id=` + id + ` `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no message stored line for %s:\n%s", id, out)
	}
	if len(transcript) == 0 || transcript[0].Dir != "*" || !strings.HasPrefix(transcript[0].Text, "session "+m[1]+" from ") {
		t.Errorf("transcript does not start with session %s: %+v", m[1], transcript)
	}
	if !regexp.MustCompile(`msg="session ended" component=smtpd session=` + m[1] + ` remote=\S+ helo=app\.test duration=\S+ messages=1 rejected=2 replies=\d+ tls=false auth_user=""`).MatchString(out) {
		t.Errorf("no session ended line for %s:\n%s", m[1], out)
	}
	if n := strings.Count(out, `msg="message stored"`); n != 3 {
		t.Errorf("%d message stored lines, want 3:\n%s", n, out)
	}
	for _, secret := range []string{marker, "pw-secret-1", "X-Reject"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q:\n%s", secret, out)
		}
	}
}

// smtpSend sends one message on an open net/smtp client and quits.
func smtpSend(c *smtp.Client, msg string) error {
	if err := c.Mail("a@app.test"); err != nil {
		return err
	}
	if err := c.Rcpt("b@example.test"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := fmt.Fprint(w, msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// TestMetricsBehindLogin: /metrics takes the API's guards, so with
// --ui-auth a scraper sends the bearer token.
func TestMetricsBehindLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--ui-auth=bearer:scrape-token")
	resp, err := http.Get(s.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /metrics without a token = %s, want 401", resp.Status)
	}
	fams := scrape(t, s.url("/metrics"), http.Header{"Authorization": {"Bearer scrape-token"}})
	if v, ok := metricValue(fams, "mailsink_build_info"); !ok || v != 1 {
		t.Errorf("mailsink_build_info = %v (found %v), want 1", v, ok)
	}
}

// TestMetricsFamilies pins the families /metrics serves, with their
// types: the ones client_golang served before mailsink wrote the format
// itself, so dashboards and alerts keep working. Families of a vector
// appear once it has a series; the store's go when its query fails.
func TestMetricsFamilies(t *testing.T) {
	t.Parallel()
	engine, err := chaos.New(chaos.Config{Magic: true}, chaos.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var storeErr error
	var mu sync.Mutex
	m := newMetrics(metricsSources{
		Version: "v1.2.3",
		Chaos:   engine,
		Stats: func(context.Context) (store.Stats, error) {
			mu.Lock()
			defer mu.Unlock()
			return store.Stats{Total: 7, Unread: 2, DBSize: 4096}, storeErr
		},
	})
	m.Reply(250)
	m.Message(0, 10)
	m.Request("GET /api/v1/messages", 200, time.Millisecond)
	var logs bytes.Buffer
	srv := httptest.NewServer(m.handler(slog.New(slog.NewTextHandler(&logs, nil))))
	defer srv.Close()

	types := map[string]dto.MetricType{}
	for _, name := range []string{
		"go_goroutines", "go_threads", "go_info", "go_memstats_last_gc_time_seconds", "go_gc_gogc_percent", "go_gc_gomemlimit_bytes",
		"go_sched_gomaxprocs_threads", "go_memstats_alloc_bytes", "go_memstats_buck_hash_sys_bytes", "go_memstats_gc_sys_bytes",
		"go_memstats_heap_alloc_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_heap_objects",
		"go_memstats_heap_released_bytes", "go_memstats_heap_sys_bytes", "go_memstats_mcache_inuse_bytes", "go_memstats_mcache_sys_bytes",
		"go_memstats_mspan_inuse_bytes", "go_memstats_mspan_sys_bytes", "go_memstats_next_gc_bytes", "go_memstats_other_sys_bytes",
		"go_memstats_stack_inuse_bytes", "go_memstats_stack_sys_bytes", "go_memstats_sys_bytes",
		"mailsink_build_info", "mailsink_chaos_active", "mailsink_smtp_sessions_active", "mailsink_store_messages",
		"mailsink_store_size_bytes", "mailsink_store_unread_messages", "mailsink_websocket_clients",
	} {
		types[name] = dto.MetricType_GAUGE
	}
	for _, name := range []string{
		"go_memstats_alloc_bytes_total", "go_memstats_frees_total", "go_memstats_mallocs_total",
		"mailsink_http_requests_total", "mailsink_smtp_auth_total", "mailsink_smtp_message_bytes_total",
		"mailsink_smtp_messages_total", "mailsink_smtp_replies_total", "mailsink_smtp_sessions_total",
		"mailsink_smtp_tls_handshakes_total", "promhttp_metric_handler_errors_total",
		"mailsink_chaos_rule_matched_total", "mailsink_chaos_rule_fired_total", // the magic addresses' rules
	} {
		types[name] = dto.MetricType_COUNTER
	}
	types["go_gc_duration_seconds"] = dto.MetricType_SUMMARY
	types["mailsink_ingest_duration_seconds"] = dto.MetricType_HISTOGRAM
	types["mailsink_http_request_duration_seconds"] = dto.MetricType_HISTOGRAM
	if runtime.GOOS == "linux" {
		for _, name := range []string{"process_max_fds", "process_open_fds", "process_resident_memory_bytes",
			"process_start_time_seconds", "process_virtual_memory_bytes", "process_virtual_memory_max_bytes"} {
			types[name] = dto.MetricType_GAUGE
		}
		for _, name := range []string{"process_cpu_seconds_total", "process_network_receive_bytes_total", "process_network_transmit_bytes_total"} {
			types[name] = dto.MetricType_COUNTER
		}
	}

	fams := scrape(t, srv.URL, nil)
	if got, want := slices.Sorted(maps.Keys(fams)), slices.Sorted(maps.Keys(types)); !slices.Equal(got, want) {
		t.Errorf("families served:\n%v\nwant\n%v", got, want)
	}
	for name, typ := range types {
		if f := fams[name]; f != nil && f.GetType() != typ {
			t.Errorf("%s is a %v, want a %v", name, f.GetType(), typ)
		}
	}
	for _, ch := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mailsink_build_info", []string{"version", "v1.2.3"}, 1},
		{"mailsink_store_messages", nil, 7},
		{"mailsink_store_unread_messages", nil, 2},
		{"mailsink_store_size_bytes", nil, 4096},
		{"mailsink_smtp_messages_total", []string{"code", "none"}, 1},
		{"mailsink_smtp_message_bytes_total", nil, 10},
		{"mailsink_http_request_duration_seconds", []string{"route", "GET /api/v1/messages"}, 1},
		{"mailsink_chaos_active", nil, 1},
		{"promhttp_metric_handler_errors_total", []string{"cause", "gathering"}, 0},
		{"go_info", []string{"version", runtime.Version()}, 1},
	} {
		if got, ok := metricValue(fams, ch.name, ch.labels...); !ok || got != ch.want {
			t.Errorf("%s%v = %v (found %v), want %v", ch.name, ch.labels, got, ok, ch.want)
		}
	}
	// The ingest histogram keeps its 14 bounds; the HTTP one its 16.
	for name, n := range map[string]int{"mailsink_ingest_duration_seconds": 14, "mailsink_http_request_duration_seconds": 16} {
		if b := fams[name].GetMetric()[0].GetHistogram().GetBucket(); len(b) != n+1 { // +Inf parsed as a bucket
			t.Errorf("%s has %d buckets, want %d and +Inf", name, len(b), n)
		}
	}

	// A failing store query: the store's families go, the rest stay, the
	// failure is logged and counted.
	mu.Lock()
	storeErr = errors.New("database is locked")
	mu.Unlock()
	fams = scrape(t, srv.URL, nil)
	for _, name := range []string{"mailsink_store_messages", "mailsink_store_unread_messages", "mailsink_store_size_bytes"} {
		if fams[name] != nil {
			t.Errorf("%s served although the store failed", name)
		}
	}
	if _, ok := metricValue(fams, "mailsink_smtp_replies_total", "code", "250"); !ok {
		t.Error("the other families went with the store's")
	}
	if !strings.Contains(logs.String(), "database is locked") {
		t.Errorf("store failure not logged: %q", logs.String())
	}
	// A scrape is counted once it is gathered: the next one shows it.
	fams = scrape(t, srv.URL, nil)
	if v, _ := metricValue(fams, "promhttp_metric_handler_errors_total", "cause", "gathering"); v != 1 {
		t.Errorf("gathering errors = %v, want 1", v)
	}
}

// BenchmarkMetricsPerMessage is what the Observer costs one message of a
// reused session (MAIL, RCPT, DATA, the final reply, the message and its
// ingest time), the SMTP hot path that --bench loads.
func BenchmarkMetricsPerMessage(b *testing.B) {
	m := newMetrics(metricsSources{Version: "bench"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Reply(250)
			m.Reply(250)
			m.Reply(354)
			m.Reply(250)
			m.Message(250, 2048)
			m.ingested(3 * time.Millisecond)
		}
	})
}
