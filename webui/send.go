package webui

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/textproto"
	"path/filepath"
	"strings"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"mailsink/store"
)

// maxSendBodyBytes bounds the body of POST /api/v1/send. Attachments come
// base64-encoded inside the JSON, so it is far above maxBodyBytes.
const maxSendBodyBytes = 32 << 20

// sendRoutes registers Mailpit's send endpoint and the part thumbnails.
func (s *Server) sendRoutes() {
	s.api.HandleFunc("POST /api/v1/send", s.handleSend)
	s.api.HandleFunc("GET /api/v1/message/{id}/part/{part}/thumb", s.handleThumb)
}

// sendRequest is Mailpit's SendRequest. Every field but From and one
// recipient is optional; cypress-mailpit sends every key with [] / {}
// defaults.
type sendRequest struct {
	From        sendAddress       `json:"From"`
	To          []sendAddress     `json:"To"`
	Cc          []sendAddress     `json:"Cc"`
	Bcc         []string          `json:"Bcc"`
	ReplyTo     []sendAddress     `json:"ReplyTo"`
	Subject     string            `json:"Subject"`
	Text        string            `json:"Text"`
	HTML        string            `json:"HTML"`
	Tags        []string          `json:"Tags"`
	Headers     map[string]string `json:"Headers"`
	Attachments []sendAttachment  `json:"Attachments"`
}

type sendAddress struct {
	Email string `json:"Email"`
	Name  string `json:"Name"`
}

// sendAttachment is one attachment; a ContentID makes it an inline part
// (for cid: references in the HTML).
type sendAttachment struct {
	Filename    string `json:"Filename"`
	Content     string `json:"Content"` // base64
	ContentType string `json:"ContentType"`
	ContentID   string `json:"ContentID"`
}

// sendReply is Mailpit's SendMessageConfirmation.
type sendReply struct {
	ID string `json:"ID"`
}

// reservedHeader reports why a custom header named canon (canonical form)
// would conflict with what the request's own fields or the MIME encoder
// set. Content-* headers are checked by prefix.
func reservedHeader(canon string) (why string, reserved bool) {
	switch canon {
	case "From", "To", "Cc", "Bcc", "Subject":
		return "use the request field " + canon, true
	case "Reply-To":
		return "use the request field ReplyTo", true
	case "Mime-Version":
		return "it is set by the server", true
	}
	if strings.HasPrefix(canon, "Content-") {
		return "the MIME structure is built by the server", true
	}
	return "", false
}

// handleSend: POST /api/v1/send builds a message from a SendRequest and
// stores it as if it had been received. Bcc recipients go to the envelope
// only, never into the headers.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	if err := decodeSendRequest(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	now := time.Now()
	raw, env, err := buildSendMessage(&req, now)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	env.ReceivedAt = now
	env.RemoteAddr = r.RemoteAddr
	env.Protocol = "HTTP"
	env.Source = "api"
	sum, err := s.msgs.Insert(r.Context(), "", env, raw)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("store sent message: %w", err))
		return
	}
	s.log.InfoContext(r.Context(), "message sent via api", "id", sum.ID, "size", len(raw), "rcpts", len(env.Rcpts))
	s.writeJSON(w, r, http.StatusOK, sendReply{ID: sum.ID})
}

// decodeSendRequest reads the required JSON body, at most maxSendBodyBytes
// (beyond that: an *http.MaxBytesError, hence 413).
func decodeSendRequest(w http.ResponseWriter, r *http.Request, req *sendRequest) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSendBodyBytes))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("%w: request body is required", errBadRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(req); err != nil {
		return fmt.Errorf("%w: malformed JSON body: %v", errBadRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: malformed JSON body: trailing data", errBadRequest)
	}
	return nil
}

// buildSendMessage validates req and encodes it as an RFC 5322 message
// with CRLF line ends. The envelope carries the sender and every
// recipient, Bcc included. Validation failures wrap errBadRequest.
func buildSendMessage(req *sendRequest, now time.Time) ([]byte, store.Envelope, error) {
	var env store.Envelope
	from, err := parseSendAddress("From", req.From)
	if err != nil {
		return nil, env, err
	}
	to, err := parseSendAddresses("To", req.To)
	if err != nil {
		return nil, env, err
	}
	cc, err := parseSendAddresses("Cc", req.Cc)
	if err != nil {
		return nil, env, err
	}
	replyTo, err := parseSendAddresses("ReplyTo", req.ReplyTo)
	if err != nil {
		return nil, env, err
	}
	bcc := make([]mail.Address, 0, len(req.Bcc))
	for i, e := range req.Bcc {
		a, err := parseSendAddress(fmt.Sprintf("Bcc[%d]", i), sendAddress{Email: e})
		if err != nil {
			return nil, env, err
		}
		bcc = append(bcc, a)
	}
	if len(to)+len(cc)+len(bcc) == 0 {
		return nil, env, fmt.Errorf("%w: at least one To, Cc or Bcc recipient is required", errBadRequest)
	}
	tags, err := sendTags(req.Tags)
	if err != nil {
		return nil, env, err
	}

	b := enmime.Builder().
		From(from.Name, from.Address).
		ToAddrs(to).
		CCAddrs(cc).
		BCCAddrs(bcc). // for Build's recipient check; the builder never writes Bcc headers
		ReplyToAddrs(replyTo).
		Subject(req.Subject).
		Date(now)
	if req.Text != "" {
		b = b.Text([]byte(crlfLines(req.Text)))
	}
	if req.HTML != "" {
		b = b.HTML([]byte(crlfLines(req.HTML)))
	}
	b, err = addSendHeaders(b, req.Headers, len(tags) > 0)
	if err != nil {
		return nil, env, err
	}
	if len(tags) > 0 {
		b = b.Header("X-Tags", strings.Join(tags, ", "))
	}
	b, params, err := addSendAttachments(b, req.Attachments)
	if err != nil {
		return nil, env, err
	}

	root, err := b.Build()
	if err != nil {
		return nil, env, fmt.Errorf("build message: %w", err)
	}
	finishParts(root, params)
	var buf bytes.Buffer
	if err := root.Encode(&buf); err != nil {
		return nil, env, fmt.Errorf("encode message: %w", err)
	}

	env.MailFrom = from.Address
	seen := map[string]bool{}
	for _, list := range [][]mail.Address{to, cc, bcc} {
		for _, a := range list {
			if k := strings.ToLower(a.Address); !seen[k] {
				seen[k] = true
				env.Rcpts = append(env.Rcpts, store.Recipient{Address: a.Address})
			}
		}
	}
	return buf.Bytes(), env, nil
}

// parseSendAddress checks that a.Email is a bare, valid address (the
// display name belongs in a.Name).
func parseSendAddress(field string, a sendAddress) (mail.Address, error) {
	email := strings.TrimSpace(a.Email)
	if email == "" {
		return mail.Address{}, fmt.Errorf("%w: %s: Email is required", errBadRequest, field)
	}
	p, err := mail.ParseAddress(email)
	if err != nil {
		return mail.Address{}, fmt.Errorf("%w: %s: invalid email address %q: %v", errBadRequest, field, email, err)
	}
	if p.Name != "" || p.Address != email {
		return mail.Address{}, fmt.Errorf("%w: %s: Email must be a bare address, got %q (put the display name in Name)", errBadRequest, field, email)
	}
	return mail.Address{Name: strings.TrimSpace(a.Name), Address: p.Address}, nil
}

func parseSendAddresses(field string, list []sendAddress) ([]mail.Address, error) {
	out := make([]mail.Address, 0, len(list))
	for i, a := range list {
		p, err := parseSendAddress(fmt.Sprintf("%s[%d]", field, i), a)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// sendTags trims the tags and drops empty ones. A tag may not contain a
// comma (X-Tags is a comma-separated list) or control characters.
func sendTags(tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if strings.ContainsRune(t, ',') || hasControl(t) {
			return nil, fmt.Errorf("%w: Tags: invalid tag %q (no commas or control characters)", errBadRequest, t)
		}
		out = append(out, t)
	}
	return out, nil
}

// addSendHeaders adds the custom headers. Names must be RFC 5322 field
// names and not ones the request's own fields or the MIME structure set;
// values may not contain line breaks. Date and Message-ID replace the
// defaults (Date must parse).
func addSendHeaders(b enmime.MailBuilder, headers map[string]string, haveTags bool) (enmime.MailBuilder, error) {
	haveMessageID := false
	for name, value := range headers {
		if !validFieldName(name) {
			return b, fmt.Errorf("%w: Headers: invalid header name %q", errBadRequest, name)
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if why, ok := reservedHeader(canon); ok {
			return b, fmt.Errorf("%w: Headers: %s cannot be set as a custom header: %s", errBadRequest, name, why)
		}
		if canon == "X-Tags" && haveTags {
			return b, fmt.Errorf("%w: Headers: X-Tags conflicts with Tags", errBadRequest)
		}
		if hasControl(value) {
			return b, fmt.Errorf("%w: Headers: value of %s contains control characters", errBadRequest, name)
		}
		switch canon {
		case "Date":
			d, err := mail.ParseDate(value)
			if err != nil {
				return b, fmt.Errorf("%w: Headers: invalid Date %q: %v", errBadRequest, value, err)
			}
			b = b.Date(d)
			continue
		case "Message-Id":
			haveMessageID = true
		}
		b = b.Header(name, value)
	}
	if !haveMessageID {
		b = b.Header("Message-ID", "<"+rand.Text()+"@mailsink>")
	}
	return b, nil
}

// attachmentParams are the Content-Type parameters (charset …) of one
// attachment or inline part, which the builder cannot take.
type attachmentParams struct {
	charset string
	params  map[string]string
}

// addSendAttachments decodes and adds the attachments: those with a
// ContentID as inline parts, the rest as attachments. The params are in
// the order the built tree holds the parts: inlines first.
func addSendAttachments(b enmime.MailBuilder, atts []sendAttachment) (enmime.MailBuilder, []attachmentParams, error) {
	var inline, attached []attachmentParams
	for i, a := range atts {
		field := fmt.Sprintf("Attachments[%d]", i)
		name := strings.TrimSpace(a.Filename)
		if name == "" {
			return b, nil, fmt.Errorf("%w: %s: Filename is required", errBadRequest, field)
		}
		if hasControl(name) {
			return b, nil, fmt.Errorf("%w: %s: Filename contains control characters", errBadRequest, field)
		}
		content, err := base64.StdEncoding.DecodeString(a.Content)
		if err != nil {
			return b, nil, fmt.Errorf("%w: %s: Content is not valid base64: %v", errBadRequest, field, err)
		}
		ct := strings.TrimSpace(a.ContentType)
		if ct == "" {
			ct = mime.TypeByExtension(filepath.Ext(name))
		}
		if ct == "" {
			ct = http.DetectContentType(content)
		}
		mediaType, params, err := mime.ParseMediaType(ct)
		if err != nil || !strings.Contains(mediaType, "/") || strings.HasPrefix(mediaType, "multipart/") {
			return b, nil, fmt.Errorf("%w: %s: invalid ContentType %q", errBadRequest, field, ct)
		}
		ap := attachmentParams{charset: params["charset"], params: params}
		delete(params, "charset")
		delete(params, "name")
		cid := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(a.ContentID), "<"), ">")
		if hasControl(cid) {
			return b, nil, fmt.Errorf("%w: %s: ContentID contains control characters", errBadRequest, field)
		}
		if cid != "" {
			b = b.AddInline(content, mediaType, name, cid)
			inline = append(inline, ap)
		} else {
			b = b.AddAttachment(content, mediaType, name)
			attached = append(attached, ap)
		}
	}
	return b, append(inline, attached...), nil
}

// maxSendLine is RFC 5322's limit on a line, CRLF excluded.
const maxSendLine = 998

// finishParts adjusts the built tree before encoding. Attachment and
// inline parts get their Content-Type parameters and are always written as
// base64, even text, so that they decode to exactly the bytes sent
// (quoted-printable would turn LF into CRLF). The builder puts the inline
// parts before the attachments, each in request order, and these are the
// only parts with a disposition. A body part with a line too long for
// 7bit is forced to quoted-printable (for header values that only means
// non-ASCII ones are Q- rather than B-encoded).
func finishParts(root *enmime.Part, params []attachmentParams) {
	i := 0
	root.DepthMatchAll(func(p *enmime.Part) bool {
		switch {
		case p.Disposition != "":
			if i < len(params) {
				p.Charset = params[i].charset
				p.ContentTypeParams = params[i].params
			}
			i++
			if len(p.Content) > 0 {
				p.ContentReader = bytes.NewReader(p.Content)
			}
		case p.FirstChild == nil && hasLongLine(p.Content):
			p.WithEncoder(enmime.NewEncoder(enmime.ForceQuotedPrintableCte(true)))
		}
		return false
	})
}

// hasLongLine reports whether b has a line longer than maxSendLine.
func hasLongLine(b []byte) bool {
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte("\n"))
		if len(bytes.TrimSuffix(line, []byte("\r"))) > maxSendLine {
			return true
		}
		b = rest
	}
	return false
}

// crlfLines normalises the line ends of a body to CRLF, as RFC 5322 requires
// (bodies without a transfer encoding are written as they are).
func crlfLines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// validFieldName reports whether name is an RFC 5322 field name: printable
// US-ASCII except colon.
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

// hasControl reports whether s contains a control character other than tab.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return (r < ' ' && r != '\t') || r == 0x7f
	})
}
