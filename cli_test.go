package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// cliResult is what one in-process run of a subcommand did.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs the mailsink command line in-process through dispatch, with
// env as the whole environment and stdin as standard input.
func runCLI(tb testing.TB, env map[string]string, stdin string, args ...string) cliResult {
	tb.Helper()
	var out, errOut bytes.Buffer
	code := dispatch(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return cliResult{code, out.String(), errOut.String()}
}

// mustSend delivers stdin to s with `mailsink sendmail args...`.
func mustSend(tb testing.TB, s *server, stdin string, args ...string) {
	tb.Helper()
	r := runCLI(tb, map[string]string{"MAILSINK_SMTP_ADDR": s.smtp}, stdin, append([]string{"sendmail"}, args...)...)
	if r.code != 0 {
		tb.Fatalf("sendmail %v: exit %d, stderr %q", args, r.code, r.stderr)
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func subjects(tb testing.TB, s *server) []string {
	tb.Helper()
	var list listReply
	getJSON(tb, s.url("/api/v1/messages?limit=1000"), &list)
	var out []string
	for _, m := range list.Messages {
		out = append(out, m.Subject)
	}
	return out
}

var tableHeader = regexp.MustCompile(`^ID +Received +From +To +Subject$`)

func TestListCommand(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	mustSend(t, s, "From: a@list.test\nTo: x@list.test\nSubject: alpha first\n\nbody\n", "x@list.test")
	mustSend(t, s, "From: b@list.test\nTo: y@list.test, z@list.test\nSubject: beta second\n\nbody\n", "-t")
	// The subject decodes to text with a tab and a line break in it.
	mustSend(t, s, "From: c@list.test\nTo: w@list.test\nSubject: =?utf-8?q?gamma=09tab=0Abreak?=\n\nbody\n", "w@list.test")
	var api listReply
	getJSON(t, s.url("/api/v1/messages"), &api)
	if len(api.Messages) != 3 {
		t.Fatalf("seeded %d messages, want 3", len(api.Messages))
	}
	apiURL := "http://" + s.http

	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		wantLines []string // regexps of the table rows, in order
	}{
		{"all, newest first", nil, []string{"--api", apiURL}, []string{
			`^` + api.Messages[0].ID + ` +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +c@list\.test +w@list\.test +gamma tab break$`,
			`^` + api.Messages[1].ID + ` +\S+ +b@list\.test +y@list\.test, z@list\.test +beta second$`,
			`^` + api.Messages[2].ID + ` +\S+ +a@list\.test +x@list\.test +alpha first$`,
		}},
		{"limit", nil, []string{"--api", apiURL, "--limit", "2"}, []string{`gamma tab break$`, `beta second$`}},
		{"query", nil, []string{"--api=" + apiURL, "--query", "beta"}, []string{`beta second$`}},
		{"query matching nothing", nil, []string{"--api", apiURL, "--query", "nosuchword"}, nil},
		{"MAILSINK_API", map[string]string{"MAILSINK_API": apiURL + "/"}, []string{"--query", "alpha"}, []string{`alpha first$`}},
		{"MAILSINK_HTTP_ADDR", map[string]string{"MAILSINK_HTTP_ADDR": "0.0.0.0:" + port(t, s.http)}, []string{"--query", "alpha"}, []string{`alpha first$`}},
		{"--api beats MAILSINK_API", map[string]string{"MAILSINK_API": "http://" + closedAddr(t)}, []string{"--api", apiURL, "--limit=1"}, []string{`gamma tab break$`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tt.env, "", append([]string{"list"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if !tableHeader.MatchString(strings.TrimRight(lines[0], " ")) {
				t.Errorf("header line %q", lines[0])
			}
			if len(lines)-1 != len(tt.wantLines) {
				t.Fatalf("%d rows, want %d:\n%s", len(lines)-1, len(tt.wantLines), r.stdout)
			}
			for i, re := range tt.wantLines {
				if !regexp.MustCompile(re).MatchString(strings.TrimRight(lines[i+1], " ")) {
					t.Errorf("row %d = %q, want match for %s", i+1, lines[i+1], re)
				}
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"--json"}, {"--json", "--query", "beta"}} {
			r := runCLI(t, map[string]string{"MAILSINK_API": apiURL}, "", append([]string{"list"}, args...)...)
			if r.code != 0 {
				t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
			}
			var got struct {
				Total         *int      `json:"total"`
				MessagesCount int       `json:"messages_count"`
				Messages      []summary `json:"messages"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("%v: stdout is not JSON: %v\n%s", args, err, r.stdout)
			}
			want := 3
			if len(args) > 1 {
				want = 1
			}
			if got.Total == nil || *got.Total != 3 || got.MessagesCount != want || len(got.Messages) != want {
				t.Errorf("%v: total %v, messages_count %d, %d messages; want 3, %d, %d", args, got.Total, got.MessagesCount, len(got.Messages), want, want)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{"--api", "http://" + closedAddr(t)},
			{"--api", "ftp://" + s.http},
			{"--api", apiURL, "--limit", "0"},
			{"--api", apiURL, "--limit", "many"},
			{"--api", apiURL, "stray"},
			{"--api", apiURL, "--bogus"},
		} {
			r := runCLI(t, nil, "", append([]string{"list"}, args...)...)
			if r.code != 1 || r.stderr == "" || r.stdout != "" {
				t.Errorf("list %v: exit %d, stdout %q, stderr %q; want 1 and a message", args, r.code, r.stdout, r.stderr)
			}
		}
	})
}

func port(tb testing.TB, addr string) string {
	tb.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestSubcommandHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmd  string
		want []string
	}{
		{"list", []string{"Usage: mailsink list", "--api", "MAILSINK_API", "--query", "--limit", "--json"}},
		{"wait", []string{"Usage: mailsink wait", "--api", "MAILSINK_API", "--query", "--count", "--timeout", "--after", "/api/v1/search"}},
		{"delete", []string{"Usage: mailsink delete", "--api", "MAILSINK_API", "--query", "--id", "--all"}},
		{"sendmail", []string{"Usage: mailsink sendmail", "-t", "-f ADDR", "-F NAME", "-oi", "-bm", "--smtp-addr", "MAILSINK_SMTP_ADDR", "--starttls", "64", "69", "75"}},
	}
	for _, tt := range tests {
		for _, help := range []string{"--help", "-help"} {
			r := runCLI(t, nil, "", tt.cmd, help)
			if r.code != 0 {
				t.Errorf("%s %s: exit %d", tt.cmd, help, r.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("%s %s does not mention %q", tt.cmd, help, w)
				}
			}
		}
	}
}

// fakeWait imitates the /api/v1/wait contract: each test sets the
// handlers it needs; every message is served by GET /api/v1/message/{id}.
type fakeWait struct {
	wait   http.HandlerFunc // nil: 404 like a server without the endpoint
	search http.HandlerFunc
	polls  atomic.Int32
}

func (f *fakeWait) start(tb testing.TB) string {
	tb.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/wait", func(w http.ResponseWriter, r *http.Request) {
		if f.wait == nil {
			writeTestJSON(w, http.StatusNotFound, `{"Error":"no such endpoint"}`)
			return
		}
		f.wait(w, r)
	})
	mux.HandleFunc("GET /api/v1/search", func(w http.ResponseWriter, r *http.Request) {
		f.polls.Add(1)
		f.search(w, r)
	})
	mux.HandleFunc("GET /api/v1/message/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeTestJSON(w, http.StatusOK, fmt.Sprintf(`{"ID":%q,"Subject":"subject of %s","Text":"x"}`+"\n", r.PathValue("id"), r.PathValue("id")))
	})
	ts := httptest.NewServer(mux)
	tb.Cleanup(ts.Close)
	return ts.URL
}

func writeTestJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// listBody is the Mailpit list shape holding messages with the given IDs.
func listBody(cursor int, ids ...string) string {
	var ms []string
	for _, id := range ids {
		ms = append(ms, fmt.Sprintf(`{"ID":%q,"Subject":"s","From":{"Name":"","Address":"a@b"},"To":[]}`, id))
	}
	return fmt.Sprintf(`{"total":%d,"unread":0,"count":%d,"messages_count":%d,"messages_unread":0,"start":0,"tags":[],"messages":[%s],"cursor":%d}`,
		len(ids), len(ids), len(ids), strings.Join(ms, ","), cursor)
}

func TestWaitArrivesDuringWait(t *testing.T) {
	t.Parallel()
	inflight := make(chan url.Values, 1)
	arrived := make(chan struct{})
	f := &fakeWait{wait: func(w http.ResponseWriter, r *http.Request) {
		inflight <- r.URL.Query()
		select {
		case <-arrived:
			writeTestJSON(w, http.StatusOK, listBody(42, "m-new"))
		case <-r.Context().Done():
		}
	}}
	base := f.start(t)
	done := make(chan cliResult, 1)
	go func() {
		done <- runCLI(t, nil, "", "wait", "--api", base, "--query", "subject:hello world", "--timeout", "20s", "--after", "17")
	}()
	q := <-inflight
	select {
	case r := <-done:
		t.Fatalf("wait returned before the message arrived: %+v", r)
	default:
	}
	close(arrived) // the message "arrives" while the request is in flight
	r := <-done
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	want := url.Values{"query": {"subject:hello world"}, "count": {"1"}, "timeout": {"20s"}, "after": {"17"}}
	if q.Encode() != want.Encode() {
		t.Errorf("wait query = %s, want %s", q.Encode(), want.Encode())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
	if m["ID"] != "m-new" || m["Subject"] != "subject of m-new" {
		t.Errorf("printed %v, want the full message m-new", m)
	}
}

func TestWaitContract(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		wait       http.HandlerFunc
		search     func(poll int32) string // fallback search reply by poll number (1-based)
		args       []string
		wantCode   int
		wantIDs    []string // printed messages; nil with count 1 means one object
		wantErr    string   // in stderr
		wantPolls  int32    // -1: don't check
		wantObject bool
	}{
		{
			name: "count 2 prints an array",
			wait: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("count") != "2" || r.URL.Query().Has("after") {
					writeTestJSON(w, http.StatusBadRequest, `{"Error":"unexpected parameters `+r.URL.RawQuery+`"}`)
					return
				}
				writeTestJSON(w, http.StatusOK, listBody(9, "m2", "m1"))
			},
			args: []string{"--query", "x", "--count", "2"}, wantIDs: []string{"m2", "m1"},
		},
		{
			name: "count 1 prints one object when more match",
			wait: func(w http.ResponseWriter, r *http.Request) {
				writeTestJSON(w, http.StatusOK, listBody(9, "first", "second"))
			},
			args: []string{"--query", "x"}, wantIDs: []string{"first"}, wantObject: true,
		},
		{
			name: "408 exits 2",
			wait: func(w http.ResponseWriter, r *http.Request) {
				writeTestJSON(w, http.StatusRequestTimeout, listBody(3, "only-one"))
			},
			args: []string{"--query", "x", "--count", "2", "--timeout", "1s"}, wantCode: 2, wantErr: "timed out after 1s: 1 of 2",
		},
		{
			name: "400 exits 1 with the server's error",
			wait: func(w http.ResponseWriter, r *http.Request) {
				writeTestJSON(w, http.StatusBadRequest, `{"Error":"bad query: unbalanced quote"}`)
			},
			args: []string{"--query", `"x`}, wantCode: 1, wantErr: "bad query: unbalanced quote",
		},
		{
			name: "500 exits 1",
			wait: func(w http.ResponseWriter, r *http.Request) {
				writeTestJSON(w, http.StatusInternalServerError, `{"Error":"internal error"}`)
			},
			args: []string{"--query", "x"}, wantCode: 1, wantErr: "500",
		},
		{
			name: "404 falls back to polling search",
			search: func(poll int32) string {
				if poll < 3 {
					return listBody(0)
				}
				return listBody(0, "found")
			},
			args: []string{"--query", "needle", "--timeout", "20s"}, wantIDs: []string{"found"}, wantObject: true, wantPolls: 3,
		},
		{
			name: "404 fallback with count 2 takes the newest two",
			search: func(poll int32) string {
				if poll < 2 {
					return listBody(0, "c")
				}
				return listBody(0, "c", "b")
			},
			args: []string{"--query", "needle", "--count", "2"}, wantIDs: []string{"c", "b"}, wantPolls: 2,
		},
		{
			name:   "404 fallback times out with exit 2",
			search: func(int32) string { return listBody(0) },
			args:   []string{"--query", "needle", "--timeout", "350ms"}, wantCode: 2, wantErr: "0 of 1", wantPolls: -1,
		},
		{
			name:   "404 fallback cannot honour --after",
			search: func(int32) string { return listBody(0, "x") },
			args:   []string{"--query", "needle", "--after", "5"}, wantCode: 1, wantErr: "--after",
		},
		{name: "--query is required", args: []string{"--count", "1"}, wantCode: 1, wantErr: "--query is required"},
		{name: "--count at least 1", args: []string{"--query", "x", "--count", "0"}, wantCode: 1, wantErr: "--count"},
		{name: "bad --timeout", args: []string{"--query", "x", "--timeout", "soon"}, wantCode: 1, wantErr: "invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeWait{wait: tt.wait}
			f.search = func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("query") != "needle" {
					writeTestJSON(w, http.StatusBadRequest, `{"Error":"wrong query"}`)
					return
				}
				writeTestJSON(w, http.StatusOK, tt.search(f.polls.Load()))
			}
			base := f.start(t)
			start := time.Now()
			r := runCLI(t, nil, "", append([]string{"wait", "--api", base}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.wantErr)
			}
			if tt.wantPolls > 0 && f.polls.Load() != tt.wantPolls {
				t.Errorf("%d search polls, want %d", f.polls.Load(), tt.wantPolls)
			}
			if tt.wantCode == 2 && tt.search != nil && time.Since(start) < 350*time.Millisecond {
				t.Errorf("fallback gave up after %s, before its 350ms timeout", time.Since(start))
			}
			if tt.wantIDs == nil {
				if r.stdout != "" {
					t.Errorf("stdout %q, want nothing", r.stdout)
				}
				return
			}
			var got []string
			if tt.wantObject || len(tt.wantIDs) == 1 {
				var m struct{ ID string }
				if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
					t.Fatalf("stdout is not a JSON object: %v\n%s", err, r.stdout)
				}
				got = []string{m.ID}
			} else {
				var ms []struct{ ID, Subject string }
				if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil {
					t.Fatalf("stdout is not a JSON array: %v\n%s", err, r.stdout)
				}
				for _, m := range ms {
					if m.Subject != "subject of "+m.ID {
						t.Errorf("message %s printed without its full JSON: %+v", m.ID, m)
					}
					got = append(got, m.ID)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.wantIDs, ",") {
				t.Errorf("printed %v, want %v", got, tt.wantIDs)
			}
		})
	}
}

// TestWaitEndToEnd runs wait against the real server, with the message
// sent once the wait request has reached the server. It skips while the
// server has no /api/v1/wait.
func TestWaitEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	resp, err := http.Get(s.url("/api/v1/wait?query=probe&timeout=1ms"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		t.Skip("server has no /api/v1/wait yet")
	}

	// A proxy in front of the API tells when the wait request passes.
	target, err := url.Parse("http://" + s.http)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	inflight := make(chan struct{}, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/wait" {
			select {
			case inflight <- struct{}{}:
			default:
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)

	done := make(chan cliResult, 1)
	go func() {
		done <- runCLI(t, map[string]string{"MAILSINK_API": ts.URL}, "", "wait", "--query", "latecomer", "--timeout", "20s")
	}()
	<-inflight
	mustSend(t, s, "From: late@wait.test\nTo: ci@wait.test\nSubject: the latecomer\n\narrived during the wait\n", "ci@wait.test")
	r := <-done
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var m message
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("stdout is not a message object: %v\n%s", err, r.stdout)
	}
	if m.Subject != "the latecomer" || strings.TrimSpace(m.Text) != "arrived during the wait" {
		t.Errorf("printed subject %q text %q", m.Subject, m.Text)
	}

	// Nothing more matches: a short wait times out with exit 2.
	r = runCLI(t, nil, "", "wait", "--api", ts.URL, "--query", "neverarrives", "--timeout", "300ms")
	if r.code != 2 {
		t.Errorf("wait for nothing: exit %d, stderr %q; want 2", r.code, r.stderr)
	}
}

func TestDeleteCommand(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for _, tok := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		mustSend(t, s, fmt.Sprintf("From: x@del.test\nSubject: del%s msg%s\n\nx\n", tok, tok), "y@del.test")
	}
	var list listReply
	getJSON(t, s.url("/api/v1/messages"), &list)
	ids := map[string]string{} // subject token → ID
	for _, m := range list.Messages {
		ids[strings.Fields(m.Subject)[0]] = m.ID
	}
	env := map[string]string{"MAILSINK_API": "http://" + s.http}

	for _, args := range [][]string{
		{},
		{"--all", "--query", "dela"},
		{"--id", ids["dela"], "--all"},
		{"stray-id"},
		{"--api", "http://" + closedAddr(t), "--all"},
	} {
		r := runCLI(t, env, "", append([]string{"delete"}, args...)...)
		if r.code != 1 || r.stderr == "" {
			t.Errorf("delete %v: exit %d, stderr %q; want 1 and a message", args, r.code, r.stderr)
		}
	}
	if got := subjects(t, s); len(got) != 7 {
		t.Fatalf("refused deletes deleted something: %v", got)
	}

	steps := []struct {
		name string
		args []string
		want string // subjects left, newest first
	}{
		{"one --id", []string{"--id", ids["dela"]}, "delg msgg,delf msgf,dele msge,deld msgd,delc msgc,delb msgb"},
		{"--id then more IDs as arguments", []string{"--id", ids["delb"], ids["delc"]}, "delg msgg,delf msgf,dele msge,deld msgd"},
		{"repeated --id", []string{"--id=" + ids["deld"], "--id", ids["dele"]}, "delg msgg,delf msgf"},
		{"--query", []string{"--query", "msgf"}, "delg msgg"},
		{"--all", []string{"--all"}, ""},
	}
	for _, st := range steps {
		r := runCLI(t, env, "", append([]string{"delete"}, st.args...)...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d, stderr %q", st.name, r.code, r.stderr)
		}
		if got := strings.Join(subjects(t, s), ","); got != st.want {
			t.Errorf("%s: left %q, want %q", st.name, got, st.want)
		}
	}
}
