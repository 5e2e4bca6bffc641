package webui_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"mailsink/store"
	"mailsink/webui"
)

// TestRoot serves under Config.Root "/mail/" (given without slashes, as
// New normalises it): routes, redirects and generated URLs carry the
// prefix; the probes also answer at the root; nothing else is served
// outside it.
func TestRoot(t *testing.T) {
	t.Parallel()
	hub := webui.NewHub(nil)
	t.Cleanup(hub.Close)
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "mail.db"), store.Options{Notify: hub.Publish})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // read-only use after the inserts
	ui := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>mailsink</title>")}, "js/app.js": {Data: []byte("export {};")}}
	srv := webui.New(webui.Config{Root: "mail"}, db, hub, ui, slog.New(slog.DiscardHandler))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	s := &testServer{ts: ts, db: db, hub: hub}
	s.insert(t, "m2", richMail)
	s.insert(t, "a b", plainMail)

	tests := []struct {
		method, path string
		want         int
		location     string // for redirects
		body         string // substring
	}{
		{"GET", "/mail", http.StatusTemporaryRedirect, "/mail/", ""},
		{"HEAD", "/mail", http.StatusTemporaryRedirect, "/mail/", ""},
		{"GET", "/", http.StatusTemporaryRedirect, "/mail/", ""},
		{"GET", "/?q=1", http.StatusTemporaryRedirect, "/mail/?q=1", ""},
		{"POST", "/mail", http.StatusNotFound, "", "served under /mail/"},
		{"GET", "/mail//view/m2.html", http.StatusTemporaryRedirect, "/mail/view/m2.html", ""},
		{"GET", "/mail/api//v1/messages", http.StatusTemporaryRedirect, "/mail/api/v1/messages", ""},
		{"GET", "/mail/", http.StatusOK, "", "<title>mailsink</title>"},
		{"GET", "/mail/index.html", http.StatusMovedPermanently, "./", ""}, // http.FileServer's, relative: stays under the root
		{"GET", "/mail/js/app.js", http.StatusOK, "", "export"},
		{"GET", "/mail/api/v1/messages", http.StatusOK, "", `"total":2`},
		{"GET", "/mail/api/v1/message/a%20b", http.StatusOK, "", `"ID":"a b"`},
		{"GET", "/mail/api/v2/messages", http.StatusOK, "", `"total":2`},
		{"DELETE", "/mail/api/v1/info", http.StatusMethodNotAllowed, "", "method not allowed"},
		{"GET", "/mail/view/m2.html", http.StatusOK, "", `src="/mail/api/v1/message/m2/part/`},
		{"GET", "/livez", http.StatusOK, "", ""},
		{"GET", "/readyz", http.StatusOK, "", ""},
		{"GET", "/mail/readyz", http.StatusOK, "", ""},
		{"GET", "/api/v1/messages", http.StatusNotFound, "", "served under /mail/"},
		{"GET", "/view/m2.html", http.StatusNotFound, "", ""},
		{"GET", "/js/app.js", http.StatusNotFound, "", ""},
		{"GET", "/mailbox/", http.StatusNotFound, "", ""},
		{"GET", "/MAIL/", http.StatusNotFound, "", ""},
	}
	for _, tt := range tests {
		res := s.do(t, tt.method, tt.path, nil)
		if res.status != tt.want || res.header.Get("Location") != tt.location || !strings.Contains(string(res.body), tt.body) {
			t.Errorf("%s %s = %d Location %q %.200q; want %d Location %q with %q",
				tt.method, tt.path, res.status, res.header.Get("Location"), res.body, tt.want, tt.location, tt.body)
		}
		if res.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: no nosniff header", tt.method, tt.path)
		}
	}

	// The part URL the preview names answers.
	res := s.get(t, "/mail/view/m2.html")
	i := strings.Index(string(res.body), `src="/mail/api/`)
	part := string(res.body[i+len(`src="`):])
	part = part[:strings.IndexByte(part, '"')]
	if got := s.get(t, part); got.status != http.StatusOK || got.header.Get("Content-Type") != "image/png" {
		t.Errorf("GET %s = %d %s", part, got.status, got.header.Get("Content-Type"))
	}
}
