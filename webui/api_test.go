package webui_test

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mailsink/store"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

const plainMail = `Return-Path: <bounce@example.test>
Received: from client.test by mailsink; Wed, 25 Nov 2026 10:00:00 +0000
Received: from origin.test by client.test; Wed, 25 Nov 2026 09:59:00 +0000
From: Alice Example <alice@example.test>
To: Bob <bob@example.test>
Subject: Hello Bob
Message-ID: <plain-1@example.test>
Date: Wed, 25 Nov 2026 10:00:00 +0000
X-Folded: first
 second
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello Bob, this is a plain message.
`

const noFromMail = `To: dave@example.test
Subject: No sender here
Message-ID: <nofrom-1@example.test>

just some text
`

// Decoded contents of the parts of richMail.
var (
	pngBytes  = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake image bytes \x00\xff\xfe")
	pdfBytes  = []byte("%PDF-1.4\n% fake pdf \x00\x01\x02\xff\n%%EOF\n")
	textBytes = []byte("Viele Grüße aus Köln")
)

func b64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	return out.String() + s
}

// richMail: mixed(related(alternative(text, html), inline png), pdf, text
// attachment with a non-ASCII RFC 2231 filename), with List-Unsubscribe.
var richMail = fmt.Sprintf(`From: "Shop" <shop@example.test>
To: bob@example.test
Cc: Carol <carol@example.test>
Reply-To: support@example.test
Subject: Your invoice
Message-ID: <rich-1@example.test>
Date: Wed, 25 Nov 2026 11:00:00 +0100
List-Unsubscribe: <mailto:unsub@example.test?subject=stop>,
 <https://example.test/unsub?u=1>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed"

--mixed
Content-Type: multipart/related; boundary="related"

--related
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Invoice text body
--alt
Content-Type: text/html; charset=utf-8

<html><body><p>Invoice</p><img src="cid:logo@example.test" alt="logo"><img src='CID:logo%%40example.test'><a href="cid:unknown@x">u</a><p>acid:logo@example.test</p></body></html>
--alt--
--related
Content-Type: image/png
Content-Transfer-Encoding: base64
Content-ID: <logo@example.test>
Content-Disposition: inline; filename="logo.png"

%s
--related--
--mixed
Content-Type: application/pdf; name="report.pdf"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="report.pdf"

%s
--mixed
Content-Type: text/plain; charset=utf-8
Content-Disposition: attachment; filename*=utf-8''Gr%%C3%%BC%%C3%%9Fe.txt
Content-Transfer-Encoding: base64

%s
--mixed--
`, b64(pngBytes), b64(pdfBytes), b64(textBytes))

// Wire shapes as Mailpit clients read them (strictly decoded: an extra or
// misspelt field fails the test).
type address struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

type messagesSummary struct {
	Total          int              `json:"total"`
	Unread         int              `json:"unread"`
	Count          int              `json:"count"`
	MessagesCount  int              `json:"messages_count"`
	MessagesUnread int              `json:"messages_unread"`
	Start          int              `json:"start"`
	Tags           []string         `json:"tags"`
	Messages       []messageSummary `json:"messages"`
	Cursor         int64            `json:"cursor"` // ours
}

type messageSummary struct {
	ID          string    `json:"ID"`
	MessageID   string    `json:"MessageID"`
	Read        bool      `json:"Read"`
	From        address   `json:"From"`
	To          []address `json:"To"`
	Cc          []address `json:"Cc"`
	Bcc         []address `json:"Bcc"`
	ReplyTo     []address `json:"ReplyTo"`
	Subject     string    `json:"Subject"`
	Created     string    `json:"Created"`
	Username    string    `json:"Username"`
	Tags        []string  `json:"Tags"`
	Size        int64     `json:"Size"`
	Attachments int       `json:"Attachments"`
	Snippet     string    `json:"Snippet"`
}

type attachment struct {
	PartID      string `json:"PartID"`
	FileName    string `json:"FileName"`
	ContentType string `json:"ContentType"`
	ContentID   string `json:"ContentID"`
	Size        int64  `json:"Size"`
	Checksums   struct {
		MD5    string `json:"MD5"`
		SHA1   string `json:"SHA1"`
		SHA256 string `json:"SHA256"`
	} `json:"Checksums"`
}

type part struct {
	PartID      string `json:"PartID"`
	ContentType string `json:"ContentType"`
	Charset     string `json:"Charset"`
	Encoding    string `json:"Encoding"`
	Disposition string `json:"Disposition"`
	FileName    string `json:"FileName"`
	ContentID   string `json:"ContentID"`
	Size        int64  `json:"Size"`
	Children    []part `json:"Children"`
}

type message struct {
	ID              string    `json:"ID"`
	MessageID       string    `json:"MessageID"`
	From            address   `json:"From"`
	To              []address `json:"To"`
	Cc              []address `json:"Cc"`
	Bcc             []address `json:"Bcc"`
	ReplyTo         []address `json:"ReplyTo"`
	ReturnPath      string    `json:"ReturnPath"`
	Subject         string    `json:"Subject"`
	ListUnsubscribe struct {
		Header     string   `json:"Header"`
		Links      []string `json:"Links"`
		Errors     string   `json:"Errors"`
		HeaderPost string   `json:"HeaderPost"`
	} `json:"ListUnsubscribe"`
	Date        string       `json:"Date"`
	Tags        []string     `json:"Tags"`
	Username    string       `json:"Username"`
	Text        string       `json:"Text"`
	HTML        string       `json:"HTML"`
	Size        int64        `json:"Size"`
	Inline      []attachment `json:"Inline"`
	Attachments []attachment `json:"Attachments"`

	Created string `json:"Created"`
	Read    bool   `json:"Read"`
	Parts   part   `json:"Parts"`
	Headers []struct {
		Name    string `json:"Name"`
		Value   string `json:"Value"`
		Decoded string `json:"Decoded"`
	} `json:"Headers"`
	Findings []struct {
		Code   string `json:"Code"`
		Severe bool   `json:"Severe"`
		Text   string `json:"Text"`
	} `json:"Findings"`
	Envelope struct {
		RemoteAddr string `json:"RemoteAddr"`
		LocalAddr  string `json:"LocalAddr"`
		Helo       string `json:"Helo"`
		ESMTP      bool   `json:"ESMTP"`
		TLSVersion string `json:"TLSVersion"`
		TLSCipher  string `json:"TLSCipher"`
		TLSServer  string `json:"TLSServerName"`
		AuthUser   string `json:"AuthUser"`
		MailFrom   string `json:"MailFrom"`
		MailParams []struct {
			Key   string `json:"Key"`
			Value string `json:"Value"`
		} `json:"MailParams"`
		Rcpts []struct {
			Address string `json:"Address"`
			Params  []struct {
				Key   string `json:"Key"`
				Value string `json:"Value"`
			} `json:"Params"`
		} `json:"Rcpts"`
		Protocol   string `json:"Protocol"`
		Body       string `json:"Body"`
		SMTPUTF8   bool   `json:"SMTPUTF8"`
		Chunked    bool   `json:"Chunked"`
		Transcript []struct {
			Time string `json:"Time"`
			Dir  string `json:"Dir"`
			Text string `json:"Text"`
		} `json:"Transcript"`
		ReceivedAt string `json:"ReceivedAt"`
		Source     string `json:"Source"`
	} `json:"Envelope"`
	Inbox  string
	Links  []store.Link
	Codes  []string
	Remote []store.RemoteRef
}

type appInformation struct {
	Version       string         `json:"Version"`
	LatestVersion string         `json:"LatestVersion"`
	Database      string         `json:"Database"`
	DatabaseSize  int64          `json:"DatabaseSize"`
	Messages      int            `json:"Messages"`
	Unread        int            `json:"Unread"`
	Tags          map[string]int `json:"Tags"`
	RuntimeStats  struct {
		Uptime           int64  `json:"Uptime"`
		Memory           uint64 `json:"Memory"`
		MessagesDeleted  int64  `json:"MessagesDeleted"`
		SMTPAccepted     int64  `json:"SMTPAccepted"`
		SMTPAcceptedSize int64  `json:"SMTPAcceptedSize"`
		SMTPRejected     int64  `json:"SMTPRejected"`
		SMTPIgnored      int64  `json:"SMTPIgnored"`
	} `json:"RuntimeStats"`
}

// wantKeys checks raw JSON for key spellings and [] (not null) values.
func wantKeys(t *testing.T, body []byte, fragments ...string) {
	t.Helper()
	for _, f := range fragments {
		if !strings.Contains(string(body), f) {
			t.Errorf("body lacks %s:\n%s", f, body)
		}
	}
	if strings.Contains(string(body), "null") {
		t.Errorf("body has a null:\n%s", body)
	}
}

func ids(ms []messageSummary) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// newThree returns a server holding m1 (plain), m2 (rich), m3 (no From),
// inserted in that order.
func newThree(t *testing.T) *testServer {
	s := newTestServer(t)
	s.insert(t, "m1", plainMail)
	s.insert(t, "m2", richMail)
	s.insert(t, "m3", noFromMail)
	return s
}

func TestListMessagesEmpty(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	var got messagesSummary
	res := s.getJSON(t, "/api/v1/messages", &got)
	wantKeys(t, res.body, `"messages":[]`, `"tags":[]`, `"messages_count":0`, `"messages_unread":0`,
		`"total":0`, `"unread":0`, `"count":0`, `"start":0`)
}

func TestListMessages(t *testing.T) {
	t.Parallel()
	s := newThree(t)

	var got messagesSummary
	res := s.getJSON(t, "/api/v1/messages", &got)
	wantKeys(t, res.body, `"ID":"m3"`, `"messages_count":3`, `"From":{"Name":"","Address":""}`,
		`"Cc":[]`, `"Bcc":`, `"ReplyTo":[]`, `"Tags":[]`)
	if want := []string{"m3", "m2", "m1"}; !slices.Equal(ids(got.Messages), want) {
		t.Errorf("order = %v, want %v (newest first)", ids(got.Messages), want)
	}
	if got.Total != 3 || got.Unread != 3 || got.Count != 3 || got.MessagesCount != 3 ||
		got.MessagesUnread != 3 || got.Start != 0 {
		t.Errorf("envelope = %+v", got)
	}
	m1 := got.Messages[2]
	if m1.MessageID != "plain-1@example.test" || m1.Subject != "Hello Bob" || m1.Read ||
		m1.From != (address{"Alice Example", "alice@example.test"}) ||
		!slices.Equal(m1.To, []address{{"Bob", "bob@example.test"}}) || m1.Size != int64(len(crlf(plainMail))) {
		t.Errorf("m1 summary = %+v", m1)
	}
	if !strings.Contains(m1.Snippet, "Hello Bob, this is a plain message.") {
		t.Errorf("m1 snippet = %q", m1.Snippet)
	}
	created, err := time.Parse(time.RFC3339Nano, m1.Created)
	if err != nil || !strings.HasSuffix(m1.Created, "Z") || time.Since(created) > time.Minute {
		t.Errorf("Created = %q (%v), want a recent RFC 3339 UTC time", m1.Created, err)
	}
	if m2 := got.Messages[1]; m2.Attachments != 2 ||
		!slices.Equal(m2.Cc, []address{{"Carol", "carol@example.test"}}) {
		t.Errorf("m2 summary = %+v, want 2 attachments and a Cc", m2)
	}

	tests := []struct {
		query string
		want  []string
	}{
		{"start=1&limit=1", []string{"m2"}},
		{"start=0&limit=2", []string{"m3", "m2"}},
		{"start=2", []string{"m1"}},
		{"start=3&limit=10", []string{}},
		{"start=99", []string{}},
		{"limit=0", []string{"m3", "m2", "m1"}},      // 0 means the default
		{"limit=100000", []string{"m3", "m2", "m1"}}, // capped, not refused
	}
	for _, tt := range tests {
		var page messagesSummary
		res := s.getJSON(t, "/api/v1/messages?"+tt.query, &page)
		if !slices.Equal(ids(page.Messages), tt.want) || page.Count != len(tt.want) || page.MessagesCount != 3 {
			t.Errorf("?%s: ids %v count %d messages_count %d, want %v", tt.query, ids(page.Messages),
				page.Count, page.MessagesCount, tt.want)
		}
		if len(tt.want) == 0 {
			wantKeys(t, res.body, `"messages":[]`)
		}
	}
}

func TestPagingErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for _, q := range []string{"start=-1", "limit=-5", "start=abc", "limit=1.5", "limit=", "start=1e3", "limit=9999999999999999999999"} {
		for _, path := range []string{"/api/v1/messages?", "/api/v1/search?query=x&"} {
			if q == "limit=" { // empty means default
				if res := s.get(t, path+q); res.status != 200 {
					t.Errorf("GET %s%s = %d, want 200", path, q, res.status)
				}
				continue
			}
			msg := wantError(t, s.get(t, path+q), http.StatusBadRequest)
			if !strings.Contains(msg, "non-negative integer") {
				t.Errorf("GET %s%s: Error = %q", path, q, msg)
			}
		}
	}
}

func TestGetMessage(t *testing.T) {
	t.Parallel()
	s := newThree(t)

	var m message
	res := s.getJSON(t, "/api/v1/message/m2", &m)
	wantKeys(t, res.body, `"ID":"m2"`, `"Checksums":{"MD5":`, `"ListUnsubscribe":{"Header":`,
		`"Links":[`, `"Inline":[`, `"Attachments":[`, `"ReturnPath":`, `"Parts":{"PartID":"0"`, `"Findings":`,
		`"Envelope":{`, `"Transcript":[]`, `"Tags":[]`)

	if m.ID != "m2" || m.MessageID != "rich-1@example.test" || m.Subject != "Your invoice" ||
		m.From != (address{"Shop", "shop@example.test"}) ||
		!slices.Equal(m.ReplyTo, []address{{"", "support@example.test"}}) ||
		m.ReturnPath != "bounce@example.test" || m.Size != int64(len(crlf(richMail))) {
		t.Errorf("message = %+v", m)
	}
	if m.Date != "2026-11-25T10:00:00Z" {
		t.Errorf("Date = %q, want the Date header in UTC", m.Date)
	}
	if !strings.Contains(m.Text, "Invoice text body") || !strings.Contains(m.HTML, `src="cid:logo@example.test"`) {
		t.Errorf("Text %q / HTML %q", m.Text, m.HTML)
	}
	lu := m.ListUnsubscribe
	if want := []string{"mailto:unsub@example.test?subject=stop", "https://example.test/unsub?u=1"}; !slices.Equal(lu.Links, want) ||
		lu.HeaderPost != "List-Unsubscribe=One-Click" || lu.Errors != "" || !strings.Contains(lu.Header, "mailto:unsub") {
		t.Errorf("ListUnsubscribe = %+v", lu)
	}
	if m.Envelope.MailFrom != "bounce@example.test" || m.Envelope.Helo != "client.test" ||
		len(m.Envelope.Rcpts) != 1 || m.Envelope.Rcpts[0].Params == nil {
		t.Errorf("Envelope = %+v", m.Envelope)
	}
	if len(m.Headers) == 0 || m.Headers[0].Name != "From" {
		t.Errorf("Headers = %+v, want From first", m.Headers)
	}
	if !m.Read {
		t.Errorf("Read = false, want true after the fetch")
	}

	if len(m.Inline) != 1 || m.Inline[0].ContentID != "logo@example.test" || m.Inline[0].ContentType != "image/png" {
		t.Fatalf("Inline = %+v, want the logo", m.Inline)
	}
	wantSums(t, m.Inline[0], pngBytes)
	var names []string
	for _, a := range m.Attachments {
		names = append(names, a.FileName)
		switch a.FileName {
		case "report.pdf":
			wantSums(t, a, pdfBytes)
		case "Grüße.txt":
			wantSums(t, a, textBytes)
		}
	}
	if want := []string{"report.pdf", "Grüße.txt"}; !slices.Equal(names, want) {
		t.Errorf("attachment names = %q, want %q", names, want)
	}

	// Fetching marked it read, in the list as well.
	var list messagesSummary
	s.getJSON(t, "/api/v1/messages", &list)
	if list.Unread != 2 || list.Messages[1].ID != "m2" || !list.Messages[1].Read {
		t.Errorf("after fetch: unread %d, m2 read %v; want 2, true", list.Unread, list.Messages[1].Read)
	}
}

func wantSums(t *testing.T, a attachment, content []byte) {
	t.Helper()
	m, s1, s256 := md5.Sum(content), sha1.Sum(content), sha256.Sum256(content)
	if a.Checksums.MD5 != hex.EncodeToString(m[:]) || a.Checksums.SHA1 != hex.EncodeToString(s1[:]) ||
		a.Checksums.SHA256 != hex.EncodeToString(s256[:]) {
		t.Errorf("%s checksums = %+v, want those of %q", a.FileName, a.Checksums, content)
	}
	if a.Size != int64(len(content)) {
		t.Errorf("%s size = %d, want %d", a.FileName, a.Size, len(content))
	}
}

// TestMessageDecodedHeadersAndRemote: each header carries its RFC 2047
// decoded value beside the raw one, and the remote images and style
// sheets of the HTML body are listed as a browser would load them.
func TestMessageDecodedHeadersAndRemote(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.insert(t, "enc", "From: =?ISO-8859-1?Q?J=F6rg?= <j@example.test>\n"+
		"Subject: =?UTF-8?B?0J/RgNC40LLQtdGC?= =?UTF-8?Q?_world?=\n"+
		"X-Plain: nothing encoded\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n"+
		`<img src="&#104;ttps://t.example/p.gif"><p style="background:url(//cdn.example/bg.png)">x</p><img src="cid:a">`+"\n")
	var m message
	s.getJSON(t, "/api/v1/message/enc", &m)
	want := map[string][2]string{
		"From":    {"=?ISO-8859-1?Q?J=F6rg?= <j@example.test>", "Jörg <j@example.test>"},
		"Subject": {"=?UTF-8?B?0J/RgNC40LLQtdGC?= =?UTF-8?Q?_world?=", "Привет world"},
		"X-Plain": {"nothing encoded", "nothing encoded"},
	}
	for _, h := range m.Headers {
		if w, ok := want[h.Name]; ok {
			if h.Value != w[0] || h.Decoded != w[1] {
				t.Errorf("%s: Value %q Decoded %q, want %q and %q", h.Name, h.Value, h.Decoded, w[0], w[1])
			}
			delete(want, h.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("headers missing: %v", want)
	}
	wantRemote := []store.RemoteRef{{URL: "https://t.example/p.gif", Kind: "image"}, {URL: "//cdn.example/bg.png", Kind: "image"}}
	if !slices.Equal(m.Remote, wantRemote) {
		t.Errorf("Remote = %v, want %v", m.Remote, wantRemote)
	}
}

func TestGetMessageLatestAndMissing(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for _, path := range []string{
		"/api/v1/message/latest", "/api/v1/message/latest/raw", "/api/v1/message/latest/headers",
		"/api/v1/message/latest/part/1", "/view/latest.html", "/view/latest.txt",
	} {
		wantError(t, s.get(t, path), http.StatusNotFound) // empty store: no latest
	}

	s.insert(t, "m1", plainMail)
	s.insert(t, "m3", noFromMail)
	var m message
	res := s.getJSON(t, "/api/v1/message/latest", &m)
	if m.ID != "m3" || m.Subject != "No sender here" {
		t.Errorf("latest = %s %q, want m3", m.ID, m.Subject)
	}
	wantKeys(t, res.body, `"From":{"Name":"","Address":""}`, `"Cc":[]`, `"Inline":[]`, `"Attachments":[]`,
		`"Links":[]`, `"HTML":""`)

	for _, path := range []string{
		"/api/v1/message/nope", "/api/v1/message/nope/raw", "/api/v1/message/nope/headers",
		"/api/v1/message/nope/part/0", "/api/v1/message/m1/part/9.9", "/view/nope.html", "/view/nope.txt",
	} {
		wantError(t, s.get(t, path), http.StatusNotFound)
	}
}

func TestRaw(t *testing.T) {
	t.Parallel()
	s := newThree(t)
	for _, tt := range []struct{ path, want string }{
		{"/api/v1/message/m2/raw", crlf(richMail)},
		{"/api/v1/message/latest/raw", crlf(noFromMail)},
	} {
		res := s.get(t, tt.path)
		if res.status != 200 || string(res.body) != tt.want {
			t.Errorf("GET %s = %d, body equal %v", tt.path, res.status, string(res.body) == tt.want)
		}
		if ct := res.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("GET %s Content-Type = %q", tt.path, ct)
		}
		if cl := res.header.Get("Content-Length"); cl != fmt.Sprint(len(tt.want)) {
			t.Errorf("GET %s Content-Length = %s, want %d", tt.path, cl, len(tt.want))
		}
	}
	// Raw does not mark read.
	var list messagesSummary
	s.getJSON(t, "/api/v1/messages", &list)
	if list.Unread != 3 {
		t.Errorf("unread after raw = %d, want 3", list.Unread)
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	s := newThree(t)
	var got map[string][]string
	s.getJSON(t, "/api/v1/message/m1/headers", &got)
	want := map[string][]string{
		"Return-Path":  {"<bounce@example.test>"},
		"Received":     {"from client.test by mailsink; Wed, 25 Nov 2026 10:00:00 +0000", "from origin.test by client.test; Wed, 25 Nov 2026 09:59:00 +0000"},
		"From":         {"Alice Example <alice@example.test>"},
		"To":           {"Bob <bob@example.test>"},
		"Subject":      {"Hello Bob"},
		"Message-Id":   {"<plain-1@example.test>"},
		"Date":         {"Wed, 25 Nov 2026 10:00:00 +0000"},
		"X-Folded":     {"first second"},
		"Mime-Version": {"1.0"},
		"Content-Type": {"text/plain; charset=utf-8"},
	}
	if len(got) != len(want) {
		t.Errorf("got %d headers, want %d: %q", len(got), len(want), got)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// TestPartCharset checks that a text part sent in another charset is
// served as the UTF-8 the store converted it to, and labelled so.
func TestPartCharset(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.insert(t, "cp1251", `From: a@example.test
Subject: charset
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain; charset=us-ascii

see attached
--b
Content-Type: text/plain; charset=windows-1251
Content-Disposition: attachment; filename="note.txt"
Content-Transfer-Encoding: quoted-printable

=CF=F0=E8=E2=E5=F2
--b--
`)
	var m message
	s.getJSON(t, "/api/v1/message/cp1251", &m)
	if len(m.Attachments) != 1 {
		t.Fatalf("attachments = %+v", m.Attachments)
	}
	res := s.get(t, "/api/v1/message/cp1251/part/"+m.Attachments[0].PartID)
	if got := strings.TrimRight(string(res.body), "\r\n"); res.status != 200 || got != "Привет" {
		t.Errorf("GET part = %d %q, want Привет", res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/plain; charset=utf-8", ct)
	}
}

func TestPart(t *testing.T) {
	t.Parallel()
	s := newThree(t)
	var m message
	s.getJSON(t, "/api/v1/message/m2", &m)
	tests := []struct {
		name, fileName, wantType, wantDisp string
		content                            []byte
	}{
		{"inline image", "logo.png", "image/png", `inline; filename="logo.png"`, pngBytes},
		// Not an image: downloaded, never opened in a tab of our origin.
		{"pdf", "report.pdf", "application/pdf", `attachment; filename="report.pdf"`, pdfBytes},
		{"non-ASCII name", "Grüße.txt", "text/plain; charset=utf-8",
			`attachment; filename="Gr__e.txt"; filename*=UTF-8''Gr%C3%BC%C3%9Fe.txt`, textBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a *attachment
			all := slices.Concat(m.Inline, m.Attachments)
			for i := range all {
				if all[i].FileName == tt.fileName {
					a = &all[i]
				}
			}
			if a == nil {
				t.Fatalf("no part named %q in %+v / %+v", tt.fileName, m.Inline, m.Attachments)
			}
			res := s.get(t, "/api/v1/message/m2/part/"+a.PartID)
			if res.status != 200 || string(res.body) != string(tt.content) {
				t.Fatalf("GET part %s = %d %q, want %q", a.PartID, res.status, res.body, tt.content)
			}
			sum := sha256.Sum256(res.body)
			if hex.EncodeToString(sum[:]) != a.Checksums.SHA256 {
				t.Errorf("sha256 of the download != Checksums.SHA256 %s", a.Checksums.SHA256)
			}
			h := res.header
			if h.Get("Content-Type") != tt.wantType || h.Get("Content-Disposition") != tt.wantDisp ||
				h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Length") != fmt.Sprint(len(tt.content)) ||
				!strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
				t.Errorf("headers = %v, want type %q disposition %q", h, tt.wantType, tt.wantDisp)
			}
		})
	}
}

// TestDeleteAllMailHogClient: MailHog's node client sends DELETE
// /api/v1/messages without an Accept header and fails on a non-JSON body,
// so it must get an empty 200.
func TestDeleteAllMailHogClient(t *testing.T) {
	t.Parallel()
	s := newThree(t)
	req, err := http.NewRequest(http.MethodDelete, s.ts.URL+"/api/v1/messages", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req) // Go sends no Accept header either
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || len(body) != 0 {
		t.Errorf("DELETE without Accept = %d %q, want 200 and an empty body", res.StatusCode, body)
	}
	var list messagesSummary
	s.getJSON(t, "/api/v1/messages", &list)
	if list.Total != 0 {
		t.Errorf("%d messages left", list.Total)
	}
}

func TestDeleteMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []string // IDs left
	}{
		{"by IDs", `{"IDs":["m1","m3","unknown"]}`, []string{"m2"}},
		{"no body means all", "", []string{}},
		{"empty object means all", `{}`, []string{}},
		{"empty IDs mean all", `{"IDs":[]}`, []string{}},
		{"null IDs mean all", `{"IDs":null}`, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newThree(t)
			var body *strings.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			var res response
			if body == nil {
				res = s.do(t, http.MethodDelete, "/api/v1/messages", nil)
			} else {
				res = s.do(t, http.MethodDelete, "/api/v1/messages", body)
			}
			wantOK(t, res)
			var list messagesSummary
			s.getJSON(t, "/api/v1/messages", &list)
			if !slices.Equal(ids(list.Messages), tt.want) || list.Total != len(tt.want) {
				t.Errorf("left %v (total %d), want %v", ids(list.Messages), list.Total, tt.want)
			}
		})
	}
}

func TestDeleteMessagesBadBodies(t *testing.T) {
	t.Parallel()
	s := newThree(t)
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"malformed JSON", `{"IDs":[`, http.StatusBadRequest},
		{"wrong type", `{"IDs":"m1"}`, http.StatusBadRequest},
		{"trailing garbage", `{"IDs":["m1"]} {"IDs":["m2"]}`, http.StatusBadRequest},
		{"over 1 MiB", `{"IDs":["` + strings.Repeat("x", 1<<20) + `"]}`, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		for _, method := range []string{http.MethodDelete, http.MethodPut} {
			res := s.do(t, method, "/api/v1/messages", strings.NewReader(tt.body))
			if msg := wantError(t, res, tt.status); strings.Contains(msg, "xxxx") {
				t.Errorf("%s %s: error echoes the body: %.80s", method, tt.name, msg)
			}
		}
	}
	var list messagesSummary
	s.getJSON(t, "/api/v1/messages", &list)
	if list.Total != 3 || list.Unread != 3 {
		t.Errorf("after bad requests total %d unread %d, want 3 3", list.Total, list.Unread)
	}
}

func TestSetRead(t *testing.T) {
	t.Parallel()
	s := newThree(t)
	unreadIDs := func() []string {
		t.Helper()
		var list messagesSummary
		s.getJSON(t, "/api/v1/messages", &list)
		out := []string{}
		for _, m := range list.Messages {
			if !m.Read {
				out = append(out, m.ID)
			}
		}
		if list.Unread != len(out) {
			t.Errorf("unread = %d but %d messages unread", list.Unread, len(out))
		}
		return out
	}
	steps := []struct {
		body string
		want []string // unread after the step
	}{
		{`{"IDs":["m1","m3"],"Read":true}`, []string{"m2"}},
		{`{"IDs":["m1"],"Read":false}`, []string{"m2", "m1"}},
		{`{"IDs":[],"Read":true}`, []string{}},                      // cypress: all read
		{`{"Read":false}`, []string{"m3", "m2", "m1"}},              // all unread
		{`{"Search":"invoice","Read":true}`, []string{"m3", "m1"}},  // only matches
		{`{"Search":"zzzqqq","Read":true}`, []string{"m3", "m1"}},   // no match changes nothing
		{`{"IDs":["m3"],"Read":true,"Search":" "}`, []string{"m1"}}, // blank Search is ignored
	}
	for i, st := range steps {
		wantOK(t, s.do(t, http.MethodPut, "/api/v1/messages", strings.NewReader(st.body)))
		if got := unreadIDs(); !slices.Equal(got, st.want) {
			t.Errorf("step %d %s: unread %v, want %v", i, st.body, got, st.want)
		}
	}
	// An empty body is Mailpit's setReadStatus({}): Read absent = false, all messages.
	wantOK(t, s.do(t, http.MethodPut, "/api/v1/messages", nil))
	if got := unreadIDs(); !slices.Equal(got, []string{"m3", "m2", "m1"}) {
		t.Errorf("after empty PUT unread %v, want all", got)
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	s := newThree(t)
	s.getJSON(t, "/api/v1/message/m1", &message{}) // m1 read

	tests := []struct {
		query                 string
		want                  []string
		matches, matchesUnred int
	}{
		{"query=invoice", []string{"m2"}, 1, 1},
		{"query=example", []string{"m3", "m2", "m1"}, 3, 2},
		{"query=example&start=1&limit=1", []string{"m2"}, 3, 2},
		{"query=example&start=5", []string{}, 3, 2},
		{"query=Hello+Bob", []string{"m1"}, 1, 0},
		{"query=zzzqqq", []string{}, 0, 0},
	}
	for _, tt := range tests {
		var got messagesSummary
		res := s.getJSON(t, "/api/v1/search?"+tt.query, &got)
		if !slices.Equal(ids(got.Messages), tt.want) || got.MessagesCount != tt.matches ||
			got.MessagesUnread != tt.matchesUnred || got.Total != 3 || got.Unread != 2 || got.Count != len(tt.want) {
			t.Errorf("?%s = ids %v, messages_count %d, messages_unread %d, total %d, unread %d; want %v %d %d 3 2",
				tt.query, ids(got.Messages), got.MessagesCount, got.MessagesUnread, got.Total, got.Unread,
				tt.want, tt.matches, tt.matchesUnred)
		}
		wantKeys(t, res.body, `"messages":[`, `"tags":[]`)
	}
	for _, q := range []string{"", "?query=", "?query=%20%20"} {
		if msg := wantError(t, s.get(t, "/api/v1/search"+q), http.StatusBadRequest); !strings.Contains(msg, "query") {
			t.Errorf("search%s: Error = %q", q, msg)
		}
	}
}

func TestDeleteSearch(t *testing.T) {
	t.Parallel()
	s := newThree(t)
	wantOK(t, s.do(t, http.MethodDelete, "/api/v1/search?query=zzzqqq", nil))
	wantOK(t, s.do(t, http.MethodDelete, "/api/v1/search?query="+url.QueryEscape("invoice"), nil))
	var list messagesSummary
	s.getJSON(t, "/api/v1/messages", &list)
	if want := []string{"m3", "m1"}; !slices.Equal(ids(list.Messages), want) {
		t.Errorf("left %v, want %v", ids(list.Messages), want)
	}
	wantError(t, s.do(t, http.MethodDelete, "/api/v1/search", nil), http.StatusBadRequest)
}

func TestInfo(t *testing.T) {
	t.Parallel()
	s := newThree(t)
	s.getJSON(t, "/api/v1/message/m1", &message{})
	var got appInformation
	res := s.getJSON(t, "/api/v1/info", &got)
	wantKeys(t, res.body, `"Tags":{}`, `"RuntimeStats":{"Uptime":`, `"LatestVersion":"v1.2.3-test"`)
	if got.Version != "v1.2.3-test" || got.Database != "/data/mail.db" || got.Messages != 3 || got.Unread != 2 {
		t.Errorf("info = %+v", got)
	}
	if got.DatabaseSize <= 0 || got.RuntimeStats.Memory == 0 {
		t.Errorf("DatabaseSize %d, Memory %d; want both > 0", got.DatabaseSize, got.RuntimeStats.Memory)
	}
	if up := got.RuntimeStats.Uptime; up < 3600 || up > 3600+60 {
		t.Errorf("Uptime = %d, want about 3600 (Started an hour ago)", up)
	}
}

func TestView(t *testing.T) {
	t.Parallel()
	s := newThree(t)
	const csp = "default-src 'none'; img-src data: cid: 'self'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'self'; sandbox"

	var m message
	s.getJSON(t, "/api/v1/message/m2", &m)
	if len(m.Inline) != 1 {
		t.Fatalf("Inline = %+v", m.Inline)
	}
	partURL := "/api/v1/message/m2/part/" + m.Inline[0].PartID

	res := s.get(t, "/view/m2.html")
	if res.status != 200 || res.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /view/m2.html = %d %s", res.status, res.header.Get("Content-Type"))
	}
	if got := res.header.Get("Content-Security-Policy"); got != csp {
		t.Errorf("CSP = %q, want %q", got, csp)
	}
	html := string(res.body)
	for _, want := range []string{
		`src="` + partURL + `"`,         // cid:logo@example.test
		`src='` + partURL + `'`,         // CID:logo%40example.test
		`href="cid:unknown@x"`,          // unknown Content-ID: untouched
		`<p>acid:logo@example.test</p>`, // not a URL
	} {
		if !strings.Contains(html, want) {
			t.Errorf("view lacks %s:\n%s", want, html)
		}
	}
	if img := s.get(t, partURL); img.status != 200 || string(img.body) != string(pngBytes) {
		t.Errorf("GET %s = %d, want the image", partURL, img.status)
	}

	res = s.get(t, "/view/m1.txt")
	if res.status != 200 || res.header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		!strings.Contains(string(res.body), "Hello Bob, this is a plain message.") {
		t.Errorf("GET /view/m1.txt = %d %s %q", res.status, res.header.Get("Content-Type"), res.body)
	}
	res = s.get(t, "/view/latest.txt")
	if res.status != 200 || !strings.Contains(string(res.body), "just some text") {
		t.Errorf("GET /view/latest.txt = %d %q", res.status, res.body)
	}
	msg := wantError(t, s.get(t, "/view/m1.html"), http.StatusNotFound) // text only
	if !strings.Contains(msg, "HTML") {
		t.Errorf("no-HTML error = %q", msg)
	}
}
