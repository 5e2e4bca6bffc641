package webui

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mailsink/store"
)

// This file is the MailHog-compatible API: API v2 list and search and the
// API v1 single-message routes, for the npm mailhog (mailhog-node) and
// cypress-mailhog clients. The wire shapes and the parsing rules are
// MailHog's (mailhog/data message.go, mailhog/storage memory.go), rebuilt
// from the stored raw bytes and envelope on every request:
//
//   - Content.Headers: keys as written; a repeated field keeps its last
//     value, except Received and Return-Path, which keep every value in
//     message order (MailHog appends its own trace fields to them; ours
//     are already in the stored message, prepended by smtpd); a folded
//     line is appended to the value without its line break (the leading
//     blank stays); RFC 2047 words stay encoded. Message-ID is added when
//     missing, as MailHog does, as "{id}@mailsink".
//   - Content.Body: everything after the first blank line, transfer
//     encoding untouched; Raw.Data and Content.Size drop the CRLF that
//     preceded the terminating "." (MailHog never stores it).
//   - MIME: only for a multipart top level; the body is split on
//     "--boundary" and every non-empty piece, trimmed of CR and LF, becomes
//     a part, so a preamble and the closing "--" are parts with empty
//     Headers. Nested multiparts get their own MIME.Parts.
//   - JSON is sent as application/json (MailHog's v2 code does too; both
//     clients parse the body whatever its type).
//
// Deliberate differences, all accepting more than MailHog: LF-only line
// ends are understood as well as CRLF; a field without a blank after its
// colon is kept (MailHog drops it); a message with an empty body keeps its
// header fields (MailHog makes it all body); Content-Type, and the From
// and To fields that search looks at, are found in any letter case, and
// "multipart/" is compared case-insensitively; MIME.Parts is [] rather
// than null when a multipart has no usable boundary (mailhog-node
// concatenates Parts and would fail on null).

// Paging of /api/v2/messages and /api/v2/search, as in MailHog.
const (
	mailhogDefaultLimit = 50
	mailhogMaxLimit     = 250
)

// mailhogMaxDepth bounds how deep nested multiparts are split; deeper
// multipart parts keep MIME null. Real mail nests three or four levels.
const mailhogMaxDepth = 32

// mailhogHost is the host part of the Message-ID added to messages that
// have none (MailHog uses its own hostname there).
const mailhogHost = "mailsink"

// mailhogRoutes registers the MailHog API. GET and DELETE /api/v1/messages
// (without an id) stay Mailpit's routes.
func (s *Server) mailhogRoutes() {
	s.api.HandleFunc("GET /api/v2/messages", s.handleMailhogMessages)
	s.api.HandleFunc("GET /api/v2/search", s.handleMailhogSearch)
	s.api.HandleFunc("GET /api/v1/messages/{id}", s.handleMailhogMessage)
	s.api.HandleFunc("DELETE /api/v1/messages/{id}", s.handleMailhogDelete)
	s.api.HandleFunc("GET /api/v1/messages/{id}/download", s.handleMailhogDownload)
	s.api.HandleFunc("GET /api/v1/messages/{id}/mime/part/{index}/download", s.handleMailhogPartDownload)
}

// mailhogResult is the reply of /api/v2/messages and /api/v2/search.
type mailhogResult struct {
	Total int              `json:"total"` // all stored, or all matches
	Count int              `json:"count"` // len(Items)
	Start int              `json:"start"`
	Items []mailhogMessage `json:"items"`
}

// mailhogMessage is MailHog's data.Message.
type mailhogMessage struct {
	ID      string         `json:"ID"`
	From    mailhogPath    `json:"From"` // envelope sender
	To      []mailhogPath  `json:"To"`   // envelope recipients
	Content mailhogContent `json:"Content"`
	Created time.Time      `json:"Created"`
	MIME    *mailhogMIME   `json:"MIME"` // null unless the top level is multipart
	Raw     mailhogRaw     `json:"Raw"`
}

// mailhogPath is an SMTP path. Relays is always null: smtpd drops source
// routes. Params is always "", as in MailHog.
type mailhogPath struct {
	Relays  []string `json:"Relays"`
	Mailbox string   `json:"Mailbox"`
	Domain  string   `json:"Domain"`
	Params  string   `json:"Params"`
}

// mailhogContent is a message or a MIME part. MIME is null for the top
// level (MailHog puts the tree in Message.MIME) and for leaf parts.
type mailhogContent struct {
	Headers map[string][]string `json:"Headers"`
	Body    string              `json:"Body"`
	Size    int                 `json:"Size"`
	MIME    *mailhogMIME        `json:"MIME"`
}

type mailhogMIME struct {
	Parts []mailhogContent `json:"Parts"`
}

// mailhogRaw is the SMTP envelope plus the DATA.
type mailhogRaw struct {
	From string   `json:"From"`
	To   []string `json:"To"`
	Data string   `json:"Data"`
	Helo string   `json:"Helo"`
}

// handleMailhogMessages: GET /api/v2/messages[?start=N][&limit=N], newest
// first.
func (s *Server) handleMailhogMessages(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	start, limit := mailhogPaging(r)
	page, err := s.msgs.List(ctx, start, limit)
	if err != nil {
		s.mailhogError(w, r, err)
		return
	}
	st, err := s.msgs.Stats(ctx)
	if err != nil {
		s.mailhogError(w, r, err)
		return
	}
	ids := make([]string, 0, len(page))
	for i := range page {
		ids = append(ids, page[i].ID)
	}
	items, err := s.mailhogMessages(ctx, ids)
	if err != nil {
		s.mailhogError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, mailhogResult{Total: st.Total, Count: len(items), Start: start, Items: items})
}

// handleMailhogSearch: GET /api/v2/search?kind=from|to|containing&query=Q.
// A bad kind or an empty query is a 400 with an empty body, as in MailHog.
func (s *Server) handleMailhogSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind, query := q.Get("kind"), q.Get("query")
	if kind != "from" && kind != "to" && kind != "containing" {
		s.mailhogError(w, r, fmt.Errorf("%w: kind must be from, to or containing", errBadRequest))
		return
	}
	if query == "" {
		s.mailhogError(w, r, fmt.Errorf("%w: query is required", errBadRequest))
		return
	}
	ctx := r.Context()
	start, limit := mailhogPaging(r)
	ids, err := s.mailhogSearch(ctx, kind, strings.ToLower(query))
	if err != nil {
		s.mailhogError(w, r, err)
		return
	}
	items, err := s.mailhogMessages(ctx, ids[min(start, len(ids)):min(start+limit, len(ids))])
	if err != nil {
		s.mailhogError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, mailhogResult{Total: len(ids), Count: len(items), Start: start, Items: items})
}

// handleMailhogMessage: GET /api/v1/messages/{id}, one message in the
// MailHog shape. Unlike Mailpit's GET, it does not mark the message read.
func (s *Server) handleMailhogMessage(w http.ResponseWriter, r *http.Request) {
	_, m, err := s.mailhogMessageOf(r)
	if err != nil {
		s.mailhogError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, m)
}

// mailhogMessageOf loads the MailHog message the {id} path value names
// ("latest" included) and returns its resolved id.
func (s *Server) mailhogMessageOf(r *http.Request) (string, mailhogMessage, error) {
	id, err := s.resolveID(r.Context(), r.PathValue("id"))
	if err != nil {
		return "", mailhogMessage{}, err
	}
	m, err := s.mailhogMessage(r.Context(), id)
	return id, m, err
}

// handleMailhogDelete: DELETE /api/v1/messages/{id}. 200 with an empty
// body (mailhog-node rejects a non-JSON body); unknown id: 404, empty.
func (s *Server) handleMailhogDelete(w http.ResponseWriter, r *http.Request) {
	id, err := s.resolveID(r.Context(), r.PathValue("id"))
	if err != nil {
		s.mailhogError(w, r, err)
		return
	}
	n, err := s.msgs.Delete(r.Context(), []string{id})
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: message %s", errNotFound, id)
	}
	if err != nil {
		s.mailhogError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusOK)
}

// handleMailhogDownload: GET /api/v1/messages/{id}/download, the stored
// message as an .eml attachment. MailHog rebuilds the source from its
// header map (in random order); we send the bytes as stored.
func (s *Server) handleMailhogDownload(w http.ResponseWriter, r *http.Request) {
	id, err := s.resolveID(r.Context(), r.PathValue("id"))
	if err != nil {
		s.mailhogError(w, r, err)
		return
	}
	raw, err := s.msgs.Raw(r.Context(), id)
	if err != nil {
		s.mailhogError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Disposition", attachmentDisposition(id+".eml"))
	h.Set("Content-Security-Policy", viewCSP)
	writeBytes(w, "message/rfc822", raw)
}

// handleMailhogPartDownload: GET /api/v1/messages/{id}/mime/part/{index}/download,
// part {index} (0-based) of the top-level MIME.Parts as an attachment.
//
// MailHog copies every header of the part into the response and decodes
// base64 only. We send only a sanitised Content-Type and an attachment
// Content-Disposition (the part's file name, else "{id}-part-{index}" as
// MailHog names it), and decode quoted-printable too; a body that fails
// to decode is sent as it is.
func (s *Server) handleMailhogPartDownload(w http.ResponseWriter, r *http.Request) {
	id, m, err := s.mailhogMessageOf(r)
	if err != nil {
		s.mailhogError(w, r, err)
		return
	}
	index := r.PathValue("index")
	n, err := strconv.Atoi(index)
	if err != nil || n < 0 || m.MIME == nil || n >= len(m.MIME.Parts) {
		s.mailhogError(w, r, fmt.Errorf("%w: message %s has no MIME part %q", errNotFound, id, index))
		return
	}
	p := m.MIME.Parts[n]
	name := partFileName(p.Headers)
	if name == "" {
		name = id + "-part-" + strconv.Itoa(n)
	}
	h := w.Header()
	ct := setPartHeaders(h, r, partMediaType(p.Headers), name)
	h.Set("Content-Disposition", attachmentDisposition(name)) // always, as MailHog
	writeBytes(w, ct, decodeTransfer(p.Body, headerValue(p.Headers, "Content-Transfer-Encoding")))
}

// mailhogError maps err like writeError, except that 400 and 404 have an
// empty body, as MailHog's replies do.
func (s *Server) mailhogError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errBadRequest):
		writeEmpty(w, http.StatusBadRequest)
	case errors.Is(err, errNotFound), errors.Is(err, store.ErrNotFound):
		writeEmpty(w, http.StatusNotFound)
	default:
		s.writeError(w, r, err)
	}
}

// writeEmpty writes status with an empty body and MailHog's text/json type.
func writeEmpty(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "text/json")
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
}

// mailhogPaging reads start (default 0) and limit (default 50, at most
// 250) leniently, as MailHog does: anything but a positive integer means
// the default.
func mailhogPaging(r *http.Request) (start, limit int) {
	q := r.URL.Query()
	if n, err := strconv.Atoi(q.Get("start")); err == nil && n > 0 {
		start = n
	}
	limit = mailhogDefaultLimit
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		limit = min(n, mailhogMaxLimit)
	}
	return start, limit
}

// mailhogMessages builds the messages ids in order, skipping any deleted
// since the ids were read.
func (s *Server) mailhogMessages(ctx context.Context, ids []string) ([]mailhogMessage, error) {
	out := make([]mailhogMessage, 0, len(ids))
	for _, id := range ids {
		m, err := s.mailhogMessage(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// mailhogMessage builds message id from its stored envelope and raw bytes.
func (s *Server) mailhogMessage(ctx context.Context, id string) (mailhogMessage, error) {
	m, err := s.msgs.Get(ctx, id)
	if err != nil {
		return mailhogMessage{}, fmt.Errorf("mailhog message: %w", err)
	}
	raw, err := s.msgs.Raw(ctx, id)
	if err != nil {
		return mailhogMessage{}, fmt.Errorf("mailhog message: %w", err)
	}
	return toMailhogMessage(m, raw), nil
}

// mailhogSearch returns the IDs of the messages matching a MailHog search,
// newest first; query is lower-cased. Matching is a case-insensitive
// substring test, as in MailHog:
//
//   - from: the envelope sender (mailbox@domain) or a From header value;
//   - to: an envelope recipient or a To header value;
//   - containing: the raw, still transfer-encoded body or any header value.
//
// The full-text index cannot narrow this down safely (it matches token
// prefixes of decoded text, not substrings of raw values: "xample" or
// "=C3=BC" would be missed), so every message is read: the cost is one raw
// read per stored message per search, plus an envelope read for "to".
func (s *Server) mailhogSearch(ctx context.Context, kind, query string) ([]string, error) {
	all, err := s.msgs.List(ctx, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("mailhog search: %w", err)
	}
	ids := []string{}
	for i := range all {
		ok, err := s.mailhogMatch(ctx, &all[i], kind, query)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("mailhog search: %w", err)
		}
		if ok {
			ids = append(ids, all[i].ID)
		}
	}
	return ids, nil
}

// mailhogMatch reports whether the message sum matches a search.
func (s *Server) mailhogMatch(ctx context.Context, sum *store.Summary, kind, query string) (bool, error) {
	raw, err := s.msgs.Raw(ctx, sum.ID)
	if err != nil {
		return false, err
	}
	c := mailhogTopContent(sum.ID, sum.ReturnPath, string(raw))
	has := func(s string) bool { return strings.Contains(strings.ToLower(s), query) }
	switch kind {
	case "from":
		return has(toMailhogPath(sum.ReturnPath).String()) || anyHeader(c.Headers, "From", has), nil
	case "to":
		if anyHeader(c.Headers, "To", has) {
			return true, nil
		}
		m, err := s.msgs.Get(ctx, sum.ID)
		if err != nil {
			return false, err
		}
		for _, rc := range m.Envelope.Rcpts {
			if has(toMailhogPath(rc.Address).String()) {
				return true, nil
			}
		}
		return false, nil
	default: // containing
		return has(c.Body) || anyHeader(c.Headers, "", has), nil
	}
}

// anyHeader reports whether match holds for a value of a header named
// name (any case; "" = every header).
func anyHeader(h map[string][]string, name string, match func(string) bool) bool {
	for k, vs := range h {
		if name != "" && !strings.EqualFold(k, name) {
			continue
		}
		for _, v := range vs {
			if match(v) {
				return true
			}
		}
	}
	return false
}

// toMailhogMessage builds the MailHog view of a stored message.
func toMailhogMessage(m *store.Message, raw []byte) mailhogMessage {
	env := m.Envelope
	full := string(raw)
	c := mailhogTopContent(m.ID, env.MailFrom, full)
	out := mailhogMessage{
		ID:      m.ID,
		From:    toMailhogPath(env.MailFrom),
		To:      make([]mailhogPath, 0, len(env.Rcpts)),
		Content: c,
		Created: m.Created.Local(),
		Raw: mailhogRaw{
			From: env.MailFrom,
			To:   make([]string, 0, len(env.Rcpts)),
			Data: mailhogData(full),
			Helo: env.Helo,
		},
	}
	for _, rc := range env.Rcpts {
		out.To = append(out.To, toMailhogPath(rc.Address))
		out.Raw.To = append(out.Raw.To, rc.Address)
	}
	if isMultipart(c.Headers) {
		out.MIME = parseMailhogMIME(&c, 1)
	}
	return out
}

// mailhogData is MailHog's Raw.Data: the stored message without the CRLF
// that ended its last line before the terminating ".".
func mailhogData(raw string) string {
	return strings.TrimSuffix(raw, "\r\n")
}

// mailhogTopContent parses the stored message raw into MailHog's top-level
// Content and adds the headers MailHog adds: Message-ID when there is none
// and Return-Path from the envelope when there is none (smtpd already
// prepends Return-Path and Received, so those are usually there).
//
// The header block is cut from raw itself, and the final CRLF then taken
// off the body: the same result as MailHog's cut of Raw.Data, except that
// a message with an empty body ("…\r\n\r\n") keeps its header fields
// (MailHog, finding no blank line in Raw.Data, makes it all body).
func mailhogTopContent(id, mailFrom, raw string) mailhogContent {
	c := parseMailhogContent(raw, true)
	c.Body = mailhogData(c.Body)
	c.Size = len(mailhogData(raw))
	if !hasHeader(c.Headers, "Message-ID") {
		c.Headers["Message-ID"] = []string{id + "@" + mailhogHost}
	}
	if !hasHeader(c.Headers, "Return-Path") {
		c.Headers["Return-Path"] = []string{"<" + mailFrom + ">"}
	}
	return c
}

// parseMailhogContent splits data into header fields and body like
// MailHog's data.ContentFromString: without a blank line, everything is
// body. Size is len(data). top selects the top-level rule that Received
// and Return-Path keep every value.
func parseMailhogContent(data string, top bool) mailhogContent {
	c := mailhogContent{Headers: map[string][]string{}, Size: len(data), Body: data}
	head, body, ok := cutHeader(data)
	if !ok {
		return c
	}
	c.Body = body
	last := ""
	for line := range strings.SplitSeq(head, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if last != "" && line != "" && (line[0] == ' ' || line[0] == '\t') {
			vs := c.Headers[last]
			vs[len(vs)-1] += line
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimRight(name, " \t")
		if !ok || !isFieldName(name) {
			continue // not a header field; MailHog logs and drops it
		}
		value = strings.TrimPrefix(strings.TrimPrefix(value, " "), "\t")
		if top && (strings.EqualFold(name, "Received") || strings.EqualFold(name, "Return-Path")) {
			c.Headers[name] = append(c.Headers[name], value)
		} else {
			c.Headers[name] = []string{value}
		}
		last = name
	}
	return c
}

// cutHeader splits data at the first blank line (CRLF CRLF, or LF LF for
// LF-only mail).
func cutHeader(data string) (head, body string, ok bool) {
	i, n := strings.Index(data, "\r\n\r\n"), 4
	if j := strings.Index(data, "\n\n"); j >= 0 && (i < 0 || j < i) {
		i, n = j, 2
	}
	if i < 0 {
		return "", "", false
	}
	return data[:i], data[i+n:], true
}

// isFieldName reports whether s is an RFC 5322 field name: printable
// US-ASCII except the colon.
func isFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// parseMailhogMIME splits the body of multipart content c into parts the
// way MailHog's ParseMIMEBody does. depth counts the multipart levels.
func parseMailhogMIME(c *mailhogContent, depth int) *mailhogMIME {
	out := &mailhogMIME{Parts: []mailhogContent{}}
	boundary := ""
	if _, params, err := mime.ParseMediaType(headerValue(c.Headers, "Content-Type")); err == nil {
		boundary = params["boundary"]
	}
	if boundary == "" {
		return out
	}
	for piece := range strings.SplitSeq(c.Body, "--"+boundary) {
		if piece == "" {
			continue
		}
		p := parseMailhogContent(strings.Trim(piece, "\r\n"), false)
		if depth < mailhogMaxDepth && isMultipart(p.Headers) {
			p.MIME = parseMailhogMIME(&p, depth+1)
		}
		out.Parts = append(out.Parts, p)
	}
	return out
}

// isMultipart reports whether the Content-Type is multipart/*.
func isMultipart(h map[string][]string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(headerValue(h, "Content-Type"))), "multipart/")
}

// headerValue returns the first value of the field name: the exact
// spelling if present, else any spelling.
func headerValue(h map[string][]string, name string) string {
	if vs := h[name]; len(vs) > 0 {
		return vs[0]
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

func hasHeader(h map[string][]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// toMailhogPath splits an envelope address like MailHog's PathFromString.
// The null path "" gives an empty Mailbox and Domain.
func toMailhogPath(addr string) mailhogPath {
	p := mailhogPath{Mailbox: addr}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		p.Mailbox, p.Domain = addr[:i], addr[i+1:]
	}
	return p
}

// String is the address MailHog's search compares: Mailbox@Domain.
func (p mailhogPath) String() string { return p.Mailbox + "@" + p.Domain }

// partMediaType is the part's Content-Type, re-formatted so that only a
// well-formed type reaches the response; RFC 2045's default when absent.
func partMediaType(h map[string][]string) string {
	v := headerValue(h, "Content-Type")
	if strings.TrimSpace(v) == "" {
		return "text/plain; charset=us-ascii"
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return "application/octet-stream"
	}
	if ct := mime.FormatMediaType(mt, params); ct != "" {
		return ct
	}
	if ct := mime.FormatMediaType(mt, nil); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

// partFileName is the file name a part declares (Content-Disposition
// filename, else Content-Type name), RFC 2231/2047 decoded, without any
// directory; "" when there is none.
func partFileName(h map[string][]string) string {
	name := ""
	if _, params, err := mime.ParseMediaType(headerValue(h, "Content-Disposition")); err == nil {
		name = params["filename"]
	}
	if name == "" {
		if _, params, err := mime.ParseMediaType(headerValue(h, "Content-Type")); err == nil {
			name = params["name"]
		}
	}
	if dec, err := new(mime.WordDecoder).DecodeHeader(name); err == nil {
		name = dec
	}
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// attachmentDisposition is contentDisposition with "attachment".
func attachmentDisposition(name string) string {
	return "attachment" + strings.TrimPrefix(contentDisposition(name), "inline")
}

// decodeTransfer removes a base64 or quoted-printable transfer encoding;
// other encodings, and bodies that do not decode, are returned unchanged.
func decodeTransfer(body, encoding string) []byte {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "base64":
		compact := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, body)
		if b, err := base64.StdEncoding.DecodeString(compact); err == nil {
			return b
		}
		if b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(compact, "=")); err == nil {
			return b
		}
	case "quoted-printable":
		if b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body))); err == nil {
			return b
		}
	}
	return []byte(body)
}
