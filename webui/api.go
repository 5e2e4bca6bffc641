package webui

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mailsink/store"
)

// Paging defaults of the list and search endpoints (Mailpit's default
// limit is 50; we cap what one request may ask for).
const (
	defaultLimit = 50
	maxLimit     = 1000
)

// viewCSP is the Content-Security-Policy of /view/{id}.html and of part
// downloads: no scripts, no network except our own parts and data: images,
// no form submission. sandbox gives the document an opaque origin even
// when it is opened outside the UI's sandboxed iframe (a link, a new tab),
// so email HTML never runs as our origin; only the UI may frame it.
const viewCSP = "default-src 'none'; img-src data: cid: 'self'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'self'; sandbox"

// handleInfo: GET /api/v1/info.
func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	st, err := s.msgs.Stats(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	tags := st.Tags
	if tags == nil {
		tags = map[string]int{}
	}
	s.writeJSON(w, r, http.StatusOK, appInformation{
		Version:       s.cfg.Version,
		LatestVersion: s.cfg.Version,
		Database:      s.cfg.Database,
		DatabaseSize:  st.DBSize,
		Messages:      st.Total,
		Unread:        st.Unread,
		Tags:          tags,
		RuntimeStats: runtimeStats{
			Uptime: int64(time.Since(s.cfg.Started) / time.Second),
			Memory: mem.Sys - mem.HeapReleased,
		},
	})
}

// handleWebUI: GET /api/v1/webui, Mailpit's UI configuration.
func (s *Server) handleWebUI(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, webUIConfig{
		Label: s.cfg.Label,
		// As in Mailpit: the chaos API can be used. Ours always can; whether
		// anything fires is GET /api/v1/chaos's Active.
		ChaosEnabled: s.cfg.Chaos != nil,
	})
}

// handleListMessages: GET /api/v1/messages?start=N&limit=N, newest first.
func (s *Server) handleListMessages(w http.ResponseWriter, r *http.Request) {
	f, err := filterParams(r, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeFind(w, r, f)
}

// handleSearch: GET /api/v1/search?query=Q&start=N&limit=N&tz=Zone, in
// Mailpit's search syntax (plus inbox:NAME); a query that does not parse
// is a 400 naming the position.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	f, err := filterParams(r, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeFind(w, r, f)
}

// writeFind answers with one page of f's matches.
func (s *Server) writeFind(w http.ResponseWriter, r *http.Request, f store.Filter) {
	page, err := s.msgs.Find(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writePage(w, r, http.StatusOK, f.Start, page)
}

// writePage writes page in Mailpit's list shape plus our cursor.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, status, start int, page store.Page) {
	st, err := s.msgs.Stats(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, status, toMessagesSummary(st, start, page))
}

// filterParams reads query (required when search is set), start, limit,
// after (a cursor) and tz.
func filterParams(r *http.Request, search bool) (store.Filter, error) {
	var f store.Filter
	var err error
	if f.Start, f.Limit, err = paging(r); err != nil {
		return f, err
	}
	q := r.URL.Query()
	if search {
		if f.Query, err = searchQuery(r); err != nil {
			return f, err
		}
	}
	if v := q.Get("after"); v != "" {
		if f.AfterSeq, err = strconv.ParseInt(v, 10, 64); err != nil || f.AfterSeq < 0 {
			return f, fmt.Errorf("%w: after %q is not a cursor", errBadRequest, v)
		}
	}
	f.TZ, err = timeZone(q.Get("tz"))
	return f, err
}

// timeZone loads the tz parameter; "" is UTC.
func timeZone(name string) (*time.Location, error) {
	if name == "" {
		return nil, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%w: unknown time zone %q", errBadRequest, name)
	}
	return loc, nil
}

// handleDeleteSearch: DELETE /api/v1/search?query=Q deletes every match.
func (s *Server) handleDeleteSearch(w http.ResponseWriter, r *http.Request) {
	query, err := searchQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tz, err := timeZone(r.URL.Query().Get("tz"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ids, err := s.msgs.FindIDs(r.Context(), store.Filter{Query: query, TZ: tz})
	if err == nil && len(ids) > 0 {
		_, err = s.msgs.Delete(r.Context(), ids)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// setReadRequest is the body of PUT /api/v1/messages.
type setReadRequest struct {
	IDs    []string `json:"IDs"`
	Read   bool     `json:"Read"`
	Search string   `json:"Search"`
}

// handleSetRead: PUT /api/v1/messages marks messages read or unread: those
// matching Search if given, else IDs, else all.
func (s *Server) handleSetRead(w http.ResponseWriter, r *http.Request) {
	var req setReadRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ids := req.IDs
	if q := strings.TrimSpace(req.Search); q != "" {
		tz, err := timeZone(r.URL.Query().Get("tz"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		matches, err := s.msgs.FindIDs(r.Context(), store.Filter{Query: q, TZ: tz})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if len(matches) == 0 {
			writeOK(w) // nothing matched; SetRead(nil) would mean all
			return
		}
		ids = matches
	}
	if err := s.msgs.SetRead(r.Context(), ids, req.Read); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// deleteRequest is the optional body of DELETE /api/v1/messages.
type deleteRequest struct {
	IDs []string `json:"IDs"`
}

// handleDeleteMessages: DELETE /api/v1/messages deletes IDs, or all
// messages when the body is absent or names no IDs.
func (s *Server) handleDeleteMessages(w http.ResponseWriter, r *http.Request) {
	var req deleteRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	var err error
	if len(req.IDs) == 0 {
		err = s.msgs.DeleteAll(r.Context())
	} else {
		_, err = s.msgs.Delete(r.Context(), req.IDs)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// This path is also MailHog's "delete all". MailHog's node client sends
	// no Accept header and rejects any non-empty body that is not JSON, so
	// it gets MailHog's empty 200; everyone else gets Mailpit's "ok" (its
	// clients read it as text and ignore it).
	if r.Header.Get("Accept") == "" {
		w.WriteHeader(http.StatusOK)
		return
	}
	writeOK(w)
}

// handleGetMessage: GET /api/v1/message/{id}. Like Mailpit, fetching a
// message marks it read; the reply shows it read.
func (s *Server) handleGetMessage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if q := strings.TrimSpace(r.URL.Query().Get("query")); q != "" && id == "latest" {
		// latest?query=…: the newest message matching a search.
		page, err := s.msgs.Find(ctx, store.Filter{Query: q, Limit: 1})
		if err == nil && len(page.Messages) == 0 {
			err = fmt.Errorf("no message matches %q: %w", q, store.ErrNotFound)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		id = page.Messages[0].ID
	}
	m, err := s.getMessage(ctx, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// One parse for all parts, not one per part.
	parts := slices.Concat(m.Inline, m.Attached)
	partIDs := make([]string, len(parts))
	for i, p := range parts {
		partIDs[i] = p.ID
	}
	contents, err := s.msgs.PartContents(ctx, m.ID, partIDs)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("checksum parts of %s: %w", m.ID, err))
		return
	}
	sums := make(map[string]checksums, len(parts))
	for _, p := range parts {
		content, ok := contents[p.ID]
		if !ok {
			s.writeError(w, r, fmt.Errorf("checksum part %s of %s: %w", p.ID, m.ID, store.ErrNotFound))
			return
		}
		sums[p.ID] = checksumsOf(content)
	}
	if !m.Read {
		// Marking read is a side effect; a store that cannot write (disk
		// full, locked) must not stop anyone reading what it holds.
		markCtx, cancel := context.WithTimeout(ctx, markReadTimeout)
		err := s.msgs.SetRead(markCtx, []string{m.ID}, true)
		cancel()
		if err != nil {
			s.log.WarnContext(ctx, "mark read failed; serving the message unread", "id", m.ID, "err", err)
		} else {
			m.Read = true
		}
	}
	s.writeJSON(w, r, http.StatusOK, toMessage(m, sums))
}

// markReadTimeout bounds the mark-read a GET of a message does, so a
// locked database delays the reply by at most this much.
const markReadTimeout = time.Second

// handleTranscript: GET /api/v1/message/{id}/transcript, the SMTP session
// that delivered the message (contents and credentials elided).
func (s *Server) handleTranscript(w http.ResponseWriter, r *http.Request) {
	m, err := s.getMessage(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, nonNil(m.Envelope.Transcript))
}

// handleReceived: GET /api/v1/message/{id}/received, the Received chain as
// hops, oldest first, with the delay between them.
func (s *Server) handleReceived(w http.ResponseWriter, r *http.Request) {
	m, err := s.getMessage(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, store.ReceivedChain(m.Headers))
}

// handleRaw: GET /api/v1/message/{id}/raw, the stored bytes as they are.
func (s *Server) handleRaw(w http.ResponseWriter, r *http.Request) {
	id, err := s.resolveID(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	raw, err := s.msgs.Raw(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeBytes(w, "text/plain; charset=utf-8", raw)
}

// handleHeaders: GET /api/v1/message/{id}/headers.
func (s *Server) handleHeaders(w http.ResponseWriter, r *http.Request) {
	m, err := s.getMessage(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, toHeaderMap(m.Headers))
}

// handlePart: GET /api/v1/message/{id}/part/{part}, the decoded content,
// under the type and disposition partResponse allows (never as a page of
// our origin).
func (s *Server) handlePart(w http.ResponseWriter, r *http.Request) {
	id, err := s.resolveID(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, content, err := s.msgs.Part(r.Context(), id, r.PathValue("part"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeBytes(w, setPartHeaders(w.Header(), r, partContentType(p, content), p.FileName), content)
}

// handleView: GET /view/{id}.html and /view/{id}.txt, the message bodies
// for the preview iframe. cid: references in the HTML point to our part
// URLs; the CSP forbids scripts and remote content (?remote=1 allows
// remote images and CSS, nothing else).
func (s *Server) handleView(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	dot := strings.LastIndexByte(file, '.')
	id, ext := file[:max(dot, 0)], file[dot+1:]
	if dot <= 0 || (ext != "html" && ext != "txt") {
		s.writeError(w, r, fmt.Errorf("%w: want /view/{id}.html or /view/{id}.txt", errNotFound))
		return
	}
	m, err := s.getMessage(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ext == "txt" {
		if m.Text == "" {
			s.writeError(w, r, fmt.Errorf("%w: message has no text body", errNotFound))
			return
		}
		writeBytes(w, "text/plain; charset=utf-8", []byte(m.Text))
		return
	}
	if m.HTML == "" {
		s.writeError(w, r, fmt.Errorf("%w: message has no HTML body", errNotFound))
		return
	}
	csp := viewCSP
	if r.URL.Query().Get("remote") == "1" {
		// The user asked for remote images and CSS: relax exactly img-src
		// and style-src. default-src 'none' and the iframe's sandbox still
		// rule out scripts, frames, fonts and connections.
		csp = strings.NewReplacer(
			"img-src data: cid: 'self';", "img-src data: cid: 'self' http: https:;",
			"style-src 'unsafe-inline';", "style-src 'unsafe-inline' http: https:;",
		).Replace(viewCSP)
	}
	w.Header().Set("Content-Security-Policy", csp)
	writeBytes(w, "text/html; charset=utf-8", []byte(rewriteCIDs(m.HTML, m, s.cfg.Root)))
}

// handleLive: GET /livez, the process is up.
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, statusBody{"ok"})
}

// handleReady: GET /readyz, the store answers.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if err := s.msgs.Ping(r.Context()); err != nil {
		s.writeError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, statusBody{"ok"})
}

// resolveID maps the alias "latest" to the newest message's ID.
func (s *Server) resolveID(ctx context.Context, id string) (string, error) {
	if id != "latest" {
		return id, nil
	}
	latest, err := s.msgs.LatestID(ctx)
	if err != nil {
		return "", fmt.Errorf("resolve latest: %w", err)
	}
	return latest, nil
}

// getMessage is Get after resolving "latest".
func (s *Server) getMessage(ctx context.Context, id string) (*store.Message, error) {
	id, err := s.resolveID(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := s.msgs.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get message: %w", err)
	}
	return m, nil
}

// paging reads start (default 0) and limit (default 50, at most maxLimit;
// 0 means the default) from the query string.
func paging(r *http.Request) (start, limit int, err error) {
	q := r.URL.Query()
	start, err = queryInt(q, "start", 0)
	if err != nil {
		return 0, 0, err
	}
	limit, err = queryInt(q, "limit", defaultLimit)
	if err != nil {
		return 0, 0, err
	}
	if limit == 0 {
		limit = defaultLimit
	}
	return start, min(limit, maxLimit), nil
}

// queryInt parses a non-negative integer query parameter.
func queryInt(q url.Values, name string, def int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s must be a non-negative integer, got %q", errBadRequest, name, v)
	}
	return n, nil
}

// searchQuery returns the required, non-blank query parameter.
func searchQuery(r *http.Request) (string, error) {
	q := strings.TrimSpace(r.URL.Query().Get("query"))
	if q == "" {
		return "", fmt.Errorf("%w: query is required", errBadRequest)
	}
	return q, nil
}

// writeBytes writes b with the given type and an exact Content-Length.
func writeBytes(w http.ResponseWriter, contentType string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b) // a failed write means the client went away
}

// partContentType is the part's media type with its charset, falling back
// to application/octet-stream for a missing or malformed type.
//
// The store hands text parts over converted to UTF-8, so a text part whose
// content is valid UTF-8 is labelled utf-8 whatever charset it was sent in;
// labelling it with the original charset would make browsers mis-decode it.
func partContentType(p *store.Part, content []byte) string {
	params := map[string]string{}
	switch {
	case strings.HasPrefix(strings.ToLower(p.ContentType), "text/") && utf8.Valid(content):
		params["charset"] = "utf-8"
	case p.Charset != "":
		params["charset"] = p.Charset
	}
	if ct := mime.FormatMediaType(p.ContentType, params); ct != "" {
		return ct
	}
	if ct := mime.FormatMediaType(p.ContentType, nil); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

// contentDisposition is `inline; filename="…"` with quotes and
// backslashes escaped. A non-ASCII name gets an ASCII fallback ("_" for
// each other character) plus the RFC 6266/5987 filename*=UTF-8'…' form.
func contentDisposition(name string) string {
	var fallback strings.Builder
	ascii := true
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f:
			// control characters never belong in a header
		case r >= 0x80:
			ascii = false
			fallback.WriteByte('_')
		case r == '"' || r == '\\':
			fallback.WriteByte('\\')
			fallback.WriteRune(r)
		default:
			fallback.WriteRune(r)
		}
	}
	if fallback.Len() == 0 && ascii {
		return "inline"
	}
	cd := `inline; filename="` + fallback.String() + `"`
	if !ascii {
		cd += "; filename*=UTF-8''" + percentEncode(name)
	}
	return cd
}

// percentEncode encodes s as an RFC 5987 value-chars string.
func percentEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// rewriteCIDs points cid: URLs of html at the parts they name, as
// {root}api/v1/message/{id}/part/{partID} (root is Config.Root). Unknown
// Content-IDs stay as they are.
func rewriteCIDs(html string, m *store.Message, root string) string {
	var b strings.Builder
	rest := html
	for {
		i := indexFold(rest, "cid:")
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(rest[:i])
		if i > 0 && isWordByte(rest[i-1]) { // "acid:" is not a cid: URL
			b.WriteString(rest[i : i+4])
			rest = rest[i+4:]
			continue
		}
		end := i + 4 + strings.IndexAny(rest[i+4:], "\"'()<> \t\r\n")
		if end < i+4 {
			end = len(rest)
		}
		ref := rest[i+4 : end]
		if p, ok := partByContentID(m, ref); ok {
			b.WriteString(root + "api/v1/message/" + url.PathEscape(m.ID) + "/part/" + url.PathEscape(p.ID))
		} else {
			b.WriteString(rest[i:end])
		}
		rest = rest[end:]
	}
}

// partByContentID finds the part a cid: reference names. The reference is
// URL-encoded (RFC 2392) and may keep the angle brackets.
func partByContentID(m *store.Message, ref string) (*store.Part, bool) {
	if ref == "" {
		return nil, false
	}
	cands := []string{ref}
	if u, err := url.PathUnescape(ref); err == nil && u != ref {
		cands = append(cands, u)
	}
	for _, c := range cands {
		c = strings.TrimSuffix(strings.TrimPrefix(c, "<"), ">")
		for _, list := range [][]store.Part{m.Inline, m.Attached} {
			for i := range list {
				if list[i].ContentID == c {
					return &list[i], true
				}
			}
		}
		if p, ok := findPart(&m.Root, c); ok {
			return p, true
		}
	}
	return nil, false
}

// indexFold is strings.Index for an ASCII lower-case needle, ignoring case.
func indexFold(s, lowerNeedle string) int {
	n := len(lowerNeedle)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], lowerNeedle) {
			return i
		}
	}
	return -1
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c == '+' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
