package webui_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"mailsink/store"
)

// MailHog's wire shapes, with the exact field names of api-compat.md
// section D. Decoded strictly; encoding/json matches names
// case-insensitively, so mhWantKeys checks the spelling separately.
type mhResult struct {
	Total int         `json:"total"`
	Count int         `json:"count"`
	Start int         `json:"start"`
	Items []mhMessage `json:"items"`
}

type mhMessage struct {
	ID      string    `json:"ID"`
	From    *mhPath   `json:"From"`
	To      []mhPath  `json:"To"`
	Content mhContent `json:"Content"`
	Created string    `json:"Created"`
	MIME    *mhMIME   `json:"MIME"`
	Raw     mhRaw     `json:"Raw"`
}

type mhPath struct {
	Relays  []string `json:"Relays"`
	Mailbox string   `json:"Mailbox"`
	Domain  string   `json:"Domain"`
	Params  string   `json:"Params"`
}

type mhContent struct {
	Headers map[string][]string `json:"Headers"`
	Body    string              `json:"Body"`
	Size    int                 `json:"Size"`
	MIME    *mhMIME             `json:"MIME"`
}

type mhMIME struct {
	Parts []mhContent `json:"Parts"`
}

type mhRaw struct {
	From string   `json:"From"`
	To   []string `json:"To"`
	Data string   `json:"Data"`
	Helo string   `json:"Helo"`
}

// mhEnv is an envelope with an envelope-only (Bcc) recipient.
func mhEnv(from string, rcpts ...string) store.Envelope {
	env := storeEnvelope()
	env.MailFrom = from
	env.Rcpts = nil
	for _, r := range rcpts {
		env.Rcpts = append(env.Rcpts, store.Recipient{Address: r})
	}
	return env
}

// mhInsert stores raw (LF turned into CRLF) under id and returns the bytes
// stored.
func mhInsert(tb testing.TB, s *testServer, id string, env store.Envelope, raw string) []byte {
	tb.Helper()
	b := []byte(crlf(raw))
	if _, err := s.db.Insert(tb.Context(), id, env, b); err != nil {
		tb.Fatalf("insert %s: %v", id, err)
	}
	return b
}

// mhGet GETs a MailHog list or search and decodes it strictly.
func mhGet(tb testing.TB, s *testServer, path string) mhResult {
	tb.Helper()
	var res mhResult
	s.getJSON(tb, path, &res)
	if res.Items == nil {
		tb.Fatalf("GET %s: items is null", path)
	}
	if res.Count != len(res.Items) {
		tb.Fatalf("GET %s: count %d but %d items", path, res.Count, len(res.Items))
	}
	return res
}

func mhIDs(items []mhMessage) []string {
	out := []string{}
	for _, m := range items {
		out = append(out, m.ID)
	}
	return out
}

// mhWantEmpty checks a MailHog reply without a body.
func mhWantEmpty(tb testing.TB, res response, status int) {
	tb.Helper()
	if res.status != status || len(res.body) != 0 {
		tb.Fatalf("reply = %d %q, want %d with an empty body", res.status, res.body, status)
	}
}

// mhWantKeys checks that the JSON object raw has exactly the keys want.
func mhWantKeys(tb testing.TB, what string, raw json.RawMessage, want ...string) {
	tb.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		tb.Fatalf("%s: %v in %s", what, err, raw)
	}
	got := []string{}
	for k := range obj {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		tb.Errorf("%s keys = %v, want %v", what, got, want)
	}
}

const mhHeaderMail = `Return-Path: <bounce@example.test>
Received: from client.test by mailsink; Wed, 25 Nov 2026 10:00:00 +0000
Received: from origin.test by client.test; Wed, 25 Nov 2026 09:59:00 +0000
From: =?utf-8?q?J=C3=BCrgen?= <juergen@example.test>
To: Bob <bob@example.test>
Subject: first subject
Subject: second subject
X-lower-Case: kept as written
X-Folded: first
 second
	third
NoSpace:value
Padded:  two blanks
not a header line
Message-ID: <hdr-1@example.test>
Content-Type: text/plain; charset=utf-8

Body line one.

Body line three.
`

func TestMailhogShapeStrict(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	env := mhEnv("bounce@example.test", "bob@example.test", "hidden@bcc.test")
	env.Helo = "client.test"
	env.ReceivedAt = time.Date(2026, 11, 26, 9, 37, 43, 532005777, time.UTC)
	raw := mhInsert(t, s, "h1", env, mhHeaderMail)

	res := s.get(t, "/api/v2/messages")
	var list mhResult
	wantJSON(t, res, &list)

	// Exact key spellings at every level.
	var top struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(res.body, &top); err != nil || len(top.Items) != 1 {
		t.Fatalf("items: %v, %d", err, len(top.Items))
	}
	mhWantKeys(t, "result", res.body, "total", "count", "start", "items")
	var item struct {
		From    json.RawMessage
		To      []json.RawMessage
		Content json.RawMessage
		Raw     json.RawMessage
	}
	if err := json.Unmarshal(top.Items[0], &item); err != nil {
		t.Fatal(err)
	}
	mhWantKeys(t, "message", top.Items[0], "ID", "From", "To", "Content", "Created", "MIME", "Raw")
	mhWantKeys(t, "From", item.From, "Relays", "Mailbox", "Domain", "Params")
	mhWantKeys(t, "To[0]", item.To[0], "Relays", "Mailbox", "Domain", "Params")
	mhWantKeys(t, "Content", item.Content, "Headers", "Body", "Size", "MIME")
	mhWantKeys(t, "Raw", item.Raw, "From", "To", "Data", "Helo")
	for _, frag := range []string{`"Relays":null`, `"Params":""`, `"MIME":null`} {
		if !bytes.Contains(top.Items[0], []byte(frag)) {
			t.Errorf("message lacks %s: %s", frag, top.Items[0])
		}
	}

	if list.Total != 1 || list.Count != 1 || list.Start != 0 {
		t.Errorf("total/count/start = %d/%d/%d, want 1/1/0", list.Total, list.Count, list.Start)
	}
	m := list.Items[0]
	data := strings.TrimSuffix(string(raw), "\r\n")
	want := mhMessage{
		ID:   "h1",
		From: &mhPath{Mailbox: "bounce", Domain: "example.test"},
		To:   []mhPath{{Mailbox: "bob", Domain: "example.test"}, {Mailbox: "hidden", Domain: "bcc.test"}},
		Content: mhContent{
			Headers: map[string][]string{
				"Return-Path": {"<bounce@example.test>"},
				"Received": {
					"from client.test by mailsink; Wed, 25 Nov 2026 10:00:00 +0000",
					"from origin.test by client.test; Wed, 25 Nov 2026 09:59:00 +0000",
				},
				"From":         {"=?utf-8?q?J=C3=BCrgen?= <juergen@example.test>"},
				"To":           {"Bob <bob@example.test>"},
				"Subject":      {"second subject"},
				"X-lower-Case": {"kept as written"},
				"X-Folded":     {"first second\tthird"},
				"NoSpace":      {"value"},
				"Padded":       {" two blanks"},
				"Message-ID":   {"<hdr-1@example.test>"},
				"Content-Type": {"text/plain; charset=utf-8"},
			},
			Body: "Body line one.\r\n\r\nBody line three.",
			Size: len(data),
		},
		Created: m.Created,
		Raw: mhRaw{
			From: "bounce@example.test",
			To:   []string{"bob@example.test", "hidden@bcc.test"},
			Data: data,
			Helo: "client.test",
		},
	}
	if !reflect.DeepEqual(m, want) {
		got, _ := json.MarshalIndent(m, "", " ")
		exp, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("message =\n%s\nwant\n%s", got, exp)
	}
	created, err := time.Parse(time.RFC3339Nano, m.Created)
	if err != nil || !created.Equal(env.ReceivedAt) || !strings.Contains(m.Created, ".532005777") {
		t.Errorf("Created = %q (%v), want %v with nanoseconds", m.Created, err, env.ReceivedAt)
	}

	// The v1 single-message route gives the same object and does not
	// mark the message read (that is Mailpit's GET).
	var one mhMessage
	s.getJSON(t, "/api/v1/messages/h1", &one)
	if !reflect.DeepEqual(one, m) {
		t.Errorf("GET /api/v1/messages/h1 differs from the list item")
	}
	s.getJSON(t, "/api/v1/messages/latest", &one)
	if one.ID != "h1" {
		t.Errorf("latest = %q, want h1", one.ID)
	}
	var mp messagesSummary
	s.getJSON(t, "/api/v1/messages", &mp)
	if len(mp.Messages) != 1 || mp.Messages[0].Read {
		t.Errorf("Mailpit list after MailHog GET = %+v, want one unread message", mp.Messages)
	}
}

func TestMailhogContent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string // stored as is (no LF to CRLF conversion)
		headers map[string][]string
		body    string
	}{
		{
			name: "adds Message-ID and Return-Path when missing",
			raw:  "Subject: x\r\n\r\nhello\r\n",
			headers: map[string][]string{
				"Subject": {"x"}, "Message-ID": {"c@mailsink"}, "Return-Path": {"<env@example.test>"},
			},
			body: "hello",
		},
		{
			name: "keeps an existing Message-Id spelling",
			raw:  "Message-Id: <a@b>\r\nreturn-path: <x@y>\r\n\r\nhello\r\n",
			headers: map[string][]string{
				"Message-Id": {"<a@b>"}, "return-path": {"<x@y>"},
			},
			body: "hello",
		},
		{
			name: "only one trailing CRLF is dropped",
			raw:  "Subject: x\r\nMessage-ID: <m>\r\n\r\nline\r\n\r\n",
			headers: map[string][]string{
				"Subject": {"x"}, "Message-ID": {"<m>"}, "Return-Path": {"<env@example.test>"},
			},
			body: "line\r\n",
		},
		{
			name: "LF-only line ends",
			raw:  "Subject: lf\nMessage-ID: <m>\nX-Fold: a\n b\n\nbody\n\nmore\n",
			headers: map[string][]string{
				"Subject": {"lf"}, "Message-ID": {"<m>"}, "X-Fold": {"a b"}, "Return-Path": {"<env@example.test>"},
			},
			body: "body\n\nmore\n",
		},
		{
			name: "no blank line: all body",
			raw:  "Subject: x\r\nTo: y",
			headers: map[string][]string{
				"Message-ID": {"c@mailsink"}, "Return-Path": {"<env@example.test>"},
			},
			body: "Subject: x\r\nTo: y",
		},
		{
			name: "repeated Return-Path keeps every value",
			raw:  "Return-Path: <a@x>\r\nReturn-Path: <b@x>\r\nMessage-ID: <m>\r\n\r\n",
			headers: map[string][]string{
				"Return-Path": {"<a@x>", "<b@x>"}, "Message-ID": {"<m>"},
			},
			body: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			if _, err := s.db.Insert(t.Context(), "c", mhEnv("env@example.test", "r@example.test"), []byte(tt.raw)); err != nil {
				t.Fatal(err)
			}
			var m mhMessage
			s.getJSON(t, "/api/v1/messages/c", &m)
			if !reflect.DeepEqual(m.Content.Headers, tt.headers) {
				t.Errorf("Headers = %q, want %q", m.Content.Headers, tt.headers)
			}
			if m.Content.Body != tt.body {
				t.Errorf("Body = %q, want %q", m.Content.Body, tt.body)
			}
			data := strings.TrimSuffix(tt.raw, "\r\n")
			if m.Raw.Data != data || m.Content.Size != len(data) {
				t.Errorf("Raw.Data = %q, Size %d; want %q, %d", m.Raw.Data, m.Content.Size, data, len(data))
			}
			if m.MIME != nil || m.Content.MIME != nil {
				t.Errorf("MIME = %+v / %+v, want null for a single-part message", m.MIME, m.Content.MIME)
			}
		})
	}
}

const mhMIMEMail = `From: a@example.test
To: b@example.test
Subject: mime tree
Message-ID: <tree@example.test>
MIME-Version: 1.0
Content-Type: multipart/mixed;
	boundary="outer"

This is the preamble.
--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Gr=C3=BC=C3=9Fe
--inner
Content-Type: text/html; charset=utf-8

<p>hi</p>
--inner--
--outer
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="notes.txt"

aGVsbG8gbm90ZXM=
--outer
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable
Content-Disposition: attachment; filename="=?utf-8?q?gr=C3=BC=C3=9Fe.txt?="

Gr=C3=BC=C3=9Fe aus K=C3=B6ln=
!
--outer--
epilogue text
`

func TestMailhogMIME(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	mhInsert(t, s, "t1", mhEnv("a@example.test", "b@example.test"), mhMIMEMail)
	var m mhMessage
	s.getJSON(t, "/api/v1/messages/t1", &m)
	if m.MIME == nil || len(m.MIME.Parts) != 5 {
		t.Fatalf("MIME = %+v, want 5 top-level parts", m.MIME)
	}

	leaf := func(h map[string][]string, body string) mhContent {
		return mhContent{Headers: h, Body: body, Size: len(body)}
	}
	text := leaf(map[string][]string{
		"Content-Type":              {"text/plain; charset=utf-8"},
		"Content-Transfer-Encoding": {"quoted-printable"},
	}, "Gr=C3=BC=C3=9Fe")
	text.Size = len("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe")
	html := leaf(map[string][]string{"Content-Type": {"text/html; charset=utf-8"}}, "<p>hi</p>")
	html.Size = len("Content-Type: text/html; charset=utf-8\r\n\r\n<p>hi</p>")
	altBody := "--inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"Gr=C3=BC=C3=9Fe\r\n--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>hi</p>\r\n--inner--"
	alt := mhContent{
		Headers: map[string][]string{"Content-Type": {`multipart/alternative; boundary="inner"`}},
		Body:    altBody,
		Size:    len(`Content-Type: multipart/alternative; boundary="inner"` + "\r\n\r\n" + altBody),
		MIME:    &mhMIME{Parts: []mhContent{text, html, leaf(map[string][]string{}, "--")}},
	}
	notesHead := "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"notes.txt\"\r\n\r\n"
	notes := mhContent{
		Headers: map[string][]string{
			"Content-Type":              {"text/plain; charset=utf-8"},
			"Content-Transfer-Encoding": {"base64"},
			"Content-Disposition":       {`attachment; filename="notes.txt"`},
		},
		Body: "aGVsbG8gbm90ZXM=",
		Size: len(notesHead + "aGVsbG8gbm90ZXM="),
	}
	wantParts := []mhContent{
		leaf(map[string][]string{}, "This is the preamble."),
		alt,
		notes,
		m.MIME.Parts[3], // the QP attachment, checked below by download
		leaf(map[string][]string{}, "--\r\nepilogue text"),
	}
	if !reflect.DeepEqual(m.MIME.Parts, wantParts) {
		got, _ := json.MarshalIndent(m.MIME, "", " ")
		exp, _ := json.MarshalIndent(mhMIME{Parts: wantParts}, "", " ")
		t.Fatalf("MIME =\n%s\nwant\n%s", got, exp)
	}
	if m.Content.MIME != nil {
		t.Errorf("Content.MIME = %+v, want null (the tree is in MIME)", m.Content.MIME)
	}
	if qp := m.MIME.Parts[3]; qp.Body != "Gr=C3=BC=C3=9Fe aus K=C3=B6ln=\r\n!" || qp.MIME != nil {
		t.Errorf("QP part body = %q (MIME %v), want it still encoded", qp.Body, qp.MIME)
	}
	if !strings.HasPrefix(m.Content.Body, "This is the preamble.\r\n--outer\r\n") {
		t.Errorf("Content.Body = %q…, want the whole encoded body", m.Content.Body[:40])
	}
}

func TestMailhogMIMEEdgeCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		raw   string
		parts int // -1: MIME null
	}{
		{"multipart without boundary has no parts", "Content-Type: multipart/mixed\r\n\r\nbody\r\n", 0},
		{"lower-case header and type", "content-type: MULTIPART/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n", 2},
		{"not multipart", "Content-Type: text/plain\r\n\r\n--b\r\n", -1},
		{"unterminated", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx", 1},
		{"a blank piece is an empty part", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n\r\nx\r\n--b--\r\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			if _, err := s.db.Insert(t.Context(), "e", mhEnv("a@x.test", "b@x.test"), []byte(tt.raw)); err != nil {
				t.Fatal(err)
			}
			res := s.get(t, "/api/v1/messages/e")
			var m mhMessage
			wantJSON(t, res, &m)
			switch {
			case tt.parts < 0 && m.MIME != nil:
				t.Errorf("MIME = %+v, want null", m.MIME)
			case tt.parts >= 0 && (m.MIME == nil || m.MIME.Parts == nil || len(m.MIME.Parts) != tt.parts):
				t.Errorf("MIME = %s, want %d parts", res.body, tt.parts)
			}
			if tt.parts == 0 && !bytes.Contains(res.body, []byte(`"MIME":{"Parts":[]}`)) {
				t.Errorf("want MIME.Parts [] not null: %s", res.body)
			}
		})
	}
}

func TestMailhogDeepNesting(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	const depth = 200
	var b strings.Builder
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%03dx\r\n\r\n--b%03dx\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nleaf\r\n")
	// Closed levels: enmime (in store.Insert) takes time exponential in
	// the depth of unterminated nested multiparts.
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%03dx--\r\n", i)
	}
	if _, err := s.db.Insert(t.Context(), "deep", mhEnv("a@x.test", "b@x.test"), []byte(b.String())); err != nil {
		t.Fatal(err)
	}
	var m mhMessage
	s.getJSON(t, "/api/v1/messages/deep", &m)
	levels := 0
	for mm := m.MIME; mm != nil && len(mm.Parts) > 0; mm = mm.Parts[0].MIME {
		levels++
	}
	if levels < 4 || levels >= depth {
		t.Errorf("split %d levels of %d, want a bounded depth", levels, depth)
	}
}

func TestMailhogPartDownload(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	mhInsert(t, s, "t1", mhEnv("a@example.test", "b@example.test"), mhMIMEMail)
	mhInsert(t, s, "plain", mhEnv("a@example.test", "b@example.test"), plainMail)
	tests := []struct {
		name, path, ctype, disposition, body string
	}{
		{"preamble", "t1/mime/part/0/download", "text/plain; charset=us-ascii",
			`attachment; filename="t1-part-0"`, "This is the preamble."},
		// Browsers render multipart/x-mixed-replace; no multipart type is
		// served as such.
		{"multipart part as bytes", "t1/mime/part/1/download", "application/octet-stream",
			`attachment; filename="t1-part-1"`, "--inner\r\nContent-Type: text/plain; charset=utf-8\r\n" +
				"Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n--inner\r\n" +
				"Content-Type: text/html; charset=utf-8\r\n\r\n<p>hi</p>\r\n--inner--"},
		{"base64 decoded", "t1/mime/part/2/download", "text/plain; charset=utf-8",
			`attachment; filename="notes.txt"`, "hello notes"},
		{"quoted-printable decoded, RFC 2047 file name", "t1/mime/part/3/download", "text/plain; charset=utf-8",
			`attachment; filename="gr__e.txt"; filename*=UTF-8''gr%C3%BC%C3%9Fe.txt`, "Grüße aus Köln!"},
		{"closing piece", "t1/mime/part/4/download", "text/plain; charset=us-ascii",
			`attachment; filename="t1-part-4"`, "--\r\nepilogue text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := s.get(t, "/api/v1/messages/"+tt.path)
			if res.status != http.StatusOK {
				t.Fatalf("status = %d, want 200", res.status)
			}
			if got := res.header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
			}
			if got := res.header.Get("Content-Disposition"); got != tt.disposition {
				t.Errorf("Content-Disposition = %q, want %q", got, tt.disposition)
			}
			if string(res.body) != tt.body {
				t.Errorf("body = %q, want %q", res.body, tt.body)
			}
			if csp := res.header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "sandbox") {
				t.Errorf("CSP = %q, want a sandbox", csp)
			}
		})
	}

	for _, path := range []string{
		"t1/mime/part/5/download", "t1/mime/part/-1/download", "t1/mime/part/x/download",
		"plain/mime/part/0/download", "latest/mime/part/0/download", "nope/mime/part/0/download",
	} {
		mhWantEmpty(t, s.get(t, "/api/v1/messages/"+path), http.StatusNotFound)
	}
}

func TestMailhogDownload(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	raw := mhInsert(t, s, "d1", mhEnv("a@example.test", "b@example.test"), richMail)
	res := s.get(t, "/api/v1/messages/d1/download")
	if res.status != 200 || !bytes.Equal(res.body, raw) {
		t.Fatalf("download = %d, identical %v", res.status, bytes.Equal(res.body, raw))
	}
	if ct := res.header.Get("Content-Type"); ct != "message/rfc822" {
		t.Errorf("Content-Type = %q, want message/rfc822", ct)
	}
	if cd := res.header.Get("Content-Disposition"); cd != `attachment; filename="d1.eml"` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	mhWantEmpty(t, s.get(t, "/api/v1/messages/nope/download"), http.StatusNotFound)
}

func TestMailhogDelete(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for _, id := range []string{"a", "b", "c"} {
		mhInsert(t, s, id, mhEnv("x@example.test", "y@example.test"), plainMail)
	}
	res := s.do(t, http.MethodDelete, "/api/v1/messages/b", nil)
	mhWantEmpty(t, res, http.StatusOK)
	mhWantEmpty(t, s.get(t, "/api/v1/messages/b"), http.StatusNotFound)
	mhWantEmpty(t, s.do(t, http.MethodDelete, "/api/v1/messages/b", nil), http.StatusNotFound)
	if got := mhIDs(mhGet(t, s, "/api/v2/messages").Items); !slices.Equal(got, []string{"c", "a"}) {
		t.Errorf("after deleting b: %v, want [c a]", got)
	}
	mhWantEmpty(t, s.do(t, http.MethodDelete, "/api/v1/messages/latest", nil), http.StatusOK)
	if l := mhGet(t, s, "/api/v2/messages"); l.Total != 1 || !slices.Equal(mhIDs(l.Items), []string{"a"}) {
		t.Errorf("after deleting latest: total %d %v, want [a]", l.Total, mhIDs(l.Items))
	}
	mhWantEmpty(t, s.do(t, http.MethodDelete, "/api/v1/messages/a", nil), http.StatusOK)
	mhWantEmpty(t, s.do(t, http.MethodDelete, "/api/v1/messages/latest", nil), http.StatusNotFound)
}

func TestMailhogPaging(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	const n = 260
	for i := range n {
		raw := fmt.Sprintf("Subject: number %d\r\nMessage-ID: <%d@x>\r\n\r\nbody %d\r\n", i, i, i)
		if _, err := s.db.Insert(t.Context(), fmt.Sprintf("m%03d", i), mhEnv("a@x.test", "b@x.test"), []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	newest := func(from, count int) []string { // IDs newest first
		out := []string{}
		for i := n - 1 - from; i >= 0 && len(out) < count; i-- {
			out = append(out, fmt.Sprintf("m%03d", i))
		}
		return out
	}
	tests := []struct {
		query        string
		start, count int
	}{
		{"", 0, 50},
		{"?limit=1000", 0, 250},
		{"?limit=250", 0, 250},
		{"?limit=3", 0, 3},
		{"?start=2&limit=3", 2, 3},
		{"?start=255&limit=10", 255, 5},
		{"?start=300", 300, 0},
		{"?limit=0", 0, 50},
		{"?limit=-5", 0, 50},
		{"?limit=abc&start=xyz", 0, 50},
		{"?start=-1&limit=2", 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			l := mhGet(t, s, "/api/v2/messages"+tt.query)
			if l.Total != n || l.Start != tt.start || l.Count != tt.count {
				t.Errorf("total/start/count = %d/%d/%d, want %d/%d/%d", l.Total, l.Start, l.Count, n, tt.start, tt.count)
			}
			if got, want := mhIDs(l.Items), newest(tt.start, tt.count); !slices.Equal(got, want) {
				t.Errorf("ids = %v, want %v", got, want)
			}
		})
	}
}

func TestMailhogSearch(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	mhInsert(t, s, "s1", mhEnv("sender@Envelope.test", "bob@example.test", "hidden@bcc.test"), `From: Alice <alice@example.test>
To: Bob <bob@example.test>
Subject: Invoice 42
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Viele Gr=C3=BC=C3=9Fe
`)
	mhInsert(t, s, "s2", mhEnv("carol@example.test", "dave@other.test"), `From: Carol <carol@example.test>
to: Dave Smith <dave@other.test>
Subject: =?utf-8?b?R3LDvMOfZQ==?=
Message-ID: <s2@example.test>

nothing special here
`)
	tests := []struct {
		kind, query string
		want        []string
	}{
		{"from", "alice", []string{"s1"}},
		{"from", "ENVELOPE.test", []string{"s1"}},
		{"from", "xample", []string{"s2", "s1"}},
		{"from", "bob", []string{}},
		{"to", "hidden@bcc", []string{"s1"}},
		{"to", "BOB", []string{"s1"}},
		{"to", "other.test", []string{"s2"}},
		{"to", "dave smith", []string{"s2"}}, // a to: header, any case
		{"to", "alice", []string{}},
		{"containing", "=c3=bc=c3=9f", []string{"s1"}},
		{"containing", "grüße", []string{}},
		{"containing", "invoice 42", []string{"s1"}},
		{"containing", "nothing special", []string{"s2"}},
		{"containing", "=?utf-8?b?r3l", []string{"s2"}},
		{"containing", "s1@mailsink", []string{"s1"}},
		{"containing", "quoted-printable", []string{"s1"}},
		{"containing", "<carol@example.test>", []string{"s2"}},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.query, func(t *testing.T) {
			t.Parallel()
			l := mhGet(t, s, "/api/v2/search?kind="+tt.kind+"&query="+urlQueryEscape(tt.query))
			if got := mhIDs(l.Items); !slices.Equal(got, tt.want) || l.Total != len(tt.want) {
				t.Errorf("search = %v (total %d), want %v", got, l.Total, tt.want)
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			query               string
			start, count, total int
			ids                 []string
		}{
			{"&limit=1", 0, 1, 2, []string{"s2"}},
			{"&start=1&limit=1", 1, 1, 2, []string{"s1"}},
			{"&start=5", 5, 0, 2, []string{}},
		} {
			l := mhGet(t, s, "/api/v2/search?kind=containing&query=example"+tt.query)
			if l.Start != tt.start || l.Count != tt.count || l.Total != tt.total || !slices.Equal(mhIDs(l.Items), tt.ids) {
				t.Errorf("%s: start/count/total = %d/%d/%d %v, want %d/%d/%d %v", tt.query,
					l.Start, l.Count, l.Total, mhIDs(l.Items), tt.start, tt.count, tt.total, tt.ids)
			}
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		t.Parallel()
		for _, q := range []string{
			"?query=x", "?kind=subject&query=x", "?kind=FROM&query=x", "?kind=from", "?kind=from&query=",
		} {
			res := s.get(t, "/api/v2/search"+q)
			if res.status != http.StatusBadRequest || len(res.body) != 0 {
				t.Errorf("GET /api/v2/search%s = %d %q, want 400 with an empty body", q, res.status, res.body)
			}
		}
	})
}

// urlQueryEscape escapes a query value as encodeURIComponent does.
func urlQueryEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func TestMailhogRouting(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	mhInsert(t, s, "r1", mhEnv("a@x.test", "b@x.test"), plainMail)

	// GET /api/v1/messages (no id) stays Mailpit's list.
	var mp messagesSummary
	s.getJSON(t, "/api/v1/messages", &mp)
	if mp.MessagesCount != 1 {
		t.Errorf("Mailpit list messages_count = %d, want 1", mp.MessagesCount)
	}
	res := s.do(t, http.MethodPost, "/api/v1/messages/r1", nil)
	wantError(t, res, http.StatusMethodNotAllowed)
	if allow := res.header.Get("Allow"); allow != "DELETE, GET, HEAD" {
		t.Errorf("Allow = %q, want DELETE, GET, HEAD", allow)
	}
	wantError(t, s.do(t, http.MethodPost, "/api/v2/messages", nil), http.StatusMethodNotAllowed)
	wantError(t, s.get(t, "/api/v1/messages/r1/mime/part/0"), http.StatusNotFound)
}

func TestMailhogStoreErrors(t *testing.T) {
	t.Parallel()
	const secret = "disk I/O error at /var/secret/mail.db"
	s := startServer(t, failing{err: errors.New(secret)}, nil, nil)
	tests := []struct{ method, path string }{
		{"GET", "/api/v2/messages"},
		{"GET", "/api/v2/search?kind=from&query=x"},
		{"GET", "/api/v2/search?kind=containing&query=x"},
		{"GET", "/api/v1/messages/abc"},
		{"GET", "/api/v1/messages/latest"},
		{"DELETE", "/api/v1/messages/abc"},
		{"GET", "/api/v1/messages/abc/download"},
		{"GET", "/api/v1/messages/abc/mime/part/0/download"},
	}
	for _, tt := range tests {
		res := s.do(t, tt.method, tt.path, nil)
		if msg := wantError(t, res, http.StatusInternalServerError); msg != "internal error" {
			t.Errorf("%s %s: Error = %q", tt.method, tt.path, msg)
		}
		if strings.Contains(string(res.body), "secret") {
			t.Errorf("%s %s leaks the cause: %s", tt.method, tt.path, res.body)
		}
	}
	if logs := s.log.String(); strings.Count(logs, secret) < len(tests) {
		t.Errorf("want every failure logged with its cause; log:\n%s", logs)
	}
}

// mhCorpusMaxSize leaves the few multi-megabyte corpus files to
// TestCorpus: under -race they would double this test's time, and the
// MailHog model adds nothing size-specific.
const mhCorpusMaxSize = 512 << 10

// TestMailhogCorpus serves every corpus message up to mhCorpusMaxSize
// through the MailHog API and checks the invariants of MailHog's model:
// Raw.Data is the stored message without its last CRLF, Content.Size its
// length, the body a suffix of it, every part's Headers an object, every
// part body a piece of its parent's body, and every top-level part
// downloadable.
func TestMailhogCorpus(t *testing.T) {
	t.Parallel()
	files := corpusFiles(t)
	s := newTestServer(t)
	raws := map[string][]byte{}
	skipped := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) > mhCorpusMaxSize {
			skipped++
			continue
		}
		id := strings.TrimSuffix(filepath.Base(f), ".eml")
		raws[id] = raw
		if _, err := s.db.Insert(t.Context(), id, mhEnv("sender@example.test", "rcpt@example.test"), raw); err != nil {
			t.Fatalf("insert %s: %v", id, err)
		}
	}

	seen, multipart, parts := 0, 0, 0
	for start := 0; ; start += 50 {
		l := mhGet(t, s, fmt.Sprintf("/api/v2/messages?start=%d&limit=50", start))
		if l.Total != len(raws) {
			t.Fatalf("total = %d, want %d", l.Total, len(raws))
		}
		if l.Count == 0 {
			break
		}
		for _, m := range l.Items {
			seen++
			data := strings.TrimSuffix(string(raws[m.ID]), "\r\n")
			if m.Raw.Data != jsonString(data) || m.Content.Size != len(data) {
				t.Errorf("%s: Raw.Data differs from the stored message or Size %d != %d", m.ID, m.Content.Size, len(data))
			}
			if !strings.HasSuffix(m.Raw.Data, m.Content.Body) || m.Content.Headers == nil {
				t.Errorf("%s: Body is not a suffix of Raw.Data, or Headers null", m.ID)
			}
			if !hasKeyFold(m.Content.Headers, "message-id") {
				t.Errorf("%s: no Message-ID header", m.ID)
			}
			if m.MIME == nil {
				continue
			}
			multipart++
			var walk func(parent string, mm *mhMIME)
			walk = func(parent string, mm *mhMIME) {
				if mm.Parts == nil {
					t.Errorf("%s: MIME.Parts is null", m.ID)
				}
				for _, p := range mm.Parts {
					if p.Headers == nil || !strings.Contains(parent, p.Body) {
						t.Errorf("%s: part with null Headers or a body not in its parent", m.ID)
					}
					if p.MIME != nil {
						walk(p.Body, p.MIME)
					}
				}
			}
			walk(m.Content.Body, m.MIME)
			for i := range m.MIME.Parts {
				parts++
				res := s.get(t, fmt.Sprintf("/api/v1/messages/%s/mime/part/%d/download", m.ID, i))
				if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Disposition"), "attachment") {
					t.Errorf("%s part %d: download = %d, %q", m.ID, i, res.status, res.header.Get("Content-Disposition"))
				}
			}
		}
	}
	if seen != len(raws) {
		t.Errorf("listed %d of %d messages", seen, len(raws))
	}

	// A search over the whole corpus, for its cost and its result.
	begin := time.Now()
	l := mhGet(t, s, "/api/v2/search?kind=containing&query=Content-Type&limit=1")
	if l.Total == 0 || l.Count != 1 {
		t.Errorf("containing Content-Type: total %d count %d", l.Total, l.Count)
	}
	t.Logf("%d messages (%d multipart, %d top-level parts downloaded, %d files over %d bytes skipped); "+
		"corpus-wide search took %v", seen, multipart, parts, skipped, mhCorpusMaxSize, time.Since(begin))
}

func hasKeyFold(h map[string][]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// jsonString is s as encoding/json transmits it: each invalid UTF-8 byte
// becomes U+FFFD.
func jsonString(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}
