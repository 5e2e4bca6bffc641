package webui_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"mailsink/webui"
)

// activeMail carries attachments a browser would render or run if served
// as declared from our origin.
var activeMail = func() string {
	part := func(ct, name, body string) string {
		return fmt.Sprintf("--b\nContent-Type: %s\nContent-Disposition: attachment; filename=%q\nContent-Transfer-Encoding: base64\n\n%s\n",
			ct, name, base64.StdEncoding.EncodeToString([]byte(body)))
	}
	return "From: a@example.test\nTo: b@example.test\nSubject: active\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n" +
		"--b\nContent-Type: text/plain\n\nsee attachments\n" +
		part("text/html; charset=utf-8", "page.html", "<script>fetch('/api/v1/messages')</script>") +
		part("image/svg+xml", "logo.svg", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`) +
		part("application/javascript", "app.js", "alert(1)") +
		part("text/xml", "feed.xml", "<?xml-stylesheet href='x.xsl'?><a/>") +
		part("application/xhtml+xml", "page.xhtml", "<html xmlns='http://www.w3.org/1999/xhtml'/>") +
		part("text/css", "style.css", "body{}") +
		part("image/png", "dot.png", "\x89PNG\r\n\x1a\n") +
		part("application/zip", "files.zip", "PK\x03\x04") +
		"--b--\n"
}()

// TestPartDownloadTypes: no part is ever served as a page, script or
// stylesheet of our origin; raster images stay inline for the UI.
func TestPartDownloadTypes(t *testing.T) {
	t.Parallel()
	s := newGuardedServer(t, webui.Config{})
	s.insert(t, "act", activeMail)
	var m message
	s.getJSON(t, "/api/v1/message/act", &m)
	ids := map[string]string{}
	for _, a := range m.Attachments {
		ids[a.FileName] = a.PartID
	}
	tests := []struct {
		file, dest      string // dest: the Sec-Fetch-Dest sent, if any
		wantType        string
		wantDisposition string
	}{
		{"page.html", "document", "text/plain; charset=utf-8", "attachment"},
		{"page.html", "iframe", "text/plain; charset=utf-8", "attachment"},
		{"logo.svg", "document", "application/octet-stream", "attachment"},
		{"logo.svg", "", "application/octet-stream", "attachment"},
		{"logo.svg", "object", "application/octet-stream", "attachment"},
		{"logo.svg", "image", "image/svg+xml", "inline"}, // an <img>: SVG scripts never run there
		{"app.js", "script", "application/octet-stream", "attachment"},
		{"feed.xml", "document", "text/plain; charset=utf-8", "attachment"},
		{"page.xhtml", "document", "application/octet-stream", "attachment"},
		{"style.css", "style", "text/plain; charset=utf-8", "attachment"},
		{"dot.png", "image", "image/png", "inline"},
		{"dot.png", "document", "image/png", "inline"},
		{"files.zip", "document", "application/zip", "attachment"},
	}
	for _, tt := range tests {
		id, ok := ids[tt.file]
		if !ok {
			t.Fatalf("no attachment %s in %+v", tt.file, m.Attachments)
		}
		h := map[string]string{}
		if tt.dest != "" {
			h["Sec-Fetch-Dest"] = tt.dest
		}
		res := s.send(t, "GET", "/api/v1/message/act/part/"+id, h, "")
		if res.status != 200 {
			t.Fatalf("%s: %d %s", tt.file, res.status, res.body)
		}
		ct, cd := res.header.Get("Content-Type"), res.header.Get("Content-Disposition")
		if ct != tt.wantType || !strings.HasPrefix(cd, tt.wantDisposition+`; filename="`+tt.file) {
			t.Errorf("%s (dest %q): %s, %s; want %s, %s", tt.file, tt.dest, ct, cd, tt.wantType, tt.wantDisposition)
		}
		csp := res.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.HasSuffix(csp, "sandbox") {
			t.Errorf("%s: CSP %q, want default-src 'none' and sandbox", tt.file, csp)
		}
		if !strings.Contains(strings.Join(res.header.Values("Vary"), ","), "Sec-Fetch-Dest") {
			t.Errorf("%s: Vary %q lacks Sec-Fetch-Dest", tt.file, res.header.Values("Vary"))
		}
		wantHardened(t, tt.file, res.header)
	}

	// MailHog's part download: the HTML part is no page either.
	res := s.send(t, "GET", "/api/v1/messages/act/mime/part/2/download", map[string]string{"Sec-Fetch-Dest": "document"}, "")
	if ct := res.header.Get("Content-Type"); res.status != 200 || strings.Contains(ct, "html") ||
		!strings.HasPrefix(res.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("MailHog part download = %d %s %s, want an attachment, not HTML", res.status, ct, res.header.Get("Content-Disposition"))
	}
}

// TestHeadersOnRefusalsAndRedirects: nosniff and no-referrer are on every
// reply, also those the guards, the router and the websocket upgrader
// write; API replies carry a CSP that runs nothing.
func TestHeadersOnRefusalsAndRedirects(t *testing.T) {
	t.Parallel()
	s := newGuardedServer(t, webui.Config{LoopbackOnly: true, Auth: &webui.Auth{Tokens: []string{"t"}}})
	authz := map[string]string{"Authorization": "Bearer t"}
	with := func(extra map[string]string) map[string]string {
		h := map[string]string{"Authorization": "Bearer t"}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	tests := []struct {
		name, method, path string
		header             map[string]string
		status             int
	}{
		{"redirect", "GET", "//view/m1.txt", authz, http.StatusTemporaryRedirect},
		{"host refused", "GET", "/api/v1/messages", map[string]string{"Host": "evil.test"}, 403},
		{"unauthenticated", "GET", "/api/v1/messages", nil, 401},
		{"cross-site", "DELETE", "/api/v1/messages", with(map[string]string{"Origin": "http://evil.test"}), 403},
		{"form type", "POST", "/api/v1/send", with(map[string]string{"Content-Type": "text/plain"}), 415},
		{"no route", "GET", "/api/v1/nope", authz, 404},
		{"method", "PATCH", "/api/v1/info", authz, 405},
		{"not a websocket", "GET", "/api/events", authz, 400},
		{"ws refused", "GET", "/api/events", with(map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
			"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": "http://evil.test"}), 403},
		{"preflight refused", "OPTIONS", "/api/v1/messages", map[string]string{"Origin": "http://evil.test", "Access-Control-Request-Method": "DELETE"}, 403},
		{"probe", "GET", "/livez", nil, 200},
	}
	for _, tt := range tests {
		res := s.send(t, tt.method, tt.path, tt.header, func() string {
			if tt.method == "POST" {
				return "{}"
			}
			return ""
		}())
		if res.status != tt.status {
			t.Errorf("%s: status %d %s, want %d", tt.name, res.status, res.body, tt.status)
		}
		wantHardened(t, tt.name, res.header)
		if csp := res.header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q, want default-src 'none'", tt.name, csp)
		}
	}

	// The UI's own policy: scripts and styles from our origin only.
	res := s.send(t, "GET", "/", authz, "")
	csp := res.header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("UI CSP %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, " ws:") || strings.Contains(csp, "*") {
		t.Errorf("UI CSP %q allows unsafe or foreign sources", csp)
	}
}
