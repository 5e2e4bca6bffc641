package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// TestWebrootHTTP runs mailsink under --webroot /mail/ over real HTTP:
// the API, MailHog's paths, the preview with its cid: part links, the
// websockets and the CLI all live under the prefix; the probes answer at
// the root too; nothing else is served outside it.
func TestWebrootHTTP(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "ui", "rich.eml"))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, nil, "--webroot=mail") // normalised to /mail/

	// The stream is open before the delivery, so its event must come.
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+s.http+"/mail/api/events", nil)
	if err != nil {
		t.Fatalf("dial /mail/api/events: %v (%v)", err, resp)
	}
	defer ws.Close()
	hog, resp, err := websocket.DefaultDialer.Dial("ws://"+s.http+"/mail/api/v2/websocket", nil)
	if err != nil {
		t.Fatalf("dial /mail/api/v2/websocket: %v (%v)", err, resp)
	}
	defer hog.Close()
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+s.http+"/api/events", nil); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("dial /api/events outside the root: %v (%v), want 404", err, resp)
	}

	id := deliver(t, s, raw)
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var ev struct {
			Type string
			Data struct{ ID string }
		}
		if err := ws.ReadJSON(&ev); err != nil {
			t.Fatalf("waiting for the new event on /mail/api/events: %v", err)
		}
		if ev.Type == "new" {
			if ev.Data.ID != id {
				t.Errorf("new event for %q, want %q", ev.Data.ID, id)
			}
			break
		}
	}
	hog.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := hog.ReadMessage(); err != nil || !bytes.Contains(msg, []byte(id)) {
		t.Errorf("MailHog websocket: %v, %s; want the new message", err, msg)
	}

	var list listReply
	getJSON(t, s.url("/mail/api/v1/messages"), &list)
	if list.Total != 1 || len(list.Messages) != 1 || list.Messages[0].ID != id {
		t.Errorf("/mail/api/v1/messages = %+v, want the one message", list)
	}
	var hogList struct{ Total int }
	getJSON(t, s.url("/mail/api/v2/messages"), &hogList)
	if hogList.Total != 1 {
		t.Errorf("/mail/api/v2/messages total = %d, want 1", hogList.Total)
	}

	// The preview points cid: images at part URLs under the prefix, and
	// they answer.
	preview := string(getBytes(t, s.url("/mail/view/"+id+".html")))
	m := regexp.MustCompile(`src="(/mail/api/v1/message/` + regexp.QuoteMeta(id) + `/part/[^"]+)"`).FindStringSubmatch(preview)
	if m == nil {
		t.Fatalf("preview has no cid: image rewritten under /mail/:\n%s", preview)
	}
	if status, body := fetchStatus(t, s.url(m[1])); status != http.StatusOK || !bytes.HasPrefix(body, []byte("\x89PNG")) {
		t.Errorf("GET %s = %d, want 200 and the PNG", m[1], status)
	}

	tests := []struct {
		path, wantLoc string // wantLoc "" = no redirect
		want          int
		wantBody      string
	}{
		{path: "/mail", want: http.StatusTemporaryRedirect, wantLoc: "/mail/"},
		{path: "/mail?x=1", want: http.StatusTemporaryRedirect, wantLoc: "/mail/?x=1"},
		{path: "/", want: http.StatusTemporaryRedirect, wantLoc: "/mail/"},
		{path: "/mail//view/" + id + ".html", want: http.StatusTemporaryRedirect, wantLoc: "/mail/view/" + id + ".html"},
		{path: "/mail/", want: http.StatusOK, wantBody: `<script type="module" src="js/app.js">`},
		{path: "/mail/js/api.js", want: http.StatusOK, wantBody: "export function"},
		{path: "/mail/api/v1/info", want: http.StatusOK, wantBody: `"Messages":1`},
		{path: "/mail/api/v1/message/latest", want: http.StatusOK, wantBody: id},
		{path: "/mail/api/v1/nope", want: http.StatusNotFound, wantBody: "no such endpoint"},
		{path: "/livez", want: http.StatusOK},
		{path: "/readyz", want: http.StatusOK},
		{path: "/mail/livez", want: http.StatusOK},
		{path: "/mail/readyz", want: http.StatusOK},
		{path: "/api/v1/messages", want: http.StatusNotFound, wantBody: "served under /mail/"},
		{path: "/view/" + id + ".html", want: http.StatusNotFound},
		{path: "/index.html", want: http.StatusNotFound},
		{path: "/mailx/", want: http.StatusNotFound},
	}
	for _, tt := range tests {
		resp, err := noRedirect.Get(s.url(tt.path))
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body) //nolint:errcheck // compared below
		resp.Body.Close()
		if resp.StatusCode != tt.want || resp.Header.Get("Location") != tt.wantLoc || !strings.Contains(body.String(), tt.wantBody) {
			t.Errorf("GET %s = %d Location %q body %.200q; want %d Location %q body with %q",
				tt.path, resp.StatusCode, resp.Header.Get("Location"), body.String(), tt.want, tt.wantLoc, tt.wantBody)
		}
	}

	// The CLI finds the API under MAILSINK_WEBROOT, as the server's
	// environment would set it; healthcheck uses the root probe.
	env := map[string]string{"MAILSINK_HTTP_ADDR": s.http, "MAILSINK_WEBROOT": "/mail/"}
	getenv := func(k string) string { return env[k] }
	var out, errOut bytes.Buffer
	ctx := context.Background()
	if code := cmdList(ctx, []string{"--json"}, getenv, &out, &errOut); code != 0 || !strings.Contains(out.String(), id) {
		t.Errorf("list under MAILSINK_WEBROOT: exit %d, %s %s", code, out.String(), errOut.String())
	}
	out.Reset()
	var waited struct{ ID string }
	if code := cmdWait(ctx, []string{"--query", "subject:quarterly", "--timeout", "5s"}, getenv, &out, &errOut); code != 0 {
		t.Errorf("wait under MAILSINK_WEBROOT: exit %d, %s", code, errOut.String())
	} else if err := json.Unmarshal(out.Bytes(), &waited); err != nil || waited.ID != id {
		t.Errorf("wait printed %s, want message %s", out.String(), id)
	}
	if code := healthcheck(ctx, nil, getenv, &errOut); code != 0 {
		t.Errorf("healthcheck: exit %d, %s", code, errOut.String())
	}
	if code := cmdDelete(ctx, []string{"--all"}, getenv, &errOut); code != 0 {
		t.Errorf("delete under MAILSINK_WEBROOT: exit %d, %s", code, errOut.String())
	}
	getJSON(t, s.url("/mail/api/v1/messages"), &list)
	if list.Total != 0 {
		t.Errorf("after delete --all, %d messages", list.Total)
	}
}

// TestUIWebroot is the browser UI under --webroot /mail/: the inbox
// loads, a delivered message arrives live over the websocket, and the
// message, its HTML preview and its parts open, all under the prefix.
func TestUIWebroot(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "ui", "rich.eml"))
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	s := startServer(t, nil, "--webroot=/mail/")
	s.root = "/mail/"
	openApp(t, b, s, "")
	if href := eval[string](t, b, `location.href`); href != s.url("/mail/") {
		t.Errorf("app at %s, want %s", href, s.url("/mail/"))
	}

	id := deliver(t, s, raw)
	b.do(t, "live row",
		poll(`document.querySelector('message-list li[data-id="`+id+`"] .subject')?.textContent.includes('Quarterly report')`),
		poll(`document.title === '(1) mailsink'`),
		click(`message-list li[data-id="`+id+`"] a.row`),
		poll(`location.hash.startsWith('#/message/')`),
		visible("message-view nav.tabs"),
		// The HTML tab opens first: the sandboxed preview from /mail/view/.
		poll(`document.querySelector('message-view section.panel')?.dataset.tab === 'html'`),
		visible("message-view iframe"),
		poll(iframeLoadedJS),
	)
	src := eval[string](t, b, `document.querySelector('message-view iframe').src`)
	if want := s.url("/mail/view/" + id + ".html"); src != want {
		t.Errorf("preview iframe src = %s, want %s", src, want)
	}
	if preview := getBytes(t, src); !bytes.Contains(preview, []byte(`src="/mail/api/v1/message/`+id+`/part/`)) {
		t.Errorf("preview's cid: image not under /mail/:\n%s", preview)
	}
	// Thumbnails and the download links are part URLs under the prefix.
	b.do(t, "attachments",
		click(`message-view nav.tabs a[data-tab="attachments"]`),
		visible("message-view ul.attachments"),
		poll(`[...document.querySelectorAll('message-view ul.attachments img')].every(i => i.complete && i.naturalWidth > 0)`),
	)
	links := eval[[]string](t, b, `[...document.querySelectorAll('message-view ul.attachments a.fname, message-view img')].map(e => e.href || e.src)`)
	if len(links) == 0 {
		t.Fatal("no attachment links")
	}
	for _, l := range links {
		if !strings.HasPrefix(l, s.url("/mail/api/v1/message/")) {
			t.Errorf("attachment URL %s not under /mail/api/", l)
		} else if status, _ := fetchStatus(t, l); status != http.StatusOK {
			t.Errorf("GET %s = %d", l, status)
		}
	}
	b.do(t, "back to the list", chromedp.KeyEvent("\x1b"), poll(`location.hash === '#/'`))
}

// TestCLIFollowsConfigFile: with the server configured by MAILSINK_CONFIG
// alone, the subcommands find it (address and --webroot) through the same
// file; a variable still wins over the file.
func TestCLIFollowsConfigFile(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--webroot=/mail/")
	deliver(t, s, plainMail("Config file CLI", "x"))
	file := filepath.Join(t.TempDir(), "mailsink.json")
	body, err := json.Marshal(map[string]any{"http-addr": s.http, "webroot": "mail", "max-age": "7d"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		env      map[string]string
		wantCode int
	}{
		{"file only", map[string]string{"MAILSINK_CONFIG": file}, 0},
		{"variable wins", map[string]string{"MAILSINK_CONFIG": file, "MAILSINK_WEBROOT": "/other/"}, 1},
		{"missing file", map[string]string{"MAILSINK_CONFIG": file + ".nope", "MAILSINK_HTTP_ADDR": s.http, "MAILSINK_WEBROOT": "/mail/"}, 0},
	} {
		var out, errOut bytes.Buffer
		code := dispatch(ctx, []string{"list"}, func(k string) string { return tt.env[k] }, nil, &out, &errOut)
		if code != tt.wantCode || (code == 0 && !strings.Contains(out.String(), "Config file CLI")) {
			t.Errorf("%s: list exit %d (want %d): %s %s", tt.name, code, tt.wantCode, out.String(), errOut.String())
		}
	}
}
