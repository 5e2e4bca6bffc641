package webui_test

import (
	"maps"
	"net/http"
	"strings"
	"testing"
)

// cspDirectives splits a Content-Security-Policy into directive → sources.
func cspDirectives(t *testing.T, csp string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for d := range strings.SplitSeq(csp, ";") {
		name, sources, _ := strings.Cut(strings.TrimSpace(d), " ")
		if name == "" {
			continue
		}
		if _, dup := out[name]; dup {
			t.Errorf("CSP %q repeats %s", csp, name)
		}
		out[name] = sources
	}
	return out
}

func TestViewRemoteCSP(t *testing.T) {
	s := newTestServer(t)
	s.insert(t, "h1", "From: a@example.test\nTo: b@example.test\nSubject: remote\nMIME-Version: 1.0\n"+
		"Content-Type: text/html; charset=utf-8\n\n<p><img src=\"http://tracker.example/p.png\"></p>\n")

	base := map[string]string{
		"default-src":     "'none'",
		"img-src":         "data: cid: 'self'",
		"style-src":       "'unsafe-inline'",
		"form-action":     "'none'",
		"frame-ancestors": "'self'",
		"sandbox":         "",
	}
	remote := maps.Clone(base)
	remote["img-src"] = "data: cid: 'self' http: https:"
	remote["style-src"] = "'unsafe-inline' http: https:"

	tests := []struct {
		name, path string
		want       map[string]string
	}{
		{"default", "/view/h1.html", base},
		{"remote", "/view/h1.html?remote=1", remote},
		{"latest remote", "/view/latest.html?remote=1", remote},
		{"other value ignored", "/view/h1.html?remote=yes", base},
		{"empty value ignored", "/view/h1.html?remote=", base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.get(t, tt.path)
			if res.status != http.StatusOK || res.header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("GET %s = %d %s", tt.path, res.status, res.header.Get("Content-Type"))
			}
			if !strings.Contains(string(res.body), `src="http://tracker.example/p.png"`) {
				t.Errorf("body = %q, want the HTML unchanged", res.body)
			}
			csp := res.header.Values("Content-Security-Policy")
			if len(csp) != 1 {
				t.Fatalf("CSP headers = %q, want one", csp)
			}
			if got := cspDirectives(t, csp[0]); !maps.Equal(got, tt.want) {
				t.Errorf("CSP = %q,\nwant directives %v", csp[0], tt.want)
			}
		})
	}

	// remote=1 does not make a missing message viewable.
	if res := s.get(t, "/view/nope.html?remote=1"); res.status != http.StatusNotFound {
		t.Errorf("GET /view/nope.html?remote=1 = %d, want 404", res.status)
	}
}
