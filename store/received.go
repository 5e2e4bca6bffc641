package store

import (
	"fmt"
	"net/mail"
	"net/netip"
	"strings"
	"time"
)

// Hop is one Received header parsed.
type Hop struct {
	From     string    `json:"From"`     // the from clause: HELO name and its comment, e.g. "mail.example.test (mail.example.test [192.0.2.1])"
	FromHost string    `json:"FromHost"` // the HELO/EHLO name alone
	FromIP   string    `json:"FromIP"`   // the IP in [..] of the from comment, if any (IPv6: without "IPv6:" prefix)
	By       string    `json:"By"`       // the by host
	With     string    `json:"With"`     // protocol, e.g. "ESMTPS"
	ID       string    `json:"ID"`
	For      string    `json:"For"`     // without <>
	TLS      string    `json:"TLS"`     // TLS details if present (e.g. "TLS1.3 TLS_AES_128_GCM_SHA256", "version=TLS1_2 cipher=..."), else ""
	Secure   bool      `json:"Secure"`  // TLS used: With ends in S/SA (ESMTPS, ESMTPSA, UTF8SMTPS…) or TLS details present
	Time     time.Time `json:"Time"`    // the date after the last ';' (zero if unparseable)
	Delay    *float64  `json:"Delay"`   // seconds since the previous (older) hop; nil for the first hop or unknown times
	Raw      string    `json:"Raw"`     // the header value, unfolded
	Warning  string    `json:"Warning"` // e.g. "clock went backwards by 2m3s" when Time is before the previous hop's
}

// ReceivedChain parses every Received header in headers (message order is
// newest first: the topmost header is the last hop) and returns the hops
// oldest first, with Delay and Warning computed between consecutive hops.
// It never fails and never returns nil: clauses that don't parse leave
// their fields empty, and Raw is always set.
//
// Delay compares a hop with the nearest older hop whose time is known, so
// one unparseable date does not hide the delays around it. A negative
// delay is kept as measured and also reported in Warning.
func ReceivedChain(headers []Header) []Hop {
	hops := []Hop{}
	for i := len(headers) - 1; i >= 0; i-- {
		if strings.EqualFold(strings.TrimSpace(headers[i].Name), "Received") {
			hops = append(hops, parseReceived(headers[i].Value))
		}
	}
	var prev time.Time
	for i := range hops {
		t := hops[i].Time
		if t.IsZero() {
			continue
		}
		if !prev.IsZero() {
			d := t.Sub(prev)
			secs := d.Seconds()
			hops[i].Delay = &secs
			if d < 0 {
				hops[i].Warning = fmt.Sprintf("clock went backwards by %s", -d)
			}
		}
		prev = t
	}
	return hops
}

// rcvToken is one lexical item of a Received value: a word, or a comment
// (Text is then the inside of the parentheses, nested comments kept).
type rcvToken struct {
	Text    string
	Comment bool
}

// parseReceived parses one Received header value.
func parseReceived(value string) Hop {
	raw := rcvUnfold(value)
	h := Hop{Raw: raw}
	clauses, date := rcvSplitDate(raw)
	toks := rcvTokenize(clauses)
	dateToks := rcvTokenize(date)

	// Group the tokens under the clause keyword that precedes them. The
	// first clause of each kind wins (IBM's gateway repeats "from" inside
	// its with clause); tokens before any keyword belong to no clause.
	groups := map[string][]rcvToken{}
	cur := ""
	for _, t := range toks {
		if !t.Comment {
			if kw := strings.ToLower(t.Text); rcvIsKeyword(kw) {
				if _, seen := groups[kw]; seen {
					cur = "-" // ignore a repeated clause
				} else {
					cur = kw
					groups[kw] = []rcvToken{}
				}
				continue
			}
		}
		if cur != "" {
			groups[cur] = append(groups[cur], t)
		}
	}

	rcvFrom(&h, groups["from"])
	h.By = rcvFirstWord(groups["by"])
	h.ID = strings.Trim(rcvFirstWord(groups["id"]), ",")
	var fors []string
	for _, t := range groups["for"] {
		if t.Comment {
			continue
		}
		if a := strings.Trim(t.Text, "<>,"); a != "" {
			fors = append(fors, a)
		}
	}
	h.For = strings.Join(fors, ", ")

	// With: the words of the with clause. Exim 4.92+ writes
	// "with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384": the "tls <cipher>"
	// pair is TLS detail, not protocol.
	var with, tls []string
	w := groups["with"]
	for i := 0; i < len(w); i++ {
		if w[i].Comment {
			continue
		}
		if strings.EqualFold(w[i].Text, "tls") && i+1 < len(w) && !w[i+1].Comment && len(with) > 0 {
			tls = append(tls, w[i+1].Text)
			i++
			continue
		}
		with = append(with, w[i].Text)
	}
	h.With = strings.Join(with, " ")

	// TLS details may sit in any comment: after the from clause (Postfix),
	// after with (Sendmail, Exim, Exchange, mailsink), after for (Gmail),
	// or even after the ';' (IBM).
	var details []string
	for _, t := range append(toks, dateToks...) {
		if t.Comment && rcvIsTLSComment(t.Text) {
			details = append(details, rcvCollapse(t.Text))
		}
	}
	details = append(details, tls...) // Exim's "(TLS1.3) tls CIPHER" reads as "TLS1.3 CIPHER"
	h.TLS = strings.Join(details, " ")
	h.Secure = h.TLS != "" || rcvSecureProto(firstField(h.With))

	h.Time = rcvParseDate(date)
	return h
}

// rcvFrom fills From, FromHost and FromIP from the from clause's tokens.
func rcvFrom(h *Hop, toks []rcvToken) {
	var parts []string
	firstWord := ""
	haveWord := false
	for _, t := range toks {
		if t.Comment {
			if rcvIsTLSComment(t.Text) || rcvIsNoiseComment(t.Text) {
				continue
			}
			parts = append(parts, "("+rcvCollapse(t.Text)+")")
			if h.FromHost == "" {
				h.FromHost = rcvHelo(t.Text)
			}
			continue
		}
		if !haveWord {
			firstWord, haveWord = t.Text, true
		}
		parts = append(parts, t.Text)
	}
	h.From = strings.Join(parts, " ")
	if h.FromHost == "" {
		h.FromHost = firstWord
	}

	// FromIP: an address in the comments (the TCP-info the receiver
	// looked up), then a literal among the other words ("from unknown
	// [192.0.2.41]"), then the first word itself ("from [192.0.2.5]").
	for _, t := range toks {
		if t.Comment && !rcvIsTLSComment(t.Text) {
			if ip := rcvIPInComment(t.Text); ip != "" {
				h.FromIP = ip
				return
			}
		}
	}
	first := true
	for _, t := range toks {
		if t.Comment {
			continue
		}
		if first {
			first = false
			continue
		}
		if ip := rcvBracketIP(t.Text); ip != "" {
			h.FromIP = ip
			return
		}
	}
	if ip := rcvBracketIP(firstWord); ip != "" {
		h.FromIP = ip
	} else if ip := rcvBareIP(firstWord); ip != "" {
		h.FromIP = ip
	}
}

// rcvIsKeyword reports whether w (lower case) starts a Received clause.
func rcvIsKeyword(w string) bool {
	switch w {
	case "from", "by", "via", "with", "id", "for":
		return true
	}
	return false
}

// rcvFirstWord returns the first word (not comment) of toks.
func rcvFirstWord(toks []rcvToken) string {
	for _, t := range toks {
		if !t.Comment {
			return t.Text
		}
	}
	return ""
}

// firstField returns the first whitespace-separated field of s.
func firstField(s string) string {
	f, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	return f
}

// rcvSecureProto reports whether a with-protocol name says TLS was used:
// RFC 3848/6531 names end in S (TLS) or SA (TLS and AUTH): ESMTPS,
// ESMTPSA, UTF8SMTPS, LMTPSA, Gmail's SMTPS, HTTPS.
func rcvSecureProto(p string) bool {
	p = strings.ToUpper(p)
	if len(p) < 4 {
		return false
	}
	for _, r := range p {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return strings.HasSuffix(p, "S") || strings.HasSuffix(p, "SA")
}

// rcvIsTLSComment reports whether a comment's text is TLS detail:
// Postfix "using TLSv1.3 with cipher …", Sendmail/Gmail/Exchange
// "version=TLS1_2 cipher=…", Exim "TLS1.3" or "TLSv1:AES256-SHA:256",
// mailsink "TLS1.3 TLS_AES_128_GCM_SHA256", Exchange "TLS".
func rcvIsTLSComment(c string) bool {
	l := strings.ToLower(strings.TrimSpace(c))
	switch {
	case strings.HasPrefix(l, "using tls"), strings.HasPrefix(l, "using ssl"),
		strings.Contains(l, "version=tls"), strings.Contains(l, "version=ssl"),
		strings.Contains(l, "cipher="):
		return true
	case l == "tls", l == "ssl":
		return true
	}
	for _, p := range []string{"tlsv", "tls", "sslv", "ssl"} {
		if rest, ok := strings.CutPrefix(l, p); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
			return true
		}
	}
	return false
}

// rcvIsNoiseComment reports whether a from-clause comment is not about
// the sending host: envelope sender notes and client-certificate notes.
func rcvIsNoiseComment(c string) bool {
	l := strings.ToLower(strings.TrimSpace(c))
	return strings.HasPrefix(l, "envelope-") || strings.Contains(l, "client certificate")
}

// rcvHelo returns the HELO/EHLO/LHLO name given in a comment: "HELO x",
// "helo=x", "EHLO x", or "".
func rcvHelo(c string) string {
	f := strings.Fields(c)
	for i, w := range f {
		lw := strings.ToLower(w)
		for _, kw := range []string{"helo", "ehlo", "lhlo"} {
			if v, ok := strings.CutPrefix(lw, kw+"="); ok && v != "" {
				return strings.TrimRight(w[len(kw)+1:], ",;")
			}
			if lw == kw && i+1 < len(f) {
				return strings.TrimRight(f[i+1], ",;")
			}
		}
	}
	return ""
}

// rcvIPInComment returns the first IP address in a from comment: a
// bracketed literal ("[192.0.2.1]", "[IPv6:2001:db8::1]", "[::1]:25")
// or a bare address ("(192.0.2.1)"), skipping a HELO value.
func rcvIPInComment(c string) string {
	f := strings.Fields(c)
	for i, w := range f {
		lw := strings.ToLower(w)
		if strings.HasPrefix(lw, "helo=") || strings.HasPrefix(lw, "ehlo=") {
			continue
		}
		if i > 0 {
			if p := strings.ToLower(f[i-1]); p == "helo" || p == "ehlo" || p == "lhlo" {
				continue
			}
		}
		if ip := rcvBracketIP(w); ip != "" {
			return ip
		}
		if ip := rcvBareIP(w); ip != "" {
			return ip
		}
	}
	return ""
}

// rcvBracketIP returns the IP inside the first [..] of w, or "".
func rcvBracketIP(w string) string {
	i := strings.IndexByte(w, '[')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(w[i:], ']')
	if j < 0 {
		return ""
	}
	s := w[i+1 : i+j]
	if len(s) >= 5 && strings.EqualFold(s[:5], "ipv6:") {
		s = s[5:]
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	return ""
}

// rcvBareIP returns w as an IP address if it is one (surrounding
// punctuation ignored), or "".
func rcvBareIP(w string) string {
	w = strings.Trim(w, "(),;")
	if a, err := netip.ParseAddr(w); err == nil {
		return a.String()
	}
	return ""
}

// rcvUnfold removes the line breaks of a folded header value, keeping the
// whitespace that follows them, and trims it.
func rcvUnfold(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(s)
	}
	return strings.TrimSpace(s)
}

// rcvCollapse replaces runs of white space with one space.
func rcvCollapse(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// rcvSplitDate splits a Received value at its last ';' outside comments
// and quotes: the clauses before it, the date after. Without a usable
// ';' it looks for a trailing date starting at a day name.
func rcvSplitDate(s string) (clauses, date string) {
	depth, quoted, last := 0, false, -1
	anySemi := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
		case quoted:
			if c == '"' {
				quoted = false
			}
		case c == '"' && depth == 0:
			quoted = true
		case c == '(':
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
		case c == ';':
			anySemi = i
			if depth == 0 {
				last = i
			}
		}
	}
	if last < 0 {
		last = anySemi // unbalanced comment swallowed the ';'
	}
	if last >= 0 {
		return s[:last], s[last+1:]
	}
	// No ';' at all: "… id X Mon, 2 Jan 2006 15:04:05 -0700".
	for _, day := range []string{"Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"} {
		if i := strings.LastIndex(s, day); i > 0 && !rcvParseDate(s[i:]).IsZero() {
			return s[:i], s[i:]
		}
	}
	return s, ""
}

// rcvTokenize splits the clause text of a Received value into words and
// comments. Angle-bracket addresses and quoted strings are single words;
// ';' and ',' between words are separators.
func rcvTokenize(s string) []rcvToken {
	var out []rcvToken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == ',':
			i++
		case c == '(':
			depth, j := 0, i
			for ; j < len(s); j++ {
				if s[j] == '\\' {
					j++
					continue
				}
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if j >= len(s) { // unbalanced: the comment runs to the end
				out = append(out, rcvToken{Text: s[i+1:], Comment: true})
				i = len(s)
				continue
			}
			out = append(out, rcvToken{Text: s[i+1 : j], Comment: true})
			i = j + 1
		case c == ')':
			i++ // stray
		case c == '<':
			end := 0
			if j := strings.IndexByte(s[i:min(len(s), i+rcvMaxAngle)], '>'); j >= 0 {
				end = i + j + 1
			} else {
				end = rcvWordEnd(s, i)
			}
			out = append(out, rcvToken{Text: s[i:end]})
			i = end
		case c == '"':
			end := len(s)
			if j := strings.IndexByte(s[i+1:], '"'); j >= 0 {
				end = i + 1 + j + 1
			}
			out = append(out, rcvToken{Text: s[i:end]})
			i = end
		default:
			j := rcvWordEnd(s, i)
			out = append(out, rcvToken{Text: s[i:j]})
			i = j
		}
	}
	return out
}

// Searches for the closing '>' of an address and ']' of a literal are
// bounded (RFC 5321 paths are at most 256 octets), which keeps
// tokenizing linear on hostile input.
const (
	rcvMaxAngle   = 512
	rcvMaxLiteral = 128
)

// rcvWordEnd returns the end of the word starting at s[i]: the next
// white space, '(' or ';'; a bracketed literal such as "[unix socket]"
// is not cut.
func rcvWordEnd(s string, i int) int {
	j := i
	for ; j < len(s); j++ {
		c := s[j]
		if c == '[' {
			if k := strings.IndexByte(s[j:min(len(s), j+rcvMaxLiteral)], ']'); k > 0 {
				j += k
			}
			continue
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' || c == ';' {
			break
		}
	}
	if j == i {
		j++ // always make progress
	}
	return j
}

// rcvZones maps obsolete and common alphabetic time zones to offsets.
// RFC 5322 §4.3 defines UT/GMT and the North American zones; military
// zones and unknown names mean "-0000" (unknown local offset). A few
// unambiguous zones seen in real Received trailers are added.
var rcvZones = map[string]string{
	"UT": "+0000", "UTC": "+0000", "GMT": "+0000", "Z": "+0000",
	"EST": "-0500", "EDT": "-0400", "CST": "-0600", "CDT": "-0500",
	"MST": "-0700", "MDT": "-0600", "PST": "-0800", "PDT": "-0700",
	"CET": "+0100", "CEST": "+0200", "MET": "+0100", "MEST": "+0200",
	"EET": "+0200", "EEST": "+0300", "WET": "+0000", "WEST": "+0100",
	"JST": "+0900", "KST": "+0900", "HKT": "+0800", "MSK": "+0300",
}

// rcvLayouts are tried when net/mail.ParseDate fails.
var rcvLayouts = []string{
	"Mon 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05.999999999 -0700",
	"Mon, 2-Jan-2006 15:04:05 -0700",
	"2-Jan-2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05",
	"2 Jan 2006 15:04:05",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05",
	time.RFC3339Nano,
}

// rcvParseDate parses the date of a Received header leniently: comments
// before and after it are dropped, alphabetic zones become offsets, then
// net/mail.ParseDate and a few other layouts are tried. It returns the
// zero time when nothing fits.
func rcvParseDate(s string) time.Time {
	s = rcvStripComments(s)
	f := strings.Fields(s)
	if len(f) == 0 {
		return time.Time{}
	}
	for i, w := range f {
		if off, ok := rcvZones[strings.ToUpper(w)]; ok && (len(w) > 1 || i == len(f)-1) {
			f[i] = off
		}
	}
	if n := len(f); n >= 2 && rcvIsOffset(f[n-2]) && !rcvAllDigits(f[n-1]) {
		f = f[:n-1] // "+0000 UTC" with the name not in parentheses, or junk
	}
	if last := f[len(f)-1]; len(f) > 4 && len(last) == 1 && (last[0]|0x20) >= 'a' && (last[0]|0x20) <= 'z' {
		f[len(f)-1] = "-0000" // military zone: offset unknown (RFC 5322 §4.3)
	}
	s = strings.Join(f, " ")
	if t, err := mail.ParseDate(s); err == nil {
		return rcvSaneZone(t)
	}
	for _, l := range rcvLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return rcvSaneZone(t)
		}
	}
	if len(f) > 1 && !rcvIsOffset(f[len(f)-1]) {
		// An unknown zone name: RFC 5322 says treat it as -0000.
		f[len(f)-1] = "-0000"
		if t, err := mail.ParseDate(strings.Join(f, " ")); err == nil {
			return rcvSaneZone(t)
		}
	}
	return time.Time{}
}

// rcvSaneZone moves a time with an offset of a day or more ("+2400",
// which time.Parse accepts) to UTC: the instant is kept and the time
// still encodes as RFC 3339 JSON.
func rcvSaneZone(t time.Time) time.Time {
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return t.UTC()
	}
	return t
}

// rcvAllDigits reports whether w is non-empty and all ASCII digits.
func rcvAllDigits(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return w != ""
}

// rcvIsOffset reports whether w is a numeric zone like "+0100".
func rcvIsOffset(w string) bool {
	if len(w) != 5 || (w[0] != '+' && w[0] != '-') {
		return false
	}
	for i := 1; i < 5; i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return true
}

// rcvStripComments removes parenthesized comments (nested or not) from s.
func rcvStripComments(s string) string {
	if !strings.ContainsAny(s, "()") {
		return s
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(':
			depth++
			b.WriteByte(' ')
		case c == ')':
			if depth > 0 {
				depth--
			}
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}
