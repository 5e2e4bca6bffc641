package webui_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image/color"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// sendAddr, sendAtt and sendReq are Mailpit's SendRequest as clients write
// it.
type sendAddr struct {
	Email string `json:"Email"`
	Name  string `json:"Name,omitempty"`
}

type sendAtt struct {
	Filename    string `json:"Filename"`
	Content     string `json:"Content"`
	ContentType string `json:"ContentType,omitempty"`
	ContentID   string `json:"ContentID,omitempty"`
}

type sendReq struct {
	From        sendAddr          `json:"From"`
	To          []sendAddr        `json:"To,omitempty"`
	Cc          []sendAddr        `json:"Cc,omitempty"`
	Bcc         []string          `json:"Bcc,omitempty"`
	ReplyTo     []sendAddr        `json:"ReplyTo,omitempty"`
	Subject     string            `json:"Subject,omitempty"`
	Text        string            `json:"Text,omitempty"`
	HTML        string            `json:"HTML,omitempty"`
	Tags        []string          `json:"Tags,omitempty"`
	Headers     map[string]string `json:"Headers,omitempty"`
	Attachments []sendAtt         `json:"Attachments,omitempty"`
}

// postJSON sends body as JSON to path.
func (s *testServer) postJSON(tb testing.TB, path string, body []byte) response {
	tb.Helper()
	return s.do(tb, http.MethodPost, path, bytes.NewReader(body))
}

// mustSend posts req to /api/v1/send, wants exactly 200 (mailpit-api throws on
// anything else) with a JSON {ID}, and returns the ID.
func (s *testServer) mustSend(tb testing.TB, req any) string {
	tb.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		tb.Fatal(err)
	}
	res := s.postJSON(tb, "/api/v1/send", body)
	if res.status != http.StatusOK {
		tb.Fatalf("POST /api/v1/send = %d, want 200; body %s", res.status, res.body)
	}
	var reply struct {
		ID string `json:"ID"`
	}
	wantJSON(tb, res, &reply)
	if reply.ID == "" {
		tb.Fatalf("POST /api/v1/send reply %s has no ID", res.body)
	}
	return reply.ID
}

// getLoose GETs path, wants 200 with JSON, and decodes into v ignoring
// fields v lacks: these tests check what send and thumb produce, not the
// whole wire shape (which api_test.go pins).
func (s *testServer) getLoose(tb testing.TB, path string, v any) {
	tb.Helper()
	res := s.get(tb, path)
	if res.status != http.StatusOK {
		tb.Fatalf("GET %s: status = %d, want 200; body %s", path, res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("GET %s: Content-Type = %q, want application/json", path, ct)
	}
	if err := json.Unmarshal(res.body, v); err != nil {
		tb.Fatalf("GET %s: decode %s: %v", path, res.body, err)
	}
}

// rawHeaderSection returns the raw header section of a message.
func rawHeaderSection(raw []byte) string {
	h, _, _ := strings.Cut(string(raw), "\r\n\r\n")
	return h
}

func TestSendFullRequest(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)

	// A text attachment with bare LF line ends and binary data must come
	// back byte-identical; the inline image is referenced from the HTML.
	textAtt := []byte("line one\nline two\n\tindented ü\n")
	binAtt := make([]byte, 3000)
	for i := range binAtt {
		binAtt[i] = byte(i * 7)
	}
	png := encodePNG(t, fillImage(4, 4, color.RGBA{255, 0, 0, 255}))
	req := sendReq{
		From:    sendAddr{Email: "alice@example.test", Name: "Alice Ä"},
		To:      []sendAddr{{Email: "bob@example.test", Name: "Bob"}, {Email: "carol@example.test"}},
		Cc:      []sendAddr{{Email: "dave@example.test", Name: "Dave"}},
		Bcc:     []string{"hidden@example.test"},
		ReplyTo: []sendAddr{{Email: "replies@example.test", Name: "Replies"}},
		Subject: "Grüße from the API",
		Text:    "Hello Bob,\nplain text.\n",
		HTML:    `<p>Hello <b>Bob</b></p><img src="cid:logo@mailsink.test">`,
		Tags:    []string{"api", " second tag "},
		Headers: map[string]string{"X-Custom": "custom value", "X-Priority": "1"},
		Attachments: []sendAtt{
			{Filename: "notes.txt", Content: base64.StdEncoding.EncodeToString(textAtt), ContentType: "text/plain; charset=utf-8"},
			{Filename: "data.bin", Content: base64.StdEncoding.EncodeToString(binAtt)},
			{Filename: "logo.png", Content: base64.StdEncoding.EncodeToString(png), ContentType: "image/png", ContentID: "logo@mailsink.test"},
		},
	}
	id := s.mustSend(t, req)

	var m message
	s.getLoose(t, "/api/v1/message/"+id, &m)
	if m.ID != id {
		t.Errorf("ID = %q, want %q", m.ID, id)
	}
	if m.From != (address{Name: "Alice Ä", Address: "alice@example.test"}) {
		t.Errorf("From = %+v", m.From)
	}
	wantAddresses(t, "To", m.To, []address{{"Bob", "bob@example.test"}, {"", "carol@example.test"}})
	wantAddresses(t, "Cc", m.Cc, []address{{"Dave", "dave@example.test"}})
	wantAddresses(t, "ReplyTo", m.ReplyTo, []address{{"Replies", "replies@example.test"}})
	wantAddresses(t, "Bcc", m.Bcc, []address{{"", "hidden@example.test"}})
	if m.Subject != req.Subject {
		t.Errorf("Subject = %q, want %q", m.Subject, req.Subject)
	}
	if got := strings.ReplaceAll(m.Text, "\r\n", "\n"); got != req.Text {
		t.Errorf("Text = %q, want %q", m.Text, req.Text)
	}
	if !strings.Contains(m.HTML, "<b>Bob</b>") || !strings.Contains(m.HTML, "cid:logo@mailsink.test") {
		t.Errorf("HTML = %q", m.HTML)
	}
	if m.MessageID == "" || m.Date == "" {
		t.Errorf("MessageID = %q, Date = %q: want both set", m.MessageID, m.Date)
	}
	// The store reads the tags from X-Tags (the header is checked below).
	if !slices.Equal(m.Tags, []string{"api", "second tag"}) {
		t.Errorf("Tags = %q, want [api, second tag]", m.Tags)
	}
	if m.ReturnPath != "alice@example.test" || m.Envelope.MailFrom != "alice@example.test" {
		t.Errorf("ReturnPath = %q, MailFrom = %q, want alice@example.test", m.ReturnPath, m.Envelope.MailFrom)
	}
	var rcpts []string
	for _, r := range m.Envelope.Rcpts {
		rcpts = append(rcpts, r.Address)
	}
	if want := []string{"bob@example.test", "carol@example.test", "dave@example.test", "hidden@example.test"}; !slices.Equal(rcpts, want) {
		t.Errorf("envelope Rcpts = %q, want %q", rcpts, want)
	}
	if m.Envelope.Source != "api" || m.Envelope.Protocol != "HTTP" || !strings.HasPrefix(m.Envelope.RemoteAddr, "127.0.0.1:") {
		t.Errorf("envelope Source %q Protocol %q RemoteAddr %q, want api, HTTP, 127.0.0.1:…",
			m.Envelope.Source, m.Envelope.Protocol, m.Envelope.RemoteAddr)
	}
	for _, f := range m.Findings {
		if f.Severe {
			t.Errorf("severe finding on a built message: %+v", f)
		}
	}

	// Attachments: byte-identical, right checksums and types.
	if len(m.Attachments) != 2 {
		t.Fatalf("Attachments = %+v, want 2", m.Attachments)
	}
	wantAtt := []struct {
		name, ctype string
		content     []byte
	}{
		{"notes.txt", "text/plain", textAtt},
		{"data.bin", "application/octet-stream", binAtt},
	}
	for i, w := range wantAtt {
		a := m.Attachments[i]
		if a.FileName != w.name || a.ContentType != w.ctype {
			t.Errorf("attachment %d = %s (%s), want %s (%s)", i, a.FileName, a.ContentType, w.name, w.ctype)
		}
		wantSums(t, a, w.content)
		res := s.get(t, "/api/v1/message/"+id+"/part/"+a.PartID)
		if res.status != 200 || !bytes.Equal(res.body, w.content) {
			t.Errorf("part %s = %d %q, want %q", a.PartID, res.status, res.body, w.content)
		}
	}
	if len(m.Inline) != 1 || m.Inline[0].ContentID != "logo@mailsink.test" || m.Inline[0].FileName != "logo.png" ||
		m.Inline[0].ContentType != "image/png" {
		t.Fatalf("Inline = %+v, want logo.png with ContentID logo@mailsink.test", m.Inline)
	}
	wantSums(t, m.Inline[0], png)
	if res := s.get(t, "/api/v1/message/"+id+"/part/"+m.Inline[0].PartID); !bytes.Equal(res.body, png) {
		t.Errorf("inline part differs from the PNG sent")
	}
	// The preview links the cid: reference to the inline part.
	if res := s.get(t, "/view/"+id+".html"); !strings.Contains(string(res.body), "/api/v1/message/"+id+"/part/"+m.Inline[0].PartID) {
		t.Errorf("view HTML %q does not link the inline part", res.body)
	}

	// Raw: CRLF throughout, custom headers present, Bcc nowhere in the
	// header section.
	res := s.get(t, "/api/v1/message/"+id+"/raw")
	raw := res.body
	if int64(len(raw)) != m.Size {
		t.Errorf("raw is %d bytes, Size %d", len(raw), m.Size)
	}
	if n := bytes.Count(raw, []byte("\n")); n != bytes.Count(raw, []byte("\r\n")) {
		t.Errorf("raw has bare LF line ends")
	}
	hdr := rawHeaderSection(raw)
	if strings.Contains(strings.ToLower(hdr), "hidden@example.test") || strings.Contains(strings.ToLower(hdr), "\r\nbcc:") {
		t.Errorf("Bcc leaked into the headers:\n%s", hdr)
	}
	for _, want := range []string{"\r\nX-Custom: custom value", "\r\nX-Priority: 1", "\r\nX-Tags: api, second tag", "Mime-Version: 1.0"} {
		if !strings.Contains("\r\n"+hdr, want) {
			t.Errorf("headers lack %q:\n%s", want, hdr)
		}
	}

	var headers map[string][]string
	s.getLoose(t, "/api/v1/message/"+id+"/headers", &headers)
	if got := headers["X-Tags"]; !slices.Equal(got, []string{"api, second tag"}) {
		t.Errorf("X-Tags = %q", got)
	}
	if got := headers["X-Custom"]; !slices.Equal(got, []string{"custom value"}) {
		t.Errorf("X-Custom = %q", got)
	}
	if len(headers["Message-Id"]) != 1 || len(headers["Date"]) != 1 {
		t.Errorf("want one Message-Id and one Date, got %q and %q", headers["Message-Id"], headers["Date"])
	}

	// The summary reports the Bcc recipient too.
	var list messagesSummary
	s.getLoose(t, "/api/v1/messages", &list)
	if len(list.Messages) != 1 || !slices.Equal(list.Messages[0].Bcc, []address{{"", "hidden@example.test"}}) {
		t.Errorf("summary = %+v, want the Bcc recipient listed", list.Messages)
	}
}

func wantAddresses(t *testing.T, field string, got, want []address) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %+v, want %+v", field, got, want)
	}
}

func TestSendMinimalAndVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, s *testServer, id string, m message)
	}{
		{
			name: "minimal",
			body: `{"From":{"Email":"a@example.test"},"To":[{"Email":"b@example.test"}]}`,
			check: func(t *testing.T, s *testServer, id string, m message) {
				if m.From.Address != "a@example.test" || len(m.To) != 1 || m.To[0].Address != "b@example.test" {
					t.Errorf("From %+v To %+v", m.From, m.To)
				}
				if m.Subject != "" || m.Text != "" || m.HTML != "" || len(m.Attachments) != 0 {
					t.Errorf("want an empty message, got %+v", m)
				}
			},
		},
		{
			// cypress-mailpit's mailpitSendMail sends every key.
			name: "cypress-mailpit defaults",
			body: `{"Attachments":[],"Bcc":[],"Cc":[],"From":{"Email":"sender@example.com","Name":""},` +
				`"HTML":"<p>This is a test email.</p>","Headers":{},"ReplyTo":[],"Subject":"Test Email","Tags":[],` +
				`"Text":"This is a test email.","To":[{"Email":"recipient@example.com","Name":""}]}`,
			check: func(t *testing.T, s *testServer, id string, m message) {
				if m.Subject != "Test Email" || m.Text != "This is a test email." || m.HTML != "<p>This is a test email.</p>" {
					t.Errorf("Subject %q Text %q HTML %q", m.Subject, m.Text, m.HTML)
				}
				if m.From != (address{"", "sender@example.com"}) || len(m.Bcc) != 0 || len(m.Cc) != 0 {
					t.Errorf("From %+v Cc %+v Bcc %+v", m.From, m.Cc, m.Bcc)
				}
			},
		},
		{
			name: "only Bcc",
			body: `{"From":{"Email":"a@example.test"},"Bcc":["x@example.test","y@example.test"],"Subject":"secret"}`,
			check: func(t *testing.T, s *testServer, id string, m message) {
				wantAddresses(t, "Bcc", m.Bcc, []address{{"", "x@example.test"}, {"", "y@example.test"}})
				if len(m.To) != 0 {
					t.Errorf("To = %+v, want none", m.To)
				}
				hdr := rawHeaderSection(s.get(t, "/api/v1/message/"+id+"/raw").body)
				if strings.Contains(hdr, "x@example.test") || strings.Contains(hdr, "y@example.test") {
					t.Errorf("Bcc leaked into the headers:\n%s", hdr)
				}
			},
		},
		{
			name: "HTML only, own Date and Message-ID",
			body: `{"From":{"Email":"a@example.test"},"To":[{"Email":"b@example.test"}],"HTML":"<p>hi</p>",` +
				`"Headers":{"Date":"Mon, 02 Jan 2006 15:04:05 +0000","message-id":"<own@example.test>"}}`,
			check: func(t *testing.T, s *testServer, id string, m message) {
				if m.HTML != "<p>hi</p>" || len(m.Parts.Children) != 0 || m.Parts.ContentType != "text/html" {
					t.Errorf("HTML %q, Parts %+v: want one text/html part", m.HTML, m.Parts)
				}
				if m.Date != "2006-01-02T15:04:05Z" || m.MessageID != "own@example.test" {
					t.Errorf("Date %q MessageID %q, want the ones given", m.Date, m.MessageID)
				}
				var headers map[string][]string
				s.getLoose(t, "/api/v1/message/"+id+"/headers", &headers)
				if len(headers["Message-Id"]) != 1 || len(headers["Date"]) != 1 {
					t.Errorf("Message-Id %q Date %q, want one each", headers["Message-Id"], headers["Date"])
				}
			},
		},
		{
			name: "duplicate recipients are one envelope recipient",
			body: `{"From":{"Email":"a@example.test"},"To":[{"Email":"b@example.test"}],"Cc":[{"Email":"B@example.test"}],"Bcc":["b@example.test"]}`,
			check: func(t *testing.T, s *testServer, id string, m message) {
				if len(m.Envelope.Rcpts) != 1 {
					t.Errorf("envelope Rcpts = %+v, want one", m.Envelope.Rcpts)
				}
			},
		},
		{
			name: "attachment type from the file name, inline ContentID with brackets",
			body: `{"From":{"Email":"a@example.test"},"To":[{"Email":"b@example.test"}],"HTML":"<img src=\"cid:pic\">",` +
				`"Attachments":[{"Filename":"page.html","Content":"PHA+aGk8L3A+"},` +
				`{"Filename":"pic.gif","Content":"R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs=","ContentID":"<pic>"}]}`,
			check: func(t *testing.T, s *testServer, id string, m message) {
				if len(m.Attachments) != 1 || m.Attachments[0].ContentType != "text/html" {
					t.Errorf("Attachments = %+v, want page.html as text/html", m.Attachments)
				}
				if len(m.Inline) != 1 || m.Inline[0].ContentID != "pic" || m.Inline[0].ContentType != "image/gif" {
					t.Errorf("Inline = %+v, want pic.gif with ContentID pic", m.Inline)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			res := s.postJSON(t, "/api/v1/send", []byte(tt.body))
			if res.status != http.StatusOK {
				t.Fatalf("status = %d, want exactly 200; body %s", res.status, res.body)
			}
			var reply struct {
				ID string `json:"ID"`
			}
			wantJSON(t, res, &reply)
			var m message
			s.getLoose(t, "/api/v1/message/"+reply.ID, &m)
			tt.check(t, s, reply.ID, m)
		})
	}
}

func TestSendLargerThanOtherBodies(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	// 800 KiB of attachment, 1.07 MiB as base64: more than the 1 MiB other
	// endpoints accept.
	content := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 800<<10/4)
	id := s.mustSend(t, sendReq{
		From:        sendAddr{Email: "a@example.test"},
		To:          []sendAddr{{Email: "b@example.test"}},
		Attachments: []sendAtt{{Filename: "big.bin", Content: base64.StdEncoding.EncodeToString(content)}},
	})
	var m message
	s.getLoose(t, "/api/v1/message/"+id, &m)
	if len(m.Attachments) != 1 {
		t.Fatalf("Attachments = %+v", m.Attachments)
	}
	wantSums(t, m.Attachments[0], content)
}

func TestSendTooLarge(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	// 33 MiB of base64 inside otherwise valid JSON.
	var body bytes.Buffer
	body.WriteString(`{"From":{"Email":"a@example.test"},"To":[{"Email":"b@example.test"}],"Attachments":[{"Filename":"x","Content":"`)
	body.Write(bytes.Repeat([]byte("QUJD"), 33<<20/4))
	body.WriteString(`"}]}`)
	res := s.postJSON(t, "/api/v1/send", body.Bytes())
	wantError(t, res, http.StatusRequestEntityTooLarge)
	wantStoredCount(t, s, 0)
}

// wantStoredCount checks how many messages the store holds.
func wantStoredCount(t *testing.T, s *testServer, n int) {
	t.Helper()
	var list messagesSummary
	s.getLoose(t, "/api/v1/messages", &list)
	if list.Total != n {
		t.Errorf("store holds %d messages, want %d", list.Total, n)
	}
}

func TestSendValidation(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	const rcpt = `"To":[{"Email":"b@example.test"}]`
	const from = `"From":{"Email":"a@example.test"}`
	tests := []struct {
		name, body string
		wantInMsg  string // part of the error text
	}{
		{"empty body", ``, "body is required"},
		{"malformed JSON", `{"From":`, "malformed JSON"},
		{"trailing data", `{` + from + `,` + rcpt + `} {}`, "trailing data"},
		{"wrong type", `{"From":"a@example.test",` + rcpt + `}`, "malformed JSON"},
		{"no From", `{` + rcpt + `}`, "From: Email is required"},
		{"blank From", `{"From":{"Email":"  "},` + rcpt + `}`, "From: Email is required"},
		{"invalid From", `{"From":{"Email":"not an address"},` + rcpt + `}`, "From: invalid email address"},
		{"From with display name", `{"From":{"Email":"Alice <a@example.test>"},` + rcpt + `}`, "bare address"},
		{"no recipients", `{` + from + `}`, "at least one To, Cc or Bcc"},
		{"empty recipient lists", `{` + from + `,"To":[],"Cc":[],"Bcc":[]}`, "at least one To, Cc or Bcc"},
		{"To without Email", `{` + from + `,"To":[{"Name":"Bob"}]}`, "To[0]: Email is required"},
		{"invalid To", `{` + from + `,"To":[{"Email":"b@example.test"},{"Email":"b@"}]}`, "To[1]: invalid email address"},
		{"invalid Cc", `{` + from + `,` + rcpt + `,"Cc":[{"Email":"@x"}]}`, "Cc[0]: invalid"},
		{"invalid Bcc", `{` + from + `,` + rcpt + `,"Bcc":["x y z"]}`, "Bcc[0]: invalid"},
		{"invalid ReplyTo", `{` + from + `,` + rcpt + `,"ReplyTo":[{"Email":"nope"}]}`, "ReplyTo[0]: invalid"},
		{"bad base64", `{` + from + `,` + rcpt + `,"Attachments":[{"Filename":"a.bin","Content":"!!!"}]}`, "Attachments[0]: Content is not valid base64"},
		{"no Filename", `{` + from + `,` + rcpt + `,"Attachments":[{"Content":"QUJD"}]}`, "Attachments[0]: Filename is required"},
		{"Filename with a line break", `{` + from + `,` + rcpt + `,"Attachments":[{"Filename":"a\r\nb","Content":"QUJD"}]}`, "control characters"},
		{"bad ContentType", `{` + from + `,` + rcpt + `,"Attachments":[{"Filename":"a","Content":"QUJD","ContentType":"no slash"}]}`, "invalid ContentType"},
		{"multipart ContentType", `{` + from + `,` + rcpt + `,"Attachments":[{"Filename":"a","Content":"QUJD","ContentType":"multipart/mixed"}]}`, "invalid ContentType"},
		{"header name with a space", `{` + from + `,` + rcpt + `,"Headers":{"X Bad":"v"}}`, "invalid header name"},
		{"header name with a colon", `{` + from + `,` + rcpt + `,"Headers":{"X-Bad:":"v"}}`, "invalid header name"},
		{"empty header name", `{` + from + `,` + rcpt + `,"Headers":{"":"v"}}`, "invalid header name"},
		{"non-ASCII header name", `{` + from + `,` + rcpt + `,"Headers":{"X-Grüße":"v"}}`, "invalid header name"},
		{"header injection", `{` + from + `,` + rcpt + `,"Headers":{"X-A":"v\r\nBcc: evil@example.test"}}`, "control characters"},
		{"From header", `{` + from + `,` + rcpt + `,"Headers":{"From":"x@example.test"}}`, "cannot be set"},
		{"subject header, lower case", `{` + from + `,` + rcpt + `,"Headers":{"subject":"x"}}`, "cannot be set"},
		{"Bcc header", `{` + from + `,` + rcpt + `,"Headers":{"Bcc":"x@example.test"}}`, "cannot be set"},
		{"Reply-To header", `{` + from + `,` + rcpt + `,"Headers":{"Reply-To":"x@example.test"}}`, "ReplyTo"},
		{"Content-Type header", `{` + from + `,` + rcpt + `,"Headers":{"Content-Type":"text/plain"}}`, "cannot be set"},
		{"Content-Transfer-Encoding header", `{` + from + `,` + rcpt + `,"Headers":{"content-transfer-encoding":"8bit"}}`, "cannot be set"},
		{"MIME-Version header", `{` + from + `,` + rcpt + `,"Headers":{"MIME-Version":"1.0"}}`, "cannot be set"},
		{"X-Tags with Tags", `{` + from + `,` + rcpt + `,"Tags":["a"],"Headers":{"X-Tags":"b"}}`, "X-Tags conflicts with Tags"},
		{"invalid Date header", `{` + from + `,` + rcpt + `,"Headers":{"Date":"yesterday"}}`, "invalid Date"},
		{"tag with a comma", `{` + from + `,` + rcpt + `,"Tags":["a,b"]}`, "invalid tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.postJSON(t, "/api/v1/send", []byte(tt.body))
			msg := wantError(t, res, http.StatusBadRequest)
			if !strings.Contains(msg, tt.wantInMsg) {
				t.Errorf("Error = %q, want it to mention %q", msg, tt.wantInMsg)
			}
		})
	}
	wantStoredCount(t, s, 0)

	// Wrong method: a JSON 405 naming POST.
	res := s.get(t, "/api/v1/send")
	wantError(t, res, http.StatusMethodNotAllowed)
	if allow := res.header.Get("Allow"); allow != "POST" {
		t.Errorf("Allow = %q, want POST", allow)
	}
}

func TestSendStoreFailure(t *testing.T) {
	t.Parallel()
	const secret = "disk full at /var/secret/mail.db"
	s := startServer(t, failing{err: errors.New(secret)}, nil, nil)
	res := s.postJSON(t, "/api/v1/send", []byte(`{"From":{"Email":"a@example.test"},"To":[{"Email":"b@example.test"}]}`))
	if msg := wantError(t, res, http.StatusInternalServerError); msg != "internal error" {
		t.Errorf("Error = %q, want internal error", msg)
	}
	if !strings.Contains(s.log.String(), secret) {
		t.Errorf("store failure not logged:\n%s", s.log.String())
	}
}
