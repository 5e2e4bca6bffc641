package store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"runtime/debug"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// Limits of the parsed view.
const (
	snippetLen    = 250 // runes of text in Summary.Snippet
	maxLineOctets = 998 // RFC 5322 2.1.1, excluding CRLF
)

// parse builds the parsed view of raw: everything of Message except ID,
// Seq, Created, Size and Envelope. It never fails; problems become
// Findings. Header-derived fields come from our own header scan, so they
// are there even when enmime cannot parse the message at all.
func (db *DB) parse(env Envelope, raw []byte) *Message {
	m := &Message{
		Summary: Summary{
			To: []Address{}, Cc: []Address{}, Bcc: []Address{}, ReplyTo: []Address{}, Tags: []string{},
			ReturnPath: env.MailFrom,
			Username:   env.AuthUser,
		},
		Inline:   []Part{},
		Attached: []Part{},
		Findings: []Finding{},
	}
	hdr, body := splitHeader(raw)
	m.Headers = hdr.fields

	m.Subject = decodeSubject(hdr.get("Subject"))
	m.MessageID = messageID(hdr.get("Message-Id"))
	if hdr.has("From") {
		if from := parseAddresses(hdr.all("From")); len(from) > 0 {
			m.From = &from[0]
		}
	}
	m.To = parseAddresses(hdr.all("To"))
	m.Cc = parseAddresses(hdr.all("Cc"))
	m.Bcc = envelopeBcc(parseAddresses(hdr.all("Bcc")), env, m.To, m.Cc)
	m.ReplyTo = parseAddresses(hdr.all("Reply-To"))
	if d, err := mail.ParseDate(hdr.get("Date")); err == nil {
		m.Date = d
	}
	m.ListUnsub = hdr.get("List-Unsubscribe")
	m.ListUnsubPost = hdr.get("List-Unsubscribe-Post")

	m.Findings = append(m.Findings, scanRaw(raw, env)...)
	m.Findings = append(m.Findings, headerFindings(hdr)...)
	bs := findBoundaries(raw)
	if open := bs.open; len(open) > 0 {
		text := fmt.Sprintf("multipart boundary %q is never closed; parsed as if closed at the end", open[0])
		if len(open) > 1 {
			text = fmt.Sprintf("%d multipart boundaries are never closed (innermost %q); parsed as if closed at the end", len(open), open[0])
		}
		m.Findings = append(m.Findings, Finding{Code: "unclosed-boundary", Text: text})
	}

	sizes := map[*enmime.Part]int64{}
	e, skipped, err := db.readEnvelope(raw, &bs, sizes)
	if skipped > 0 {
		m.Findings = append(m.Findings, Finding{Code: "junk-before-header",
			Text: fmt.Sprintf("%d byte(s) before the first header field were not a header (mbox From line?)", skipped)})
	}
	if err != nil {
		// Keep what we can: the body as text so it is searchable and visible.
		code := "enmime"
		if errors.Is(err, errMIMELimits) {
			code = "mime-limits"
		}
		m.Findings = append(m.Findings, Finding{Code: code, Severe: true, Text: err.Error()})
		m.Text = strings.ToValidUTF8(string(body), "\uFFFD")
		m.Root = fallbackRoot(hdr, body)
	} else {
		for _, pe := range e.Errors {
			m.Findings = append(m.Findings, Finding{
				Code:   "mime-" + slug(pe.Name),
				Severe: pe.Severe,
				Text:   strings.ToValidUTF8(pe.Name+": "+pe.Detail, "\uFFFD"),
			})
		}
		m.Text = strings.ToValidUTF8(e.Text, "\uFFFD")
		m.HTML = strings.ToValidUTF8(e.HTML, "\uFFFD")
		m.Root = convertPart(e.Root, sizes)
		// Inline: parts shown inside the HTML (cid: images …). enmime's
		// Inlines also holds inline text bodies, which are not "parts with
		// content" in that sense, so keep only those with a Content-ID or
		// a file name; OtherParts are e.g. the images of multipart/related.
		for _, list := range [][]*enmime.Part{e.Inlines, e.OtherParts} {
			for _, p := range list {
				if p.ContentID != "" || p.FileName != "" {
					m.Inline = append(m.Inline, convertPart(p, sizes))
				}
			}
		}
		for _, p := range e.Attachments {
			m.Attached = append(m.Attached, convertPart(p, sizes))
		}
	}
	m.Attachments = len(m.Attached)
	m.Snippet = snippet(m.Text)
	return m
}

// readEnvelope runs enmime on raw. When enmime rejects the first line
// (an mbox "From " line, a stray continuation line …) it retries from the
// first line that is a header field; skipped is then the number of bytes
// left out. A panic inside enmime becomes an error: the message must still
// be stored. bs, when not nil, is findBoundaries(raw). With a non-nil sizes, parts whose content only matters for its
// size may be left undecoded, their decoded sizes put in sizes (see
// readPartsElided).
func (db *DB) readEnvelope(raw []byte, bs *boundaries, sizes map[*enmime.Part]int64) (e *enmime.Envelope, skipped int, err error) {
	e, err = db.readEnvelopeAt(raw, bs, sizes)
	if err == nil || errors.Is(err, errMIMELimits) {
		return e, 0, err
	}
	if off := headerStart(raw); off > 0 {
		if e2, err2 := db.readEnvelopeAt(raw[off:], nil, sizes); err2 == nil {
			return e2, off, nil
		}
	}
	return nil, 0, err
}

func (db *DB) readEnvelopeAt(raw []byte, bs *boundaries, sizes map[*enmime.Part]int64) (e *enmime.Envelope, err error) {
	defer func() {
		if r := recover(); r != nil {
			db.log.Error("enmime panic", "panic", r, "stack", string(debug.Stack()))
			e, err = nil, fmt.Errorf("enmime panic: %v", r)
		}
	}()
	if bs == nil {
		b := findBoundaries(raw)
		bs = &b
	}
	if err := checkLimits(raw, bs); err != nil {
		return nil, err
	}
	src := withClosed(raw, bs.open) // declares the same boundaries as raw
	root, ok := db.readPartsElided(src, bs.declared, sizes)
	if !ok {
		root, err = db.parser.ReadParts(bytes.NewReader(src))
	}
	if err != nil {
		return nil, fmt.Errorf("mime parse: %w", err)
	}
	fixUndeclaredUTF8(root)
	e, err = db.parser.EnvelopeFromPart(root)
	if err != nil {
		return nil, fmt.Errorf("mime parse: %w", err)
	}
	return e, nil
}

// fixUndeclaredUTF8 undoes enmime's us-ascii → windows-1252 conversion of
// text parts that are really UTF-8: 8-bit bytes are not US-ASCII anyway,
// and undeclared UTF-8 (the usual case for mail from development code) is
// far more likely than Windows-1252.
func fixUndeclaredUTF8(root *enmime.Part) {
	for p := range walkParts(root) {
		if !strings.HasPrefix(p.ContentType, "text/") {
			continue
		}
		if cs := strings.ToLower(p.Charset); cs != "us-ascii" && cs != "ascii" {
			continue
		}
		if isASCII(p.Content) {
			continue
		}
		if b, err := charmap.Windows1252.NewEncoder().Bytes(p.Content); err == nil && utf8.Valid(b) {
			p.Content = b
		}
	}
}

// walkParts yields every part of the tree, depth first.
func walkParts(root *enmime.Part) func(func(*enmime.Part) bool) {
	return func(yield func(*enmime.Part) bool) {
		var walk func(p *enmime.Part) bool
		walk = func(p *enmime.Part) bool {
			for ; p != nil; p = p.NextSibling {
				if !yield(p) || !walk(p.FirstChild) {
					return false
				}
			}
			return true
		}
		walk(root)
	}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// findPart re-parses raw and returns the node partID of its MIME tree with
// its decoded content.
func (db *DB) findPart(raw []byte, partID string) (*Part, []byte, bool) {
	e, _, err := db.readEnvelope(raw, nil, nil)
	if err != nil || e.Root == nil {
		if partID != "0" {
			return nil, nil, false
		}
		// Unparseable: the root is the whole body, as parse stored it.
		hdr, body := splitHeader(raw)
		p := fallbackRoot(hdr, body)
		return &p, append([]byte{}, body...), true
	}
	p := e.Root.DepthMatchFirst(func(p *enmime.Part) bool { return p.PartID == partID })
	if p == nil {
		return nil, nil, false
	}
	out := convertPart(p, nil)
	content := p.Content
	if content == nil {
		content = []byte{}
	}
	return &out, content, true
}

// fallbackRoot is the MIME tree of a message enmime could not parse: one
// part "0" holding the whole body undecoded.
func fallbackRoot(hdr header, body []byte) Part {
	return Part{
		ID:          "0",
		ContentType: mediaType(hdr.get("Content-Type")),
		Encoding:    hdr.get("Content-Transfer-Encoding"),
		Size:        int64(len(body)),
		Children:    []Part{},
	}
}

// convertPart converts an enmime part tree to ours.
func convertPart(p *enmime.Part, sizes map[*enmime.Part]int64) Part {
	out := Part{
		ID:          p.PartID,
		ContentType: p.ContentType,
		Charset:     p.Charset,
		Encoding:    strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding")),
		Disposition: p.Disposition,
		FileName:    partFileName(p),
		ContentID:   strings.ToValidUTF8(p.ContentID, "\uFFFD"),
		Size:        int64(len(p.Content)),
		Children:    []Part{},
	}
	if n, ok := sizes[p]; ok {
		out.Size = n
	}
	for c := p.FirstChild; c != nil; c = c.NextSibling {
		out.Children = append(out.Children, convertPart(c, sizes))
	}
	return out
}

// header is the top-level header of a message, in order.
type header struct{ fields []Header }

// get returns the value of the first field called name, or "".
func (h header) get(name string) string {
	for _, f := range h.fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// has reports whether a field called name is present.
func (h header) has(name string) bool {
	for _, f := range h.fields {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// all returns the values of every field called name.
func (h header) all(name string) []string {
	var out []string
	for _, f := range h.fields {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// splitHeader scans the top-level header fields of raw and returns them
// (unfolded: line breaks of continuation lines removed, the whitespace
// kept; values trimmed; RFC 2047 not decoded) and the body after the
// empty line. It accepts CRLF, bare LF and a missing empty line; a line
// that is neither a field nor a continuation is skipped.
func splitHeader(raw []byte) (header, []byte) {
	h := header{fields: []Header{}}
	// The value of the last field is built in val and stored when the
	// next field starts: appending each continuation line to a string
	// copies the whole value each time, quadratic in a field folded
	// over thousands of lines (4 MB folded at 70 octets: 120 GB).
	var val []byte
	done := func() {
		if n := len(h.fields); n > 0 {
			h.fields[n-1].Value = string(bytes.TrimRightFunc(val, unicode.IsSpace))
		}
	}
	rest := raw
	for len(rest) > 0 {
		line := rest
		next := []byte(nil)
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, next = rest[:i], rest[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			if len(h.fields) == 0 {
				return h, raw // no header at all: everything is body
			}
			done()
			return h, next // end of header
		}
		rest = next
		switch {
		case line[0] == ' ' || line[0] == '\t':
			if len(h.fields) > 0 {
				// As TrimSpace(value + line) each time: trailing space
				// goes before a continuation, leading space while empty.
				val = bytes.TrimRightFunc(val, unicode.IsSpace)
				empty := len(val) == 0
				val = append(val, toUTF8(line)...)
				if empty {
					val = bytes.TrimLeftFunc(val, unicode.IsSpace)
				}
			}
		default:
			if !isFieldLine(line) {
				continue // not a header field (mbox "From " line, junk)
			}
			done()
			name, value, _ := bytes.Cut(line, []byte(":"))
			name = bytes.TrimRight(name, " \t")
			h.fields = append(h.fields, Header{Name: toUTF8(name)})
			val = append(val[:0], bytes.TrimSpace([]byte(toUTF8(value)))...)
		}
	}
	if len(h.fields) == 0 {
		return h, raw
	}
	done()
	return h, nil
}

// headerStart returns the offset of the first line of raw that looks like
// a header field (name, colon), or 0 when there is none or it is the
// first line.
func headerStart(raw []byte) int {
	off := 0
	for off < len(raw) {
		line := raw[off:]
		n := len(line)
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, n = line[:i], i+1
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if isFieldLine(line) {
			return off
		}
		off += n
	}
	return 0
}

// isFieldLine reports whether line starts a header field: a non-empty
// name without white space (or with only trailing white space), then ":".
func isFieldLine(line []byte) bool {
	name, _, ok := bytes.Cut(line, []byte(":"))
	name = bytes.TrimRight(name, " \t")
	return ok && len(name) > 0 && !bytes.ContainsAny(name, " \t")
}

// toUTF8 converts header bytes to a string, replacing invalid UTF-8 (raw
// 8-bit in a legacy charset) so the value survives JSON unchanged.
func toUTF8(b []byte) string {
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// charsetAliases maps charset names x/text does not know to ones it does.
func charsetAlias(name string) string {
	switch strings.ToLower(name) {
	case "cp932", "ms932", "windows-31j", "x-sjis", "sjis", "shift-jis":
		return "shift_jis"
	case "cp936", "ms936":
		return "gbk"
	case "cp949", "ms949", "uhc", "ks_c_5601", "ks_c_5601-1989":
		return "euc-kr"
	case "cp950", "ms950", "big5-hkscs":
		return "big5"
	case "utf8":
		return "utf-8"
	}
	return name
}

// charsetReader converts r from charset to UTF-8 using golang.org/x/text
// (WHATWG labels first, then IANA names).
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	charset = charsetAlias(strings.TrimSpace(charset))
	enc, err := htmlindex.Get(charset)
	if err != nil {
		enc, err = ianaindex.MIME.Encoding(charset)
	}
	if err != nil || enc == nil {
		return nil, fmt.Errorf("unsupported charset %q", charset)
	}
	return enc.NewDecoder().Reader(r), nil
}

// wordDecoder decodes RFC 2047 encoded words in any charset
// golang.org/x/text knows (WHATWG labels first, then IANA names).
func wordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: charsetReader}
}

// DecodeHeader decodes the RFC 2047 encoded words of an unstructured
// header value in any charset golang.org/x/text knows, leniently (bad
// padding, unknown charsets); a value that does not decode is returned as
// it is. The result is valid UTF-8.
func DecodeHeader(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	d, err := wordDecoder().DecodeHeader(s)
	if err != nil {
		// An unknown charset or broken encoding: enmime's decoder is more
		// forgiving (it keeps what it cannot decode).
		d = enmime.DecodeRFC2047(s)
	}
	if strings.Contains(d, "=?") {
		d = lenientWords(d) // e.g. bad base64 padding, which the decoders leave as is
	}
	return strings.ToValidUTF8(d, "\uFFFD")
}

// lenientWords decodes encoded words the strict decoders reject: unknown
// charsets (bytes kept as they are), bad base64 padding. White space
// between two encoded words is dropped, as RFC 2047 says.
func lenientWords(s string) string {
	var b strings.Builder
	lastWasWord := false
	for s != "" {
		i := strings.Index(s, "=?")
		if i < 0 {
			b.WriteString(s)
			break
		}
		text := s[:i]
		word, rest, ok := cutEncodedWord(s[i:])
		if !ok {
			b.WriteString(s[:i+2])
			s = s[i+2:]
			lastWasWord = false
			continue
		}
		if !(lastWasWord && strings.TrimSpace(text) == "") {
			b.WriteString(text)
		}
		b.WriteString(word)
		s, lastWasWord = rest, true
	}
	return b.String()
}

// cutEncodedWord decodes the encoded word at the start of s leniently.
func cutEncodedWord(s string) (decoded, rest string, ok bool) {
	parts := strings.SplitN(s[2:], "?", 4) // charset, enc, text?=rest
	if len(parts) < 4 || !strings.HasPrefix(parts[3], "=") {
		return "", "", false
	}
	charset, enc, text := parts[0], strings.ToUpper(parts[1]), parts[2]
	rest = parts[3][1:]
	var raw []byte
	switch enc {
	case "B":
		var err error
		raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(text, "="))
		if err != nil {
			return "", "", false
		}
	case "Q":
		var qb strings.Builder
		for i := 0; i < len(text); i++ {
			switch c := text[i]; {
			case c == '_':
				qb.WriteByte(' ')
			case c == '=' && i+2 < len(text):
				if v, err := strconv.ParseUint(text[i+1:i+3], 16, 8); err == nil {
					qb.WriteByte(byte(v))
					i += 2
				} else {
					qb.WriteByte(c)
				}
			default:
				qb.WriteByte(c)
			}
		}
		raw = []byte(qb.String())
	default:
		return "", "", false
	}
	return toCharset(charset, raw), rest, true
}

// decodeSubject decodes a Subject value; line breaks that came out of
// encoded words become spaces and surrounding space is trimmed.
func decodeSubject(s string) string {
	d := DecodeHeader(s)
	d = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, d)
	return strings.TrimSpace(d)
}

// messageID returns the msg-id of a Message-ID value without <>.
func messageID(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
	}
	return strings.Trim(v, "<> \t")
}

// parseAddresses parses address-list values (names RFC 2047 decoded). It
// never fails: what net/mail (via enmime) rejects is split leniently.
func parseAddresses(values []string) []Address {
	out := []Address{}
	list := strings.TrimSpace(strings.Join(values, ", "))
	if list == "" {
		return out
	}
	if as, err := enmime.ParseAddressList(list); err == nil {
		for _, a := range as {
			out = append(out, Address{Name: strings.ToValidUTF8(a.Name, "\uFFFD"), Address: strings.ToValidUTF8(a.Address, "\uFFFD")})
		}
		return out
	}
	return lenientAddresses(list)
}

// lenientAddresses splits list at commas outside quotes and <>, and takes
// each piece as `name <addr>` or a bare address.
func lenientAddresses(list string) []Address {
	out := []Address{}
	var pieces []string
	inQuote, inAngle, start := false, false, 0
	for i := 0; i < len(list); i++ {
		switch c := list[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == '<' && !inQuote:
			inAngle = true
		case c == '>' && !inQuote:
			inAngle = false
		case (c == ',' || c == ';') && !inQuote && !inAngle:
			pieces = append(pieces, list[start:i])
			start = i + 1
		}
	}
	pieces = append(pieces, list[start:])
	for _, p := range pieces {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		var a Address
		if i := strings.LastIndexByte(p, '<'); i >= 0 {
			addr := p[i+1:]
			if j := strings.IndexByte(addr, '>'); j >= 0 {
				addr = addr[:j]
			}
			a.Address = strings.TrimSpace(addr)
			a.Name = DecodeHeader(strings.Trim(strings.TrimSpace(p[:i]), `"`))
		} else {
			a.Address = p
		}
		if a.Address == "" && a.Name == "" {
			continue
		}
		a.Name, a.Address = strings.ToValidUTF8(a.Name, "\uFFFD"), strings.ToValidUTF8(a.Address, "\uFFFD")
		out = append(out, a)
	}
	return out
}

// envelopeBcc returns the Bcc header addresses plus every envelope
// recipient that appears in no To, Cc or Bcc header (Mailpit's rule).
func envelopeBcc(bcc []Address, env Envelope, to, cc []Address) []Address {
	seen := map[string]bool{}
	for _, list := range [][]Address{to, cc, bcc} {
		for _, a := range list {
			seen[strings.ToLower(a.Address)] = true
		}
	}
	for _, r := range env.Rcpts {
		if k := strings.ToLower(r.Address); !seen[k] {
			seen[k] = true
			bcc = append(bcc, Address{Address: r.Address})
		}
	}
	return bcc
}

// mediaType returns the lower-case type/subtype of a Content-Type value.
func mediaType(v string) string {
	t, _, _ := strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// snippet is the start of text with whitespace collapsed.
func snippet(text string) string {
	// Word by word, stopping at snippetLen runes: joining all of a long
	// body's words first was a few percent of the CPU of storing a message.
	var b strings.Builder
	n, sep := 0, false
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if unicode.IsSpace(r) {
			sep = b.Len() > 0
			i += size
			continue
		}
		if sep {
			if n == snippetLen {
				break
			}
			b.WriteByte(' ')
			n++
			sep = false
		}
		if n == snippetLen {
			return strings.TrimSpace(b.String()) // more words follow
		}
		b.WriteString(text[i : i+size])
		n++
		i += size
	}
	return strings.TrimSpace(b.String())
}

// slug turns an enmime error name into a stable code part:
// "Malformed Header" → "malformed-header".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// scanRaw checks the raw bytes in one pass: over-long lines, bare LF, bare
// CR, NUL bytes and 8-bit data sent without 8BITMIME/SMTPUTF8.
func scanRaw(raw []byte, env Envelope) []Finding {
	var longLines, longest, bareLF, bareCR, nul, high int
	lineStart := 0
	endLine := func(end int) { // end: index of the line terminator (or len)
		n := end - lineStart
		if n > maxLineOctets {
			longLines++
			longest = max(longest, n)
		}
	}
	for i := 0; i < len(raw); i++ {
		// Eight bytes at a time while none of them is one we count: the
		// byte loop was a sixth of the CPU of parsing a 50 KB message.
		for i+8 <= len(raw) && !special8(binary.LittleEndian.Uint64(raw[i:])) {
			i += 8
		}
		if i == len(raw) {
			break
		}
		c := raw[i]
		switch {
		case c == '\n':
			end := i
			if i > 0 && raw[i-1] == '\r' {
				end--
			} else {
				bareLF++
			}
			endLine(end)
			lineStart = i + 1
		case c == '\r':
			if i+1 == len(raw) || raw[i+1] != '\n' {
				bareCR++
			}
		case c == 0:
			nul++
		case c >= 0x80:
			high++
		}
	}
	endLine(len(raw))

	var out []Finding
	if longLines > 0 {
		out = append(out, Finding{Code: "line-too-long",
			Text: fmt.Sprintf("%d line(s) longer than %d octets; longest %d", longLines, maxLineOctets, longest)})
	}
	if bareLF > 0 {
		out = append(out, Finding{Code: "bare-lf", Text: fmt.Sprintf("%d line(s) end in LF without CR", bareLF)})
	}
	if bareCR > 0 {
		out = append(out, Finding{Code: "bare-cr", Text: fmt.Sprintf("%d CR(s) not followed by LF", bareCR)})
	}
	if nul > 0 {
		out = append(out, Finding{Code: "nul-byte", Text: fmt.Sprintf("%d NUL byte(s)", nul)})
	}
	sevenBit := env.Body == "" || strings.EqualFold(env.Body, "7BIT")
	if high > 0 && sevenBit && !env.SMTPUTF8 && env.Source != "api" {
		out = append(out, Finding{Code: "8bit-without-8bitmime",
			Text: fmt.Sprintf("%d byte(s) >= 0x80 but the client did not declare BODY=8BITMIME or SMTPUTF8", high)})
	}
	return out
}

// special8 reports whether one of the eight bytes of x may be '\n', '\r',
// NUL or 8-bit (exactly: the zero-byte test is exact, see hasZero).
func special8(x uint64) bool {
	const ones = 0x0101010101010101
	return x&(0x80*ones) != 0 || hasZero(x) || hasZero(x^('\n'*ones)) || hasZero(x^('\r'*ones))
}

// hasZero reports whether a byte of x is zero (for bytes below 0x80, which
// is all special8 asks once it has ruled out 8-bit bytes).
func hasZero(x uint64) bool {
	const ones = 0x0101010101010101
	return (x-ones)&^x&(0x80*ones) != 0
}

// headerFindings checks the top-level header for missing fields.
func headerFindings(h header) []Finding {
	var out []Finding
	if !h.has("Date") {
		out = append(out, Finding{Code: "missing-date", Text: "no Date header"})
	}
	if !h.has("Message-Id") {
		out = append(out, Finding{Code: "missing-message-id", Text: "no Message-ID header"})
	}
	if !h.has("Mime-Version") {
		ct := mediaType(h.get("Content-Type"))
		nonText := ct != "" && !strings.HasPrefix(ct, "text/")
		if nonText || h.has("Content-Transfer-Encoding") {
			out = append(out, Finding{Code: "missing-mime-version",
				Text: "MIME content (Content-Type " + ct + " or Content-Transfer-Encoding) without MIME-Version"})
		}
	}
	return out
}
