package webui_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"mailsink/internal/syncbuf"
	"mailsink/store"
	"mailsink/webui"
)

// newGuardedServer is a webui.Server with cfg's security settings over a
// real store, holding one message, on a real loopback socket.
func newGuardedServer(tb testing.TB, cfg webui.Config) *testServer {
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
	ui := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>mailsink</title>")}}
	logs := &syncbuf.Buffer{}
	ts := httptest.NewServer(webui.New(cfg, db, hub, ui, slog.New(slog.NewTextHandler(logs, nil))))
	tb.Cleanup(ts.Close)
	s := &testServer{ts: ts, db: db, hub: hub, log: logs}
	s.insert(tb, "m1", plainMail)
	return s
}

// send is one request with the given headers ("Host" sets the Host
// header); redirects are not followed.
func (s *testServer) send(tb testing.TB, method, path string, header map[string]string, body string) response {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.ts.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	client := *s.ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// count is how many messages the store holds.
func (s *testServer) count(tb testing.TB) int {
	tb.Helper()
	st, err := s.db.Stats(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return st.Total
}

// wantHardened checks the headers every response must carry.
func wantHardened(tb testing.TB, what string, h http.Header) {
	tb.Helper()
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
		tb.Errorf("%s: X-Content-Type-Options %q, Referrer-Policy %q; want nosniff, no-referrer",
			what, h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
	}
}

// TestHostCheck: DNS rebinding. A page of evil.test whose name now
// resolves to 127.0.0.1 reaches us with "Host: evil.test"; only the Host
// header tells, so it decides.
func TestHostCheck(t *testing.T) {
	t.Parallel()
	loopback := newGuardedServer(t, webui.Config{LoopbackOnly: true})
	allowed := newGuardedServer(t, webui.Config{AllowedHosts: []string{"mail.dev.test", ".corp.test"}})
	open := newGuardedServer(t, webui.Config{})
	star := newGuardedServer(t, webui.Config{LoopbackOnly: true, AllowedHosts: []string{"*"}})
	tests := []struct {
		name   string
		s      *testServer
		host   string
		path   string
		status int
	}{
		{"loopback: IP", loopback, loopback.ts.Listener.Addr().String(), "/api/v1/messages", 200},
		{"loopback: localhost", loopback, "localhost:8025", "/api/v1/messages", 200},
		{"loopback: LOCALHOST.", loopback, "LOCALHOST.:8025", "/api/v1/messages", 200},
		{"loopback: IPv6", loopback, "[::1]:8025", "/api/v1/messages", 200},
		{"loopback: other loopback IP", loopback, "127.0.0.2", "/api/v1/messages", 200},
		{"loopback: *.localhost", loopback, "app.localhost:8025", "/api/v1/messages", 200},
		{"loopback: rebound name", loopback, "evil.test:8025", "/api/v1/messages", 403},
		{"loopback: rebound name, UI", loopback, "evil.test:8025", "/", 403},
		{"loopback: rebound name, view", loopback, "evil.test:8025", "/view/m1.txt", 403},
		{"loopback: rebound name, websocket path", loopback, "evil.test:8025", "/api/events", 403},
		{"loopback: localhost as a label", loopback, "localhost.evil.test", "/api/v1/messages", 403},
		{"loopback: LAN IP", loopback, "192.168.1.5:8025", "/api/v1/messages", 403},
		{"loopback: livez for any host", loopback, "evil.test", "/livez", 200},
		{"loopback: readyz for a container IP", loopback, "172.17.0.2:8025", "/readyz", 200},
		{"allowed: listed name", allowed, "mail.dev.test:8025", "/api/v1/messages", 200},
		{"allowed: case-insensitive", allowed, "MAIL.Dev.Test", "/api/v1/messages", 200},
		{"allowed: domain", allowed, "corp.test", "/api/v1/messages", 200},
		{"allowed: subdomain", allowed, "mail.corp.test", "/api/v1/messages", 200},
		{"allowed: not a subdomain", allowed, "evilcorp.test", "/api/v1/messages", 403},
		{"allowed: enforced on any address", allowed, "evil.test", "/api/v1/messages", 403},
		{"allowed: unlisted IP", allowed, "10.0.0.1:8025", "/api/v1/messages", 403},
		{"allowed: localhost still", allowed, "localhost", "/api/v1/messages", 200},
		{"open: any host", open, "evil.test", "/api/v1/messages", 200},
		{"star: any host", star, "evil.test", "/api/v1/messages", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := tt.s.send(t, http.MethodGet, tt.path, map[string]string{"Host": tt.host}, "")
			wantHardened(t, tt.path, res.header)
			if tt.status == 200 {
				if res.status != 200 {
					t.Fatalf("Host %s: %s = %d %s, want 200", tt.host, tt.path, res.status, res.body)
				}
				return
			}
			msg := wantError(t, res, tt.status)
			if !strings.Contains(msg, "--allowed-hosts") {
				t.Errorf("error %q does not tell about --allowed-hosts", msg)
			}
			if strings.Contains(string(res.body), "bob@example.test") {
				t.Errorf("refused reply leaks mail: %s", res.body)
			}
		})
	}
}

// TestCrossSiteWrites: what another site's page can make a browser send
// (with the headers browsers add) changes nothing; same-origin pages and
// clients that are no browser (no Origin, no Sec-Fetch-Site) still can.
func TestCrossSiteWrites(t *testing.T) {
	t.Parallel()
	const evil = "http://evil.test"
	tests := []struct {
		name         string
		method, path string
		header       map[string]string
		body         string
		status       int
	}{
		{"fetch DELETE from another site", "DELETE", "/api/v1/messages",
			map[string]string{"Origin": evil, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}, "", 403},
		{"same-site page on another port", "DELETE", "/api/v1/messages",
			map[string]string{"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}, "", 403},
		{"sandboxed frame (Origin null)", "DELETE", "/api/v1/messages",
			map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site"}, "", 403},
		{"old browser: Origin only", "DELETE", "/api/v1/search?query=hello",
			map[string]string{"Origin": evil}, "", 403},
		{"form post, urlencoded", "POST", "/api/v1/send",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "a=b", 415},
		{"form post, text/plain JSON trick", "POST", "/api/v1/send",
			map[string]string{"Content-Type": "text/plain", "Origin": evil, "Sec-Fetch-Site": "cross-site"}, `{"From":{"Email":"a@b.test"}}`, 415},
		{"form post, multipart", "POST", "/api/v1/send",
			map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, "--x--", 415},
		{"no-cors PUT is still refused", "PUT", "/api/v1/messages",
			map[string]string{"Origin": evil, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Content-Type": "application/json"}, `{"Read":true}`, 403},
		{"same-origin page", "PUT", "/api/v1/messages",
			map[string]string{"Origin": "SELF", "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, `{"Read":true}`, 200},
		{"curl: neither header", "PUT", "/api/v1/messages",
			map[string]string{"Content-Type": "application/json"}, `{"Read":false}`, 200},
		{"Node fetch: Sec-Fetch-Mode only", "PUT", "/api/v1/messages",
			map[string]string{"Sec-Fetch-Mode": "cors", "Content-Type": "application/json"}, `{"Read":false}`, 200},
		{"JSON without a type (mailhog-node)", "POST", "/api/v1/send", nil,
			`{"From":{"Email":"a@b.test"},"To":[{"Email":"c@d.test"}],"Subject":"x"}`, 200},
	}
	s := newGuardedServer(t, webui.Config{})
	self := s.ts.URL
	before := s.count(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			for k, v := range tt.header {
				h[k] = strings.ReplaceAll(v, "SELF", self)
			}
			res := s.send(t, tt.method, tt.path, h, tt.body)
			wantHardened(t, tt.name, res.header)
			if tt.status != 200 {
				wantError(t, res, tt.status)
				if n := s.count(t); n != before {
					t.Fatalf("messages = %d after a refused request, want %d", n, before)
				}
				if res.header.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("refusal carries CORS header %q", res.header.Get("Access-Control-Allow-Origin"))
				}
				return
			}
			if res.status != 200 {
				t.Fatalf("status = %d %s, want 200", res.status, res.body)
			}
			before = s.count(t)
		})
	}

	// Reads from another site reach the handler (browsers send them for
	// <img> and the like) but get no CORS header, so no script reads them.
	res := s.send(t, "GET", "/api/v1/messages", map[string]string{"Origin": evil, "Sec-Fetch-Site": "cross-site"}, "")
	if res.status != 200 || res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("cross-site GET = %d with ACAO %q, want 200 without", res.status, res.header.Get("Access-Control-Allow-Origin"))
	}
	// A preflight from another site is refused, without CORS headers.
	res = s.send(t, "OPTIONS", "/api/v1/messages", map[string]string{"Origin": evil, "Access-Control-Request-Method": "DELETE"}, "")
	wantError(t, res, http.StatusForbidden)
	if res.header.Get("Access-Control-Allow-Origin") != "" || res.header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("refused preflight carries CORS headers: %v", res.header)
	}
	// Finally curl-style deletion works.
	res = s.send(t, "DELETE", "/api/v1/messages", nil, "")
	if res.status != 200 || s.count(t) != 0 {
		t.Errorf("DELETE without browser headers = %d, %d left; want 200, 0", res.status, s.count(t))
	}
}

// TestCORSOrigin: --cors-origin lets named origins (with credentials) or
// any origin ("*", without) read and write.
func TestCORSOrigin(t *testing.T) {
	t.Parallel()
	const dash = "http://dash.test:3000"
	s := newGuardedServer(t, webui.Config{CORSOrigins: []string{dash}})

	res := s.send(t, "OPTIONS", "/api/v1/messages", map[string]string{
		"Origin": dash, "Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "content-type",
	}, "")
	h := res.header
	if res.status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != dash ||
		h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "DELETE") ||
		h.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Errorf("preflight = %d %v", res.status, h)
	}
	wantHardened(t, "preflight", h)

	res = s.send(t, "GET", "/api/v1/messages", map[string]string{"Origin": dash, "Sec-Fetch-Site": "cross-site"}, "")
	if res.status != 200 || res.header.Get("Access-Control-Allow-Origin") != dash || !strings.Contains(strings.Join(res.header.Values("Vary"), ","), "Origin") {
		t.Errorf("allowed GET = %d %v", res.status, res.header)
	}
	res = s.send(t, "GET", "/api/v1/messages", map[string]string{"Origin": "http://other.test", "Sec-Fetch-Site": "cross-site"}, "")
	if res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("other origin got ACAO %q", res.header.Get("Access-Control-Allow-Origin"))
	}
	res = s.send(t, "DELETE", "/api/v1/messages", map[string]string{"Origin": "http://other.test", "Sec-Fetch-Site": "cross-site"}, "")
	wantError(t, res, http.StatusForbidden)
	res = s.send(t, "DELETE", "/api/v1/messages", map[string]string{"Origin": dash, "Sec-Fetch-Site": "cross-site", "Accept": "*/*"}, "")
	if res.status != 200 || s.count(t) != 0 {
		t.Errorf("DELETE from the allowed origin = %d %s, %d left", res.status, res.body, s.count(t))
	}

	any := newGuardedServer(t, webui.Config{CORSOrigins: []string{"*"}})
	res = any.send(t, "GET", "/api/v1/messages", map[string]string{"Origin": "http://x.test"}, "")
	if res.header.Get("Access-Control-Allow-Origin") != "*" || res.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("* GET: ACAO %q, ACAC %q; want *, none", res.header.Get("Access-Control-Allow-Origin"), res.header.Get("Access-Control-Allow-Credentials"))
	}
	res = any.send(t, "GET", "/api/v1/messages", map[string]string{"Origin": "null"}, "")
	if res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("* answers Origin null with ACAO %q", res.header.Get("Access-Control-Allow-Origin"))
	}
	// Even an allowed origin cannot post a form.
	res = any.send(t, "POST", "/api/v1/send", map[string]string{"Origin": "http://x.test", "Content-Type": "text/plain"}, "{}")
	wantError(t, res, http.StatusUnsupportedMediaType)
}

// TestWebsocketOrigin: the event streams are reads of all mail; another
// site's page must not open them, and the refusal is a hardened JSON 403.
func TestWebsocketOrigin(t *testing.T) {
	t.Parallel()
	s := newGuardedServer(t, webui.Config{CORSOrigins: []string{"http://dash.test"}})
	base := "ws" + strings.TrimPrefix(s.ts.URL, "http")
	for _, path := range []string{"/api/events", "/api/v2/websocket"} {
		tests := []struct {
			name   string
			header http.Header
			ok     bool
		}{
			{"own origin", http.Header{"Origin": {s.ts.URL}, "Sec-Fetch-Site": {"same-origin"}}, true},
			{"no origin (not a browser)", nil, true},
			{"allowed origin", http.Header{"Origin": {"http://dash.test"}, "Sec-Fetch-Site": {"cross-site"}}, true},
			{"other site", http.Header{"Origin": {"http://evil.test"}, "Sec-Fetch-Site": {"cross-site"}}, false},
			{"other site, no fetch metadata", http.Header{"Origin": {"http://evil.test"}}, false},
			{"other port", http.Header{"Origin": {"http://127.0.0.1:1"}}, false},
		}
		for _, tt := range tests {
			c, resp, err := websocket.DefaultDialer.Dial(base+path, tt.header)
			if tt.ok {
				if err != nil {
					t.Errorf("%s %s: %v", path, tt.name, err)
					continue
				}
				c.Close()
				continue
			}
			if err == nil {
				c.Close()
				t.Errorf("%s %s: handshake succeeded, want 403", path, tt.name)
				continue
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: %v, want a JSON 403", path, tt.name, resp)
				continue
			}
			wantHardened(t, path+" "+tt.name, resp.Header)
		}
	}
}

// TestUIAuth: --ui-auth covers UI, API and websockets, not the probes.
func TestUIAuth(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	users := newGuardedServer(t, webui.Config{Auth: &webui.Auth{Users: map[string]string{"ann": string(hash)}}})
	tokens := newGuardedServer(t, webui.Config{Auth: &webui.Auth{Tokens: []string{"tok-1", "tok-2"}}})
	tests := []struct {
		name   string
		s      *testServer
		path   string
		authz  string
		status int
	}{
		{"users: none", users, "/api/v1/messages", "", 401},
		{"users: UI none", users, "/", "", 401},
		{"users: view none", users, "/view/m1.txt", "", 401},
		{"users: right", users, "/api/v1/messages", basic("ann", "s3cret"), 200},
		{"users: right again (cached)", users, "/", basic("ann", "s3cret"), 200},
		{"users: wrong password", users, "/api/v1/messages", basic("ann", "s3cret!"), 401},
		{"users: unknown user", users, "/api/v1/messages", basic("bob", "s3cret"), 401},
		{"users: bearer not accepted", users, "/api/v1/messages", "Bearer s3cret", 401},
		{"users: livez open", users, "/livez", "", 200},
		{"users: readyz open", users, "/readyz", "", 200},
		{"tokens: none", tokens, "/api/v1/messages", "", 401},
		{"tokens: bearer", tokens, "/api/v1/messages", "Bearer tok-2", 200},
		{"tokens: bearer, any case scheme", tokens, "/api/v1/messages", "bearer tok-1", 200},
		{"tokens: wrong bearer", tokens, "/api/v1/messages", "Bearer tok-3", 401},
		{"tokens: prefix of a token", tokens, "/api/v1/messages", "Bearer tok-", 401},
		{"tokens: as basic password", tokens, "/", basic("anyone", "tok-1"), 200},
		{"tokens: as basic user", tokens, "/", basic("tok-1", "x"), 401},
		{"tokens: readyz open", tokens, "/readyz", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := map[string]string{}
			if tt.authz != "" {
				h["Authorization"] = tt.authz
			}
			res := tt.s.send(t, "GET", tt.path, h, "")
			wantHardened(t, tt.name, res.header)
			if tt.status == 200 {
				if res.status != 200 {
					t.Fatalf("%s = %d %s, want 200", tt.path, res.status, res.body)
				}
				return
			}
			wantError(t, res, tt.status)
			challenges := strings.Join(res.header.Values("WWW-Authenticate"), " | ")
			if !strings.Contains(challenges, `Basic realm="mailsink"`) {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge", challenges)
			}
			if tt.s == tokens && !strings.Contains(challenges, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge too", challenges)
			}
		})
	}

	// The websocket: refused without a login, open with the basic login a
	// browser keeps and sends on the handshake.
	url := "ws" + strings.TrimPrefix(users.ts.URL, "http") + "/api/events"
	if c, resp, err := websocket.DefaultDialer.Dial(url, nil); err == nil {
		c.Close()
		t.Error("websocket without login: open, want 401")
	} else if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("websocket without login: %v %v, want 401", err, resp)
	}
	c, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {basic("ann", "s3cret")}, "Origin": {users.ts.URL}})
	if err != nil {
		t.Fatalf("websocket with login: %v", err)
	}
	c.Close()
}
