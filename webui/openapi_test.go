package webui_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"maps"
	"mime"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gorilla/websocket"

	"mailsink/store"
	"mailsink/webui"
)

// This file keeps webui/openapi.json true: its operations must be exactly
// the registered routes, its references and path parameters must resolve,
// and real replies (status, media type, JSON shape, documented headers)
// must be what it declares.

// oaDoc is the served OpenAPI document, decoded with json.Number.
type oaDoc struct{ root map[string]any }

// fetchOpenAPI GETs the document from s and checks how it is served.
func fetchOpenAPI(t *testing.T, s *testServer) oaDoc {
	t.Helper()
	res := s.get(t, "/api/v1/openapi.json")
	if res.status != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.json = %d %s", res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var root map[string]any
	if err := oaDecode(res.body, &root); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return oaDoc{root}
}

// oaDecode decodes exactly one JSON value, numbers as json.Number.
func oaDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

// oaMethods are the operation keys of an OpenAPI path item.
var oaMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations returns "METHOD /path" for every operation of the document.
func (d oaDoc) operations() []string {
	var out []string
	for p, item := range oaMap(d.root["paths"]) {
		for _, m := range oaMethods {
			if _, ok := oaMap(item)[m]; ok {
				out = append(out, strings.ToUpper(m)+" "+p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// pointer resolves a local JSON reference such as "#/components/schemas/Message".
func (d oaDoc) pointer(ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("not a local reference")
	}
	var cur any = d.root
	for tok := range strings.SplitSeq(rest, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q is not an object", tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("no %q", tok)
		}
	}
	return cur, nil
}

// deref follows $ref until an object without one.
func (d oaDoc) deref(v any) map[string]any {
	m := oaMap(v)
	for i := 0; i < 32; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		target, err := d.pointer(ref)
		if err != nil {
			return nil
		}
		m = oaMap(target)
	}
	return nil
}

// response returns the declared response of an operation for a status.
func (d oaDoc) response(method, path string, status int) (map[string]any, bool) {
	item := oaMap(oaMap(d.root["paths"])[path])
	op := oaMap(item[strings.ToLower(method)])
	r, ok := oaMap(op["responses"])[strconv.Itoa(status)]
	if !ok {
		return nil, false
	}
	return d.deref(r), true
}

func oaMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// goPatternToOperation turns a ServeMux pattern ("GET /api/v1/message/{id}",
// "GET /files/{path...}", "GET /{$}") into the document's form.
func goPatternToOperation(pattern string) (string, error) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return "", fmt.Errorf("pattern %q has no method: it answers every method, which the document cannot list", pattern)
	}
	if i := strings.IndexByte(path, '/'); i > 0 {
		path = path[i:] // drop a host
	}
	path = strings.ReplaceAll(path, "{$}", "")
	path = strings.ReplaceAll(path, "...}", "}")
	return strings.ToUpper(method) + " " + path, nil
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	doc := fetchOpenAPI(t, s)
	if v, _ := doc.root["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Errorf("openapi = %q, want 3.x", v)
	}
	if title := oaMap(doc.root["info"])["title"]; title != "mailsink" {
		t.Errorf("info.title = %v, want mailsink", title)
	}
	if len(doc.operations()) == 0 {
		t.Error("the document has no operations")
	}
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	doc := fetchOpenAPI(t, s)

	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "routes.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	hub := webui.NewHub(nil)
	t.Cleanup(hub.Close)
	routes := webui.New(webui.Config{}, db, hub, fstest.MapFS{}, nil).Routes()
	if !slices.IsSorted(routes) {
		t.Errorf("Routes() is not sorted: %q", routes)
	}
	if !slices.Contains(routes, "GET /api/v1/openapi.json") {
		t.Errorf("Routes() lacks the document's own route: %q", routes)
	}

	var registered []string
	for _, p := range routes {
		op, err := goPatternToOperation(p)
		if err != nil {
			t.Error(err)
			continue
		}
		registered = append(registered, op)
	}
	documented := doc.operations()
	var undocumented, unregistered []string
	for _, op := range registered {
		if !slices.Contains(documented, op) {
			undocumented = append(undocumented, op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(registered, op) {
			unregistered = append(unregistered, op)
		}
	}
	if len(undocumented) > 0 {
		t.Errorf("routes missing from openapi.json (add them to paths):\n\t%s", strings.Join(undocumented, "\n\t"))
	}
	if len(unregistered) > 0 {
		t.Errorf("operations in openapi.json that no route serves (remove them or register the route):\n\t%s", strings.Join(unregistered, "\n\t"))
	}
}

// oaPathParam matches a parameter of an OpenAPI path template.
var oaPathParam = regexp.MustCompile(`\{([^{}]+)\}`)

func TestOpenAPIDocumentIsConsistent(t *testing.T) {
	t.Parallel()
	doc := fetchOpenAPI(t, newTestServer(t))

	// Every $ref resolves.
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, err := doc.pointer(ref); err != nil {
					t.Errorf("%s: $ref %q does not resolve: %v", at, ref, err)
				}
			}
			for k, c := range v {
				walk(c, at+"/"+k)
			}
		case []any:
			for i, c := range v {
				walk(c, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc.root, "#")

	// Every path parameter of a template is declared (required, in path)
	// and every declared path parameter is in the template.
	opIDs := map[string]string{}
	for path, item := range oaMap(doc.root["paths"]) {
		var inTemplate []string
		for _, m := range oaPathParam.FindAllStringSubmatch(path, -1) {
			inTemplate = append(inTemplate, m[1])
		}
		slices.Sort(inTemplate)
		for _, method := range oaMethods {
			op, ok := oaMap(item)[method].(map[string]any)
			if !ok {
				continue
			}
			where := strings.ToUpper(method) + " " + path
			var declared []string
			for _, p := range slices.Concat(oaSlice(oaMap(item)["parameters"]), oaSlice(op["parameters"])) {
				p := doc.deref(p)
				if p["in"] != "path" {
					continue
				}
				name, _ := p["name"].(string)
				declared = append(declared, name)
				if p["required"] != true {
					t.Errorf("%s: path parameter %q is not required: true", where, name)
				}
			}
			slices.Sort(declared)
			if !slices.Equal(declared, inTemplate) {
				t.Errorf("%s: path parameters declared %q, template has %q", where, declared, inTemplate)
			}
			id, _ := op["operationId"].(string)
			if id == "" {
				t.Errorf("%s: no operationId", where)
			} else if prev, dup := opIDs[id]; dup {
				t.Errorf("%s: operationId %q also used by %s", where, id, prev)
			}
			opIDs[id] = where
			if len(oaMap(op["responses"])) == 0 {
				t.Errorf("%s: no responses", where)
			}
		}
	}

	// required names only documented properties.
	for name, sc := range oaMap(oaMap(doc.root["components"])["schemas"]) {
		props := oaMap(oaMap(sc)["properties"])
		for _, r := range oaSlice(oaMap(sc)["required"]) {
			if _, ok := props[r.(string)]; !ok {
				t.Errorf("schema %s: required %q is not a property", name, r)
			}
		}
	}
}

func oaSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// shapeProblems lists how the decoded JSON value v (numbers as
// json.Number) departs from schema: keys that are not documented
// properties, required properties that are missing, wrong types, values
// outside an enum, unparseable date-times. at names v in the messages.
func (d oaDoc) shapeProblems(schema any, v any, at string) []string {
	sc := d.deref(schema)
	if sc == nil {
		return []string{at + ": schema does not resolve"}
	}
	if v == nil {
		if sc["nullable"] == true || len(sc) == 0 {
			return nil
		}
		return []string{at + ": null, but the schema is not nullable"}
	}
	var out []string
	for _, sub := range oaSlice(sc["allOf"]) {
		out = append(out, d.shapeProblems(sub, v, at)...)
	}
	if alts := oaSlice(sc["anyOf"]); len(alts) > 0 {
		var why []string
		matched := false
		for i, alt := range alts {
			p := d.shapeProblems(alt, v, at)
			if len(p) == 0 {
				matched = true
				break
			}
			why = append(why, fmt.Sprintf("alternative %d: %s", i, strings.Join(p, "; ")))
		}
		if !matched {
			out = append(out, at+": matches no anyOf alternative: "+strings.Join(why, " | "))
		}
	}
	if enum := oaSlice(sc["enum"]); len(enum) > 0 && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		out = append(out, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	switch typ, _ := sc["type"].(string); typ {
	case "":
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return append(out, fmt.Sprintf("%s: %T, want an object", at, v))
		}
		props, hasProps := sc["properties"].(map[string]any)
		extra := oaMap(sc["additionalProperties"])
		for k, val := range obj {
			switch {
			case props[k] != nil:
				out = append(out, d.shapeProblems(props[k], val, at+"."+k)...)
			case extra != nil:
				out = append(out, d.shapeProblems(extra, val, at+"["+strconv.Quote(k)+"]")...)
			case hasProps:
				out = append(out, fmt.Sprintf("%s: key %q is not a documented property", at, k))
			}
		}
		for _, r := range oaSlice(sc["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				out = append(out, fmt.Sprintf("%s: documented property %q is missing", at, r))
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return append(out, fmt.Sprintf("%s: %T, want an array", at, v))
		}
		for i, item := range arr {
			out = append(out, d.shapeProblems(sc["items"], item, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return append(out, fmt.Sprintf("%s: %T, want a string", at, v))
		}
		if sc["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				out = append(out, fmt.Sprintf("%s: %q is not a date-time", at, str))
			}
		}
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return append(out, fmt.Sprintf("%s: %T, want an integer", at, v))
		}
		if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
			out = append(out, fmt.Sprintf("%s: %s is not an integer", at, n))
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			return append(out, fmt.Sprintf("%s: %T, want a number", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return append(out, fmt.Sprintf("%s: %T, want a boolean", at, v))
		}
	default:
		out = append(out, fmt.Sprintf("%s: unknown schema type %q", at, typ))
	}
	return out
}

// oaPNG is a small PNG for the inline image part.
func oaPNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	img.Set(1, 1, color.RGBA{R: 0xff, A: 0xff})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// oaRichMail fills every array of the message view: addresses of each
// kind, tags, List-Unsubscribe, two Received hops, a long line (a
// finding), links, a code, an inline image and an attachment.
func oaRichMail(t *testing.T) string {
	return `Received: from relay.example.test (relay.example.test [192.0.2.7]) by mx.example.test with ESMTPS id B2; Thu, 26 Nov 2026 10:00:05 +0000
Received: from client.test (client.test [192.0.2.1]) by relay.example.test with ESMTP id A1; Thu, 26 Nov 2026 10:00:00 +0000
From: Ann Example <ann@example.test>
To: Bob <bob@example.test>
Cc: carol@example.test
Bcc: dave@example.test
Reply-To: replies@example.test
Subject: Your code is 482913
Date: Thu, 26 Nov 2026 10:00:00 +0000
Message-ID: <rich-1@example.test>
X-Tags: alpha, beta
X-Long: ` + strings.Repeat("x", 1000) + `
List-Unsubscribe: <mailto:unsub@example.test>, <https://example.test/unsub>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Hello Bob, your code is 482913. See https://example.test/welcome
--alt
Content-Type: text/html; charset=utf-8

<p>Hello Bob, <a href="https://example.test/confirm">confirm</a> <img src="cid:logo@example.test"></p>
--alt--
--rel
Content-Type: image/png
Content-ID: <logo@example.test>
Content-Disposition: inline; filename="logo.png"
Content-Transfer-Encoding: base64

` + oaPNG(t) + `
--rel--
--outer
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcTl8uXrCg==
--outer--
`
}

// oaEnvelope fills every array of the envelope.
func oaEnvelope() store.Envelope {
	at := time.Date(2026, 11, 26, 10, 0, 6, 0, time.UTC)
	return store.Envelope{
		RemoteAddr: "127.0.0.1:40000", LocalAddr: "127.0.0.1:2525",
		Helo: "client.test", ESMTP: true, TLSVersion: "TLS1.3", TLSCipher: "TLS_AES_128_GCM_SHA256",
		AuthUser: "", MailFrom: "bounce@example.test",
		MailParams: []store.Param{{Key: "BODY", Value: "8BITMIME"}},
		Rcpts:      []store.Recipient{{Address: "bob@example.test", Params: []store.Param{{Key: "NOTIFY", Value: "NEVER"}}}},
		Protocol:   "ESMTPS", Body: "8BITMIME",
		Transcript: []store.TranscriptLine{
			{Time: at, Dir: "S", Text: "220 mailsink ESMTP"},
			{Time: at, Dir: "C", Text: "EHLO client.test"},
		},
		ReceivedAt: at,
	}
}

func TestOpenAPIMatchesReplies(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	doc := fetchOpenAPI(t, s)
	ctx := context.Background()
	if _, err := s.db.Insert(ctx, "m1", oaEnvelope(), []byte(crlf(oaRichMail(t)))); err != nil {
		t.Fatal(err)
	}
	s.insert(t, "m2", "From: Ann <ann@example.test>\nTo: bob@example.test\nSubject: second\n\nplain\n")
	s.insert(t, "m3", "From: x@example.test\nSubject: to delete\n\nbye\n")

	// Link checks must stay on this machine: m4 links to the server itself.
	s.insert(t, "m4", "From: x@example.test\nSubject: links\n\nsee "+s.ts.URL+"/livez\n")
	// m5's HTML draws warnings, with notes, for the html-check reply.
	s.insert(t, "m5", "From: x@example.test\nSubject: html\nContent-Type: text/html\n\n"+
		`<style>@media (max-width: 600px) { a:hover { color: red } }</style><div style="display:flex"><video src="a.mp4"></video><script>x()</script></div>`+"\n")

	var m1 struct{ Attachments, Inline []struct{ PartID string } }
	if res := s.get(t, "/api/v1/message/m1"); res.status != http.StatusOK || json.Unmarshal(res.body, &m1) != nil {
		t.Fatalf("GET /api/v1/message/m1 = %d %.300s", res.status, res.body)
	}
	if len(m1.Attachments) != 1 || len(m1.Inline) != 1 {
		t.Fatalf("message m1 has attachments %v and inline parts %v, want one each", m1.Attachments, m1.Inline)
	}
	pdf, img := m1.Attachments[0].PartID, m1.Inline[0].PartID

	const sendOK = `{"From":{"Email":"ann@example.test","Name":"Ann"},"To":[{"Email":"bob@example.test"}],"Subject":"hi","Text":"x"}`
	tests := []struct {
		method, template, path, body string
		status                       int
	}{
		{"GET", "/api/v1/info", "/api/v1/info", "", 200},
		{"GET", "/api/v1/webui", "/api/v1/webui", "", 200},
		{"GET", "/api/v1/openapi.json", "/api/v1/openapi.json", "", 200},
		{"GET", "/api/v1/messages", "/api/v1/messages", "", 200},
		{"GET", "/api/v1/messages", "/api/v1/messages?limit=x", "", 400},
		{"PUT", "/api/v1/messages", "/api/v1/messages", `{"IDs":["m2"],"Read":true}`, 200},
		{"PUT", "/api/v1/messages", "/api/v1/messages", "{", 400},
		{"PUT", "/api/v1/messages", "/api/v1/messages", `{"IDs":["` + strings.Repeat("a", 1<<20) + `"]}`, 413},
		{"DELETE", "/api/v1/messages", "/api/v1/messages", `{"IDs":["no-such-id"]}`, 200},
		{"GET", "/api/v1/search", "/api/v1/search?query=from:ann", "", 200},
		{"GET", "/api/v1/search", "/api/v1/search?query=from:", "", 400},
		{"DELETE", "/api/v1/search", "/api/v1/search?query=subject:no-such-subject", "", 200},
		{"DELETE", "/api/v1/search", "/api/v1/search", "", 400},
		{"GET", "/api/v1/wait", "/api/v1/wait?query=subject:second", "", 200},
		{"GET", "/api/v1/wait", "/api/v1/wait?query=subject:never&timeout=1ms", "", 408},
		{"GET", "/api/v1/wait", "/api/v1/wait?count=0", "", 400},
		{"GET", "/api/v1/tags", "/api/v1/tags", "", 200},
		{"PUT", "/api/v1/tags", "/api/v1/tags", `{"IDs":["m2"],"Tags":["beta","delta"]}`, 200},
		{"PUT", "/api/v1/tags", "/api/v1/tags", `{"Tags":["x"]}`, 400},
		{"PUT", "/api/v1/tags/{tag}", "/api/v1/tags/delta", `{"Name":"gamma"}`, 200},
		{"PUT", "/api/v1/tags/{tag}", "/api/v1/tags/no-such-tag", `{"Name":"x"}`, 400},
		{"DELETE", "/api/v1/tags/{tag}", "/api/v1/tags/gamma", "", 200},
		{"GET", "/api/v1/inboxes", "/api/v1/inboxes", "", 200},
		{"GET", "/api/v1/message/{id}", "/api/v1/message/m1", "", 200},
		{"GET", "/api/v1/message/{id}", "/api/v1/message/latest?query=subject:second", "", 200},
		{"GET", "/api/v1/message/{id}", "/api/v1/message/latest?query=from:", "", 400},
		{"GET", "/api/v1/message/{id}", "/api/v1/message/no-such-id", "", 404},
		{"GET", "/api/v1/message/{id}/raw", "/api/v1/message/m1/raw", "", 200},
		{"GET", "/api/v1/message/{id}/raw", "/api/v1/message/no-such-id/raw", "", 404},
		{"GET", "/api/v1/message/{id}/headers", "/api/v1/message/m1/headers", "", 200},
		{"GET", "/api/v1/message/{id}/part/{part}", "/api/v1/message/m1/part/" + pdf, "", 200},
		{"GET", "/api/v1/message/{id}/part/{part}", "/api/v1/message/m1/part/99", "", 404},
		{"GET", "/api/v1/message/{id}/part/{part}/thumb", "/api/v1/message/m1/part/" + img + "/thumb", "", 200},
		{"GET", "/api/v1/message/{id}/part/{part}/thumb", "/api/v1/message/m1/part/99/thumb", "", 404},
		{"GET", "/api/v1/message/{id}/transcript", "/api/v1/message/m1/transcript", "", 200},
		{"GET", "/api/v1/message/{id}/received", "/api/v1/message/m1/received", "", 200},
		{"GET", "/api/v1/message/{id}/link-check", "/api/v1/message/m4/link-check?follow=true", "", 200},
		{"GET", "/api/v1/message/{id}/link-check", "/api/v1/message/m4/link-check?follow=maybe", "", 400},
		{"GET", "/api/v1/message/{id}/link-check", "/api/v1/message/no-such-id/link-check", "", 404},
		{"GET", "/api/v1/message/{id}/html-check", "/api/v1/message/m5/html-check", "", 200},
		{"GET", "/api/v1/message/{id}/html-check", "/api/v1/message/m2/html-check", "", 400},
		{"GET", "/api/v1/message/{id}/html-check", "/api/v1/message/no-such-id/html-check", "", 404},
		{"POST", "/api/v1/message/{id}/release", "/api/v1/message/m1/release", `{"To":["x@example.test"]}`, 400},
		{"POST", "/api/v1/message/{id}/release", "/api/v1/message/no-such-id/release", "", 404},
		{"GET", "/view/{file}", "/view/m1.html", "", 200},
		{"GET", "/view/{file}", "/view/m1.txt", "", 200},
		{"GET", "/view/{file}", "/view/m1.pdf", "", 404},
		{"POST", "/api/v1/send", "/api/v1/send", sendOK, 200},
		{"POST", "/api/v1/send", "/api/v1/send", `{"From":{"Email":"ann@example.test"}}`, 400},
		{"GET", "/api/events", "/api/events", "", 400},
		{"GET", "/api/v2/websocket", "/api/v2/websocket", "", 400},
		{"GET", "/livez", "/livez", "", 200},
		{"GET", "/readyz", "/readyz", "", 200},
		{"GET", "/api/v2/messages", "/api/v2/messages", "", 200},
		{"GET", "/api/v2/search", "/api/v2/search?kind=from&query=ann", "", 200},
		{"GET", "/api/v2/search", "/api/v2/search?kind=subject&query=x", "", 400},
		{"GET", "/api/v1/messages/{id}", "/api/v1/messages/m1", "", 200},
		{"GET", "/api/v1/messages/{id}", "/api/v1/messages/no-such-id", "", 404},
		{"GET", "/api/v1/messages/{id}/download", "/api/v1/messages/m1/download", "", 200},
		{"GET", "/api/v1/messages/{id}/download", "/api/v1/messages/no-such-id/download", "", 404},
		{"GET", "/api/v1/messages/{id}/mime/part/{index}/download", "/api/v1/messages/m1/mime/part/1/download", "", 200},
		{"GET", "/api/v1/messages/{id}/mime/part/{index}/download", "/api/v1/messages/m1/mime/part/99/download", "", 404},
		{"DELETE", "/api/v1/messages/{id}", "/api/v1/messages/m3", "", 200},
		{"DELETE", "/api/v1/messages/{id}", "/api/v1/messages/m3", "", 404},
		{"GET", "/api/v1/chaos", "/api/v1/chaos", "", 200},
		{"PUT", "/api/v1/chaos", "/api/v1/chaos", `{"Sender":{"Probability":5},"Rules":["rcpt:to=*@x.test:550 5.1.1 No",{"Stage":"mail","Delay":"1s","Probability":0.5}]}`, 200},
		{"PUT", "/api/v1/chaos", "/api/v1/chaos", `{"Rules":[{"Stage":"nope"}]}`, 400},
		{"PUT", "/api/v1/chaos", "/api/v1/chaos", `{"Rules":["` + strings.Repeat("a", 1<<20) + `"]}`, 413},
		{"DELETE", "/api/v1/chaos/counters", "/api/v1/chaos/counters", "", 200},
		{"GET", "/api/v2/jim", "/api/v2/jim", "", 404},
		{"PUT", "/api/v2/jim", "/api/v2/jim", `{"AcceptChance":1}`, 404},
		{"DELETE", "/api/v2/jim", "/api/v2/jim", "", 404},
		{"POST", "/api/v2/jim", "/api/v2/jim", "", 201},
		{"POST", "/api/v2/jim", "/api/v2/jim", "", 400},
		{"GET", "/api/v2/jim", "/api/v2/jim", "", 200},
		{"PUT", "/api/v2/jim", "/api/v2/jim", `{"AcceptChance":1}`, 200},
		{"PUT", "/api/v2/jim", "/api/v2/jim", `{`, 400},
		{"DELETE", "/api/v2/jim", "/api/v2/jim", "", 200},
		{"DELETE", "/api/v1/chaos", "/api/v1/chaos", "", 200},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		var body io.Reader
		if tt.body != "" {
			body = strings.NewReader(tt.body)
		}
		res := s.do(t, tt.method, tt.path, body)
		where := fmt.Sprintf("%s %s", tt.method, tt.path)
		if res.status != tt.status {
			t.Errorf("%s = %d, want %d (test setup); body %.300s", where, res.status, tt.status, res.body)
			continue
		}
		seen[tt.method+" "+tt.template] = true
		r, ok := doc.response(tt.method, tt.template, res.status)
		if !ok {
			t.Errorf("%s answered %d, which openapi.json does not declare for %s %s", where, res.status, tt.method, tt.template)
			continue
		}
		checkReply(t, doc, where, r, res)
	}
	// Every operation is exercised (the websockets' 101 in TestOpenAPIEventFrames).
	for _, op := range doc.operations() {
		if !seen[op] {
			t.Errorf("no reply checked for %s: add a case", op)
		}
	}

	// 405 and unknown API paths use the shared responses.
	res := s.do(t, "POST", "/api/v1/info", nil)
	if res.status != http.StatusMethodNotAllowed {
		t.Fatalf("POST /api/v1/info = %d, want 405", res.status)
	}
	checkReply(t, doc, "POST /api/v1/info", doc.deref(map[string]any{"$ref": "#/components/responses/MethodNotAllowed"}), res)

	// 500 and 503 as they occur: a store that fails, a hub that closed.
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	s.hub.Close()
	for _, tt := range []struct {
		template, path string
		status         int
	}{
		{"/api/v1/info", "/api/v1/info", 500},
		{"/api/v1/messages", "/api/v1/messages", 500},
		{"/api/v1/message/{id}", "/api/v1/message/m1", 500},
		{"/api/v2/messages", "/api/v2/messages", 500},
		{"/readyz", "/readyz", 503},
		{"/api/events", "/api/events", 503},
		{"/api/v2/websocket", "/api/v2/websocket", 503},
	} {
		res := s.get(t, tt.path)
		where := "GET " + tt.path + " (store closed)"
		if res.status != tt.status {
			t.Errorf("%s = %d, want %d; body %s", where, res.status, tt.status, res.body)
			continue
		}
		r, ok := doc.response("GET", tt.template, res.status)
		if !ok {
			t.Errorf("%s answered %d, which openapi.json does not declare", where, res.status)
			continue
		}
		checkReply(t, doc, where, r, res)
	}
}

// checkReply checks res against the declared response r: the media type
// is declared, a JSON body has the declared shape, an undeclared content
// means an empty body, and every required header is present.
func checkReply(t *testing.T, doc oaDoc, where string, r map[string]any, res response) {
	t.Helper()
	for name, h := range oaMap(r["headers"]) {
		if doc.deref(h)["required"] == true && res.header.Get(name) == "" {
			t.Errorf("%s: documented header %s is missing", where, name)
		}
	}
	content := oaMap(r["content"])
	if content == nil {
		if len(res.body) != 0 {
			t.Errorf("%s: openapi.json declares no content, got %.200q", where, res.body)
		}
		return
	}
	mt, _, err := mime.ParseMediaType(res.header.Get("Content-Type"))
	if err != nil {
		t.Errorf("%s: Content-Type %q: %v", where, res.header.Get("Content-Type"), err)
		return
	}
	media, ok := content[mt]
	if !ok {
		media, ok = content["*/*"]
	}
	if !ok {
		t.Errorf("%s: replied %s, openapi.json declares %v", where, mt, slices.Sorted(maps.Keys(content)))
		return
	}
	if mt != "application/json" {
		return
	}
	var v any
	if err := oaDecode(res.body, &v); err != nil {
		t.Errorf("%s: body is not JSON: %v", where, err)
		return
	}
	for _, p := range doc.shapeProblems(oaMap(media)["schema"], v, "body") {
		t.Errorf("%s: %s", where, p)
	}
}

func TestOpenAPIEventFrames(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	doc := fetchOpenAPI(t, s)
	schema := func(name string) any { return map[string]any{"$ref": "#/components/schemas/" + name} }

	dial := func(path string) *websocket.Conn {
		url := "ws" + strings.TrimPrefix(s.ts.URL, "http") + path
		c, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {s.ts.URL}})
		if err != nil {
			t.Fatalf("dial %s: %v", path, err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	events, mailhog := dial("/api/events"), dial("/api/v2/websocket")

	ctx := context.Background()
	if _, err := s.db.Insert(ctx, "e1", oaEnvelope(), []byte(crlf(oaRichMail(t)))); err != nil {
		t.Fatal(err)
	}
	// MailHog's socket sends new messages in MailHog's shape. Read it
	// now: a message deleted before its frame is built is skipped.
	_, b, err := mailhog.ReadMessage()
	if err != nil {
		t.Fatalf("reading the MailHog socket: %v", err)
	}
	var hogFrame any
	if err := oaDecode(b, &hogFrame); err != nil {
		t.Fatalf("MailHog frame %.200s: %v", b, err)
	}
	for _, p := range doc.shapeProblems(schema("MailhogMessage"), hogFrame, "frame") {
		t.Errorf("MailHog frame: %s", p)
	}

	must := func(res response) {
		t.Helper()
		if res.status != http.StatusOK {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
	}
	must(s.do(t, "PUT", "/api/v1/messages", strings.NewReader(`{"IDs":["e1"],"Read":true}`)))
	must(s.do(t, "PUT", "/api/v1/tags", strings.NewReader(`{"IDs":["e1"],"Tags":["x"]}`)))
	must(s.do(t, "DELETE", "/api/v1/messages", strings.NewReader(`{"IDs":["e1"]}`)))
	s.insert(t, "e2", "Subject: two\n\nx\n")
	must(s.do(t, "DELETE", "/api/v1/messages", nil))

	// Each Type carries the Data the description promises.
	data := map[string]string{"new": "MessageSummary", "update": "EventUpdateData", "delete": "EventDeleteData", "stats": "EventStatsData", "truncate": ""}
	got := map[string]bool{}
	for len(got) < len(data) {
		_, b, err := events.ReadMessage()
		if err != nil {
			t.Fatalf("reading events (have %v): %v", got, err)
		}
		var frame any
		if err := oaDecode(b, &frame); err != nil {
			t.Fatalf("event frame %s: %v", b, err)
		}
		for _, p := range doc.shapeProblems(schema("Event"), frame, "frame") {
			t.Errorf("event %s: %s", b, p)
		}
		typ, _ := oaMap(frame)["Type"].(string)
		want, ok := data[typ]
		if !ok {
			t.Errorf("event type %q is not documented", typ)
			continue
		}
		got[typ] = true
		d := oaMap(frame)["Data"]
		if want == "" {
			if d != nil {
				t.Errorf("%s event: Data = %v, want null", typ, d)
			}
			continue
		}
		for _, p := range doc.shapeProblems(schema(want), d, typ+".Data") {
			t.Errorf("%s event: %s", typ, p)
		}
	}
}
