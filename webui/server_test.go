package webui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"mailsink/internal/syncbuf"
	"mailsink/smtpd/chaos"
	"mailsink/store"
	"mailsink/webui"
)

// testServer is a webui.Server over a real SQLite store, on a real socket.
type testServer struct {
	ts    *httptest.Server
	db    *store.DB
	hub   *webui.Hub
	chaos *chaos.Engine // nil when started by startServer
	log   *syncbuf.Buffer
}

func newTestServer(tb testing.TB) *testServer {
	tb.Helper()
	hub := webui.NewHub(nil)
	tb.Cleanup(hub.Close)
	db, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "mail.db"), store.Options{Notify: hub.Publish})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return startChaosServer(tb, db, db, hub, newTestChaos(tb, hub))
}

// startServer serves msgs without a chaos engine; db (may be nil) is kept
// for the test to insert; hub nil gets a fresh one.
func startServer(tb testing.TB, msgs webui.Messages, db *store.DB, hub *webui.Hub) *testServer {
	tb.Helper()
	return startChaosServer(tb, msgs, db, hub, nil)
}

// startChaosServer is startServer with engine (may be nil) as webui.Config.Chaos.
func startChaosServer(tb testing.TB, msgs webui.Messages, db *store.DB, hub *webui.Hub, engine *chaos.Engine) *testServer {
	tb.Helper()
	logs := &syncbuf.Buffer{}
	ui := fstest.MapFS{
		"index.html":    {Data: []byte("<!doctype html><title>mailsink</title>")},
		"css/app.css":   {Data: []byte("body{}")},
		"js/app.js":     {Data: []byte("export {};")},
		"js/api.js":     {Data: []byte("export {};")},
		"favicon.svg":   {Data: []byte("<svg/>")},
		"robots.txt":    {Data: []byte("User-agent: *\n")},
		"assets/x.json": {Data: []byte("{}")},
	}
	cfg := webui.Config{Version: "v1.2.3-test", Database: "/data/mail.db", Started: time.Now().Add(-time.Hour)}
	if engine != nil { // a nil *chaos.Engine must not become a non-nil interface
		cfg.Chaos = engine
	}
	if hub == nil {
		hub = webui.NewHub(nil)
		tb.Cleanup(hub.Close)
	}
	srv := webui.New(cfg, msgs, hub, ui, slog.New(slog.NewTextHandler(logs, nil)))
	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	return &testServer{ts: ts, db: db, hub: hub, chaos: engine, log: logs}
}

// insert stores raw under id with a fixed envelope.
func (s *testServer) insert(tb testing.TB, id, raw string) {
	tb.Helper()
	if _, err := s.db.Insert(context.Background(), id, storeEnvelope(), []byte(crlf(raw))); err != nil {
		tb.Fatalf("insert %s: %v", id, err)
	}
}

// storeEnvelope is the SMTP envelope test messages arrive with.
func storeEnvelope() store.Envelope {
	return store.Envelope{
		RemoteAddr: "127.0.0.1:40000",
		Helo:       "client.test",
		ESMTP:      true,
		MailFrom:   "bounce@example.test",
		Rcpts:      []store.Recipient{{Address: "bob@example.test"}},
		Protocol:   "ESMTP",
	}
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request; redirects are not followed.
func (s *testServer) do(tb testing.TB, method, path string, body io.Reader) response {
	tb.Helper()
	req, err := http.NewRequest(method, s.ts.URL+path, body)
	if err != nil {
		tb.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "*/*") // as fetch, curl and browsers send it
	client := *s.ts.Client()        // a copy: the shared client follows redirects
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (s *testServer) get(tb testing.TB, path string) response {
	tb.Helper()
	return s.do(tb, http.MethodGet, path, nil)
}

// getJSON GETs path, wants 200 with JSON, and decodes into v.
func (s *testServer) getJSON(tb testing.TB, path string, v any) response {
	tb.Helper()
	res := s.get(tb, path)
	if res.status != http.StatusOK {
		tb.Fatalf("GET %s: status = %d, want 200; body %s", path, res.status, res.body)
	}
	wantJSON(tb, res, v)
	return res
}

// wantJSON checks the Content-Type and decodes the body strictly.
func wantJSON(tb testing.TB, res response, v any) {
	tb.Helper()
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("Content-Type = %q, want application/json; body %s", ct, res.body)
	}
	dec := json.NewDecoder(bytes.NewReader(res.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("decode %s: %v", res.body, err)
	}
}

// wantError checks an error reply: status, JSON, a non-empty Error.
func wantError(tb testing.TB, res response, status int) string {
	tb.Helper()
	if res.status != status {
		tb.Fatalf("status = %d, want %d; body %s", res.status, status, res.body)
	}
	var body struct {
		Error string `json:"Error"`
	}
	wantJSON(tb, res, &body)
	if body.Error == "" {
		tb.Fatalf("error body %s has no Error text", res.body)
	}
	return body.Error
}

// wantOK checks Mailpit's text "ok" action reply.
func wantOK(tb testing.TB, res response) {
	tb.Helper()
	if res.status != http.StatusOK || string(res.body) != "ok" ||
		res.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		tb.Fatalf("reply = %d %q (%s), want 200 \"ok\" text/plain", res.status, res.body, res.header.Get("Content-Type"))
	}
}

// crlf turns the LF line ends of a test literal into CRLF.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

func TestSecurityHeadersEverywhere(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.insert(t, "m1", plainMail)
	for _, path := range []string{
		"/", "/index.html", "/missing.css", "/api/v1/messages", "/api/v1/message/m1",
		"/api/v1/message/nope", "/api/nope", "/view/m1.txt", "/livez", "/readyz",
	} {
		res := s.get(t, path)
		if got := res.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options = %q, want nosniff", path, got)
		}
		if got := res.header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("GET %s: Referrer-Policy = %q, want no-referrer", path, got)
		}
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		name, method, path string
		status             int
		allow              string // wanted Allow header on 405
	}{
		{"unknown api path", "GET", "/api/v1/nope", 404, ""},
		{"unknown api path with POST", "POST", "/api/v1/nope", 404, ""},
		{"api root", "GET", "/api", 404, ""},
		{"wrong method on a list route", "POST", "/api/v1/messages", 405, "DELETE, GET, HEAD, PUT"},
		{"wrong method on a message", "DELETE", "/api/v1/message/latest", 405, "GET, HEAD"},
		{"wrong method on info", "PATCH", "/api/v1/info", 405, "GET, HEAD"},
		{"view without extension", "GET", "/view/abc", 404, ""},
		{"view with other extension", "GET", "/view/abc.pdf", 404, ""},
		{"view root", "GET", "/view/", 404, ""},
		{"post to the UI", "POST", "/", 405, "GET, HEAD"},
		{"post to probes", "POST", "/livez", 405, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := s.do(t, tt.method, tt.path, nil)
			wantError(t, res, tt.status)
			if got := res.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestUI(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)

	res := s.get(t, "/")
	if res.status != 200 || !strings.Contains(string(res.body), "<title>mailsink</title>") {
		t.Fatalf("GET / = %d %q, want the index page", res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET / Content-Type = %q, want text/html", ct)
	}
	res = s.get(t, "/css/app.css")
	if res.status != 200 || string(res.body) != "body{}" {
		t.Errorf("GET /css/app.css = %d %q", res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("GET /css/app.css Content-Type = %q, want text/css", ct)
	}
	if res := s.get(t, "/nope.js"); res.status != 404 {
		t.Errorf("GET /nope.js = %d, want 404", res.status)
	}
	// The UI's own paths are not API paths: /assets/ comes from the fs.
	if res := s.get(t, "/assets/x.json"); res.status != 200 || string(res.body) != "{}" {
		t.Errorf("GET /assets/x.json = %d %q", res.status, res.body)
	}
}

func TestProbes(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for _, path := range []string{"/livez", "/readyz"} {
		var body struct {
			Status string `json:"status"`
		}
		s.getJSON(t, path, &body)
		if body.Status != "ok" {
			t.Errorf("GET %s status = %q, want ok", path, body.Status)
		}
	}

	// A closed store is not ready, but the process is still alive.
	if err := s.db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	msg := wantError(t, s.get(t, "/readyz"), http.StatusServiceUnavailable)
	if strings.Contains(msg, "closed") || strings.Contains(msg, "sql") {
		t.Errorf("readyz leaks the cause: %q", msg)
	}
	if res := s.get(t, "/livez"); res.status != 200 {
		t.Errorf("livez after store close = %d, want 200", res.status)
	}
}

func TestDoubleSlashRedirects(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.insert(t, "m1", plainMail)
	tests := []struct{ path, location string }{
		{"//view/latest.txt", "/view/latest.txt"},
		{"//view/m1.html?embed=1", "/view/m1.html?embed=1"},
		{"/api//v1/messages", "/api/v1/messages"},
		{"/api/v1/message/m1/../m1/raw", "/api/v1/message/m1/raw"},
	}
	for _, tt := range tests {
		res := s.get(t, tt.path)
		if res.status != http.StatusTemporaryRedirect || res.header.Get("Location") != tt.location {
			t.Errorf("GET %s = %d Location %q, want 307 to %q", tt.path, res.status, res.header.Get("Location"), tt.location)
		}
	}

	// Followed, as cypress-mailpit does.
	res, err := s.ts.Client().Get(s.ts.URL + "//view/latest.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(b), "Hello Bob") {
		t.Errorf("followed //view/latest.txt = %d %q", res.StatusCode, b)
	}
}

// failing is a Messages whose every call fails with a detailed error.
type failing struct{ err error }

func (f failing) Ping(context.Context) error { return f.err }
func (f failing) List(context.Context, int, int) ([]store.Summary, error) {
	return nil, f.err
}
func (f failing) Find(context.Context, store.Filter) (store.Page, error)  { return store.Page{}, f.err }
func (f failing) FindIDs(context.Context, store.Filter) ([]string, error) { return nil, f.err }
func (f failing) Tags(context.Context) ([]string, error)                  { return nil, f.err }
func (f failing) SetTags(context.Context, []string, []string) error       { return f.err }
func (f failing) RenameTag(context.Context, string, string) error         { return f.err }
func (f failing) DeleteTag(context.Context, string) error                 { return f.err }
func (f failing) Inboxes(context.Context) ([]store.Inbox, error)          { return nil, f.err }
func (f failing) Stats(context.Context) (store.Stats, error)              { return store.Stats{}, f.err }
func (f failing) LatestID(context.Context) (string, error)                { return "", f.err }
func (f failing) Get(context.Context, string) (*store.Message, error)     { return nil, f.err }
func (f failing) Raw(context.Context, string) ([]byte, error)             { return nil, f.err }
func (f failing) SetRead(context.Context, []string, bool) error           { return f.err }
func (f failing) Delete(context.Context, []string) (int, error)           { return 0, f.err }
func (f failing) DeleteAll(context.Context) error                         { return f.err }
func (f failing) Insert(context.Context, string, store.Envelope, []byte) (*store.Summary, error) {
	return nil, f.err
}
func (f failing) PartContents(context.Context, string, []string) (map[string][]byte, error) {
	return nil, f.err
}
func (f failing) Part(context.Context, string, string) (*store.Part, []byte, error) {
	return nil, nil, f.err
}

func TestStoreErrorIsInternalAndNotLeaked(t *testing.T) {
	t.Parallel()
	const secret = "disk I/O error at /var/secret/mail.db"
	s := startServer(t, failing{err: errors.New(secret)}, nil, nil)
	tests := []struct{ method, path, body string }{
		{"GET", "/api/v1/messages", ""},
		{"GET", "/api/v1/search?query=x", ""},
		{"GET", "/api/v1/info", ""},
		{"GET", "/api/v1/message/latest", ""},
		{"GET", "/api/v1/message/abc", ""},
		{"GET", "/api/v1/message/abc/raw", ""},
		{"GET", "/api/v1/message/abc/headers", ""},
		{"GET", "/api/v1/message/abc/part/1", ""},
		{"GET", "/view/abc.html", ""},
		{"PUT", "/api/v1/messages", `{"IDs":["a"],"Read":true}`},
		{"DELETE", "/api/v1/messages", ""},
		{"DELETE", "/api/v1/messages", `{"IDs":["a"]}`},
		{"DELETE", "/api/v1/search?query=x", ""},
	}
	for _, tt := range tests {
		var body io.Reader
		if tt.body != "" {
			body = strings.NewReader(tt.body)
		}
		res := s.do(t, tt.method, tt.path, body)
		msg := wantError(t, res, http.StatusInternalServerError)
		if msg != "internal error" {
			t.Errorf("%s %s: Error = %q, want \"internal error\"", tt.method, tt.path, msg)
		}
		if strings.Contains(string(res.body), "secret") {
			t.Errorf("%s %s: body leaks the cause: %s", tt.method, tt.path, res.body)
		}
	}
	if logs := s.log.String(); strings.Count(logs, secret) < len(tests) {
		t.Errorf("want every failure logged with its cause; log:\n%s", logs)
	}
	wantError(t, s.get(t, "/readyz"), http.StatusServiceUnavailable)
}
