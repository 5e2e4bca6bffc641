package webui_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestLinkCheck(t *testing.T) {
	t.Parallel()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/get-only":
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			w.WriteHeader(http.StatusOK)
		default:
			http.NotFound(w, r)
		}
	}))
	defer target.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/"
	ln.Close()

	s := newTestServer(t)
	u := target.URL
	s.insert(t, "links", "Subject: links\nContent-Type: text/html\n\n"+
		`<a href="`+u+`/ok">ok</a> <a href="`+u+`/missing">gone</a> <a href="`+u+`/moved">moved</a> `+
		`<a href="`+u+`/get-only">get</a> <a href="`+dead+`">dead</a> <a href="mailto:x@example.test">mail</a>`+"\n")

	type result struct {
		Errors int
		Links  []struct {
			URL        string
			StatusCode int
			Status     string
		}
	}
	want := map[string]int{u + "/ok": 200, u + "/missing": 404, u + "/moved": 302, u + "/get-only": 200, dead: 0}
	for _, follow := range []string{"false", "true"} {
		var got result
		wantJSON(t, s.get(t, "/api/v1/message/links/link-check?follow="+follow), &got)
		if follow == "true" {
			want[u+"/moved"] = 200
		}
		if len(got.Links) != len(want) {
			t.Fatalf("follow=%s: %d links checked, want %d (mailto skipped): %+v", follow, len(got.Links), len(want), got.Links)
		}
		for _, l := range got.Links {
			if code, ok := want[l.URL]; !ok || code != l.StatusCode || l.Status == "" {
				t.Errorf("follow=%s: %s = %d %q, want %d", follow, l.URL, l.StatusCode, l.Status, code)
			}
		}
		if got.Errors != 2 {
			t.Errorf("follow=%s: Errors = %d, want 2 (404 and the dead link)", follow, got.Errors)
		}
	}
	wantError(t, s.get(t, "/api/v1/message/links/link-check?follow=maybe"), http.StatusBadRequest)
	wantError(t, s.get(t, "/api/v1/message/nosuch/link-check"), http.StatusNotFound)
}

func TestReleaseRefused(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.insert(t, "r", "Subject: r\n\nx\n")
	if msg := wantError(t, s.do(t, http.MethodPost, "/api/v1/message/r/release", nil), http.StatusBadRequest); msg == "" {
		t.Error("no reason given")
	}
	wantError(t, s.do(t, http.MethodPost, "/api/v1/message/nosuch/release", nil), http.StatusNotFound)
}
