package store

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Link is one URL found in a message.
type Link struct {
	URL    string `json:"URL"`
	Text   string `json:"Text"`   // anchor text (whitespace-collapsed) for HTML <a>; "" for bare URLs in text
	Source string `json:"Source"` // "html" or "text"
}

// ExtractLinks returns every http(s) and mailto URL in html and text. It
// never returns nil.
//
// In html: the href of <a>, <area> and SVG <a xlink:href>, and bare URLs
// in text nodes outside anchors (a URL shown as anchor text is not where
// the anchor goes); scripts, styles, templates and iframes are skipped,
// <noscript> is read (mail clients don't run scripts). In text: bare URLs
// and the <URL> and <URL:…> forms of RFC 3986 Appendix C, which may wrap.
//
// Links are deduplicated by URL: the first occurrence wins, but anchor
// text found later fills in an earlier occurrence without text. Order is
// document order, HTML links first, then links found only in text.
// Entities are decoded; hrefs lose surrounding spaces and embedded tabs
// and newlines as in a browser; trailing punctuation is trimmed from bare
// URLs ("see https://x.test/a." gives https://x.test/a; balanced
// parentheses are kept); no other scheme (javascript:, data:, cid:,
// relative) is returned. Text is the collapsed text of an <a>, or the alt
// of its image when it has no text, or the alt of an <area>.
func ExtractLinks(text, html string) []Link {
	c := linkSet{out: []Link{}, idx: map[string]int{}}
	if strings.TrimSpace(html) != "" {
		if doc, err := extParse(html); err == nil {
			c.fromHTML(doc)
		}
	}
	for _, sp := range extScanURLs(text, false) {
		c.add(Link{URL: sp.url, Source: "text"})
	}
	return c.out
}

// linkSet collects links in order, deduplicated by URL.
type linkSet struct {
	out []Link
	idx map[string]int
}

// add appends l unless its URL is known, and returns the index of the
// link kept for that URL (text is set later with fill).
func (c *linkSet) add(l Link) int {
	if i, ok := c.idx[l.URL]; ok {
		return i
	}
	c.idx[l.URL] = len(c.out)
	c.out = append(c.out, l)
	return len(c.out) - 1
}

// fill sets the text of link i if it has none yet.
func (c *linkSet) fill(i int, text string) {
	if i >= 0 && c.out[i].Text == "" {
		c.out[i].Text = text
	}
}

// anchorState is an open <a> element during the walk.
type anchorState struct {
	idx  int // link index, -1 when the href is not a link we keep
	text strings.Builder
	alt  string
}

// fromHTML collects the links of a parsed document.
func (c *linkSet) fromHTML(doc *html.Node) {
	var open []*anchorState
	extWalk(doc, func(n *html.Node, enter bool) bool {
		switch n.Type {
		case html.TextNode:
			switch {
			case !enter:
			case len(open) > 0: // anchor text: the anchor is the link
				open[len(open)-1].text.WriteString(n.Data)
			default:
				for _, sp := range extScanURLs(n.Data, false) {
					c.add(Link{URL: sp.url, Source: "html"})
				}
			}
		case html.ElementNode:
			if extSkipElement(n.DataAtom) {
				return false
			}
			switch {
			case n.DataAtom == atom.A && enter:
				a := &anchorState{idx: -1}
				if u, ok := extCleanHref(extAttr(n, "href")); ok {
					a.idx = c.add(Link{URL: u, Source: "html"})
				}
				open = append(open, a)
			case n.DataAtom == atom.A && len(open) > 0:
				a := open[len(open)-1]
				open = open[:len(open)-1]
				t := extCollapse(a.text.String())
				if t == "" {
					t = extCollapse(a.alt)
				}
				c.fill(a.idx, t)
			case n.DataAtom == atom.Area && enter:
				if u, ok := extCleanHref(extAttr(n, "href")); ok {
					c.fill(c.add(Link{URL: u, Source: "html"}), extCollapse(extAttr(n, "alt")))
				}
			case n.DataAtom == atom.Img && enter && len(open) > 0:
				if a := open[len(open)-1]; a.alt == "" {
					a.alt = extAttr(n, "alt")
				}
			case enter && len(open) > 0 && extBlock(n.DataAtom):
				open[len(open)-1].text.WriteByte(' ')
			}
		}
		return true
	})
}

// extParse parses mail HTML the way a mail client renders it: scripting
// off, so <noscript> content is markup that gets displayed.
func extParse(src string) (*html.Node, error) {
	return html.ParseWithOptions(strings.NewReader(src), html.ParseOptionEnableScripting(false))
}

// extWalk visits the tree under root in document order without
// recursion (mail HTML can nest arbitrarily deep). fn is called on entry
// (enter true) and, unless it returned false to skip the children, on
// exit.
func extWalk(root *html.Node, fn func(n *html.Node, enter bool) bool) {
	type frame struct {
		n    *html.Node
		exit bool
	}
	stack := []frame{{n: root}}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if f.exit {
			fn(f.n, false)
			continue
		}
		if !fn(f.n, true) {
			continue
		}
		stack = append(stack, frame{n: f.n, exit: true})
		for ch := f.n.LastChild; ch != nil; ch = ch.PrevSibling {
			stack = append(stack, frame{n: ch})
		}
	}
}

// extSkipElement reports whether an element's content is not visible
// text (scripts, styles, templates, iframe fallback text).
func extSkipElement(a atom.Atom) bool {
	switch a {
	case atom.Script, atom.Style, atom.Template, atom.Iframe:
		return true
	}
	return false
}

// extBlock reports whether an element breaks the line in rendered text.
func extBlock(a atom.Atom) bool {
	switch a {
	case atom.Address, atom.Article, atom.Aside, atom.Blockquote, atom.Br, atom.Center, atom.Dd,
		atom.Div, atom.Dl, atom.Dt, atom.Fieldset, atom.Figcaption, atom.Figure, atom.Footer,
		atom.Form, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Header, atom.Hr,
		atom.Li, atom.Main, atom.Nav, atom.Ol, atom.P, atom.Pre, atom.Section, atom.Table,
		atom.Tbody, atom.Td, atom.Tfoot, atom.Th, atom.Thead, atom.Tr, atom.Ul, atom.Body, atom.Title:
		return true
	}
	return false
}

// extAttr returns the value of attribute key of n, or "". An SVG link's
// xlink:href counts as href.
func extAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key && (a.Namespace == "" || a.Namespace == "xlink" && key == "href") {
			return a.Val
		}
	}
	return ""
}

// extCollapse replaces runs of white space (including no-break spaces)
// with one space and trims.
func extCollapse(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// extCleanHref normalizes an href the way a browser does (leading and
// trailing spaces and controls stripped, tabs and newlines removed) and
// reports whether it is an http, https or mailto URL.
func extCleanHref(h string) (string, bool) {
	h = strings.TrimFunc(h, func(r rune) bool { return r <= ' ' })
	if strings.ContainsAny(h, "\t\r\n") {
		h = strings.NewReplacer("\t", "", "\r", "", "\n", "").Replace(h)
	}
	return h, extValidURL(h)
}

// extSchemes are the URL schemes we extract, lower case with their
// separator.
var extSchemes = []string{"https://", "http://", "mailto:"}

// extValidURL reports whether u starts with an extracted scheme and has
// something after it (a host starting with a letter, digit or '[' for
// http and https).
func extValidURL(u string) bool {
	for _, s := range extSchemes {
		if len(u) <= len(s) || !strings.EqualFold(u[:len(s)], s) {
			continue
		}
		rest := u[len(s):]
		if s == "mailto:" {
			return strings.TrimSpace(rest) != ""
		}
		r, _ := utf8.DecodeRuneInString(rest)
		return r == '[' || unicode.IsLetter(r) || unicode.IsDigit(r)
	}
	return false
}

// extSpan is a URL found in text: its byte range and the URL itself
// (whitespace removed for the <URL> form, trailing punctuation trimmed
// for bare URLs).
type extSpan struct {
	start, end int
	url        string
}

// extScanURLs finds the http(s) and mailto URLs of plain text, in order.
// With www, "www." host names without a scheme are found too (their url
// is then not a valid link; used to blank them out for code detection).
func extScanURLs(s string, www bool) []extSpan {
	var out []extSpan
	for i := 0; i < len(s); {
		start, body := extNextURL(s, i, www)
		if start < 0 {
			break
		}
		// <URL> and <URL:…>: the URL runs to the '>' (looked for in the
		// next 4 KiB only) and may be wrapped.
		if open := extAngleOpen(s, start); open >= 0 {
			if j := strings.IndexByte(s[body:min(len(s), body+4096)], '>'); j >= 0 && !strings.Contains(s[body:body+j], "<") {
				end := body + j
				u := strings.Join(strings.Fields(s[start:end]), "")
				if extValidURL(u) {
					out = append(out, extSpan{start: open, end: end + 1, url: u})
				}
				i = end + 1
				continue
			}
		}
		end := extBareEnd(s, body)
		u := s[start:end]
		if extValidURL(u) || (www && len(u) > 4) {
			out = append(out, extSpan{start: start, end: end, url: u})
		}
		i = max(end, body)
	}
	return out
}

// extNextURL finds the next URL start at or after i: a scheme (or "www."
// when www is set) not preceded by a letter or digit. It returns the start
// and the offset just after the scheme, or -1.
func extNextURL(s string, i int, www bool) (start, body int) {
	seps := ":"
	if www {
		seps = ":."
	}
	for i < len(s) {
		j := strings.IndexAny(s[i:], seps)
		if j < 0 {
			return -1, -1
		}
		p := i + j
		i = p + 1
		var cands []string
		if s[p] == ':' {
			cands = []string{"https", "http", "mailto"}
		} else if www {
			cands = []string{"www"}
		}
		for _, name := range cands {
			st := p - len(name)
			if st < 0 || !strings.EqualFold(s[st:p], name) || (st > 0 && extIsAlnum(s[st-1])) {
				continue
			}
			b := p + 1
			if strings.HasPrefix(name, "http") {
				if !strings.HasPrefix(s[b:], "//") {
					continue
				}
				b += 2
			}
			return st, b
		}
	}
	return -1, -1
}

// extAngleOpen returns the offset of the '<' of "<URL" or "<URL:URL"
// before start, or -1.
func extAngleOpen(s string, start int) int {
	if start > 0 && s[start-1] == '<' {
		return start - 1
	}
	if start >= 5 && strings.EqualFold(s[start-5:start], "<url:") {
		return start - 5
	}
	return -1
}

// extBareEnd returns the end of a bare URL whose body starts at i: up to
// white space, a control, a delimiter (< > " `) or a non-ASCII rune that
// is not a letter, digit or mark; then trailing punctuation is trimmed,
// and closing brackets without an opening one in the URL.
func extBareEnd(s string, i int) int {
	j := i
	for j < len(s) {
		r, n := utf8.DecodeRuneInString(s[j:])
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || r == '"' || r == '`' {
			break
		}
		if r >= utf8.RuneSelf && !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)) {
			break
		}
		j += n
	}
	// Bracket balance of the whole URL, updated as characters are trimmed.
	bal := map[byte]int{}
	for k := i; k < j; k++ {
		switch s[k] {
		case '(', '[', '{':
			bal[s[k]]++
		case ')':
			bal['(']--
		case ']':
			bal['[']--
		case '}':
			bal['{']--
		}
	}
	for j > i {
		switch c := s[j-1]; c {
		case '.', ',', ':', ';', '!', '?', '\'', '"', '*', '_', '~':
			j--
		case ')', ']', '}':
			o := byte('(')
			if c == ']' {
				o = '['
			} else if c == '}' {
				o = '{'
			}
			if bal[o] >= 0 {
				return j
			}
			bal[o]++
			j--
		default:
			return j
		}
	}
	return j
}

// extIsAlnum reports whether b is an ASCII letter or digit.
func extIsAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// ExtractCodes returns the likely one-time codes (verification codes,
// PINs, OTPs) of a message in document order, deduplicated: subject
// first, then text, then the visible text of html (head, scripts and
// styles left out; block elements and table cells end lines). It never
// returns nil.
//
// A candidate is an ASCII token of 4–8 digits, or of 4–10 upper-case
// letters and digits with at least one digit. It counts only near a
// keyword: in the same sentence and at most 12 words away (before or
// after), or in the first sentence of the next non-empty line after a
// line with a keyword. Keywords are matched per word, case-insensitively:
// code/codes and compounds ending in "code" or "kode" (Sicherheitscode),
// PIN, OTP, 2FA, MFA, passcode, token, one-time / one time, any word
// starting with verif/vérif (verify, verification), confirm (confirm,
// confirmation), bestätig, bevestig, conferm; Kennwort, código, codice,
// kod, kode, koodi, код; and the substrings コード, 验证码, 驗證碼, 认证码,
// 校验码, 인증번호, 인증 코드, 認証番号, 暗証番号. "code" after zip, postal,
// area, country, source, error, status, exit, promo, discount, coupon, …
// and compounds such as barcode, unicode or decode don't count.
//
// Excluded: anything inside URLs (with or without scheme) and e-mail
// addresses; tokens joined to other letters or digits by - _ / \ @ (IDs,
// dates like 2026-11-26, also "G-123456"), or to digits by . : ,
// (decimals, times, 1,234); tokens after # (order numbers), + or a
// currency sign, or before % or a currency sign or name; tokens in
// [brackets] (log process ids); digit runs next to a month name;
// phone-like runs (3+ digit groups, or 2+ with + or parentheses); digits
// with a unit or ordinal suffix (10AM, 5MB, 21ST). A 4-digit number from
// 1900 to 2099 is taken only in strong context, since otherwise it is
// most likely a year: right after a keyword with nothing but punctuation
// or "is" between ("PIN: 2024", "Your code is 1987"), or alone on the
// line after a keyword line.
func ExtractCodes(subject, text, html string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, src := range []string{subject, text, extHTMLText(html)} {
		for _, c := range extCodesIn(src) {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// extHTMLText returns the visible text of an HTML document, with a line
// break at every block element (table cells included) and without the
// head, scripts and styles.
func extHTMLText(src string) string {
	if strings.TrimSpace(src) == "" {
		return ""
	}
	doc, err := extParse(src)
	if err != nil {
		return ""
	}
	var b strings.Builder
	extWalk(doc, func(n *html.Node, enter bool) bool {
		switch n.Type {
		case html.TextNode:
			if enter {
				b.WriteString(n.Data)
			}
		case html.ElementNode:
			if extSkipElement(n.DataAtom) || n.DataAtom == atom.Head {
				return false
			}
			if extBlock(n.DataAtom) {
				b.WriteByte('\n')
			}
		}
		return true
	})
	return b.String()
}

// extCodesIn returns the codes of one text, in order, possibly repeated.
func extCodesIn(s string) []string {
	if s == "" {
		return nil
	}
	s = extBlankAddresses(s)
	var out []string
	prevKW := false // the previous non-empty line has a keyword
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		lineKW := false
		lineText := "" // the line without surrounding punctuation, when needed
		for si, seg := range extSentences(line) {
			kws := extKeywords(seg)
			lineKW = lineKW || len(kws) > 0
			afterKWLine := si == 0 && prevKW
			if len(kws) == 0 && !afterKWLine {
				continue
			}
			toks := extTokens(seg)
			if len(toks) == 0 {
				continue
			}
			words := extWordStarts(seg)
			for _, tk := range toks {
				ok, year := extCodeToken(seg, tk[0], tk[1])
				if !ok {
					continue
				}
				// The keywords just before and just after the token.
				j := sort.Search(len(kws), func(i int) bool { return kws[i][0] > tk[0] })
				near := afterKWLine
				w := extWordIndex(words, tk[0])
				if j < len(kws) && extWordIndex(words, kws[j][0])-w <= extNearWords {
					near = true
				}
				if j > 0 && w-extWordIndex(words, kws[j-1][0]) <= extNearWords {
					near = true
				}
				if !near {
					continue
				}
				tok := seg[tk[0]:tk[1]]
				if year {
					strong := j > 0 && kws[j-1][1] <= tk[0] && w-extWordIndex(words, kws[j-1][0]) <= 3 &&
						extOnlyFiller(seg[kws[j-1][1]:tk[0]])
					if afterKWLine && lineText == "" {
						lineText = strings.TrimFunc(line, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
					}
					alone := afterKWLine && lineText == tok
					if !strong && !alone {
						continue
					}
				}
				out = append(out, tok)
			}
		}
		prevKW = lineKW
	}
	return out
}

// extNearWords is how many words a code may be from its keyword in the
// same sentence ("Your verification code for your Example account is
// 482913": 6).
const extNearWords = 12

// extWordStarts returns the byte offsets where the words (runs of
// letters, digits and marks) of seg start.
func extWordStarts(seg string) []int {
	var out []int
	in := false
	for i, r := range seg {
		w := extWordRune(r)
		if w && !in {
			out = append(out, i)
		}
		in = w
	}
	return out
}

// extWordIndex returns the number of words starting at or before off.
func extWordIndex(words []int, off int) int {
	return sort.SearchInts(words, off+1)
}

// extBlankAddresses replaces URLs (also scheme-less www. ones) and e-mail
// addresses with spaces, keeping line breaks and byte offsets.
func extBlankAddresses(s string) string {
	b := []byte(s)
	blank := func(i, j int) {
		for k := i; k < j; k++ {
			if b[k] != '\n' && b[k] != '\r' {
				b[k] = ' '
			}
		}
	}
	for _, sp := range extScanURLs(s, true) {
		blank(sp.start, sp.end)
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '@' {
			continue
		}
		l := i
		for l > 0 && (extIsAlnum(b[l-1]) || strings.IndexByte("._%+-", b[l-1]) >= 0) {
			l--
		}
		r := i + 1
		for r < len(b) && (extIsAlnum(b[r]) || b[r] == '.' || b[r] == '-') {
			r++
		}
		if l < i && r > i+1 {
			blank(l, r)
			i = r - 1
		}
	}
	return string(b)
}

// extSentences splits a line into sentences: after . ! ? followed by
// white space, and after the CJK full stops 。！？.
func extSentences(line string) []string {
	var out []string
	start := 0
	for i, r := range line {
		end := -1
		switch r {
		case '。', '！', '？':
			end = i + utf8.RuneLen(r)
		case '.', '!', '?':
			if next, _ := utf8.DecodeRuneInString(line[i+1:]); i+1 == len(line) || unicode.IsSpace(next) {
				end = i + 1
			}
		}
		if end > start {
			out = append(out, line[start:end])
			start = end
		}
	}
	if start < len(line) {
		out = append(out, line[start:])
	}
	return out
}

// extCJKKeywords are keywords matched as substrings: scripts without
// spaces between words.
var extCJKKeywords = []string{"コード", "验证码", "驗證碼", "认证码", "校验码", "인증번호", "인증 코드", "認証番号", "暗証番号"}

// extCodeNegPrev are words that, before "code", make it not an OTP
// keyword ("zip code", "promo code").
var extCodeNegPrev = map[string]bool{
	"zip": true, "postal": true, "post": true, "area": true, "country": true, "dialing": true,
	"dialling": true, "source": true, "error": true, "status": true, "response": true, "color": true,
	"colour": true, "tax": true, "sort": true, "swift": true, "bank": true, "promo": true,
	"promotion": true, "promotional": true, "discount": true, "coupon": true, "voucher": true,
	"gift": true, "referral": true, "qr": true, "bar": true, "html": true, "css": true,
	"program": true, "dress": true, "morse": true, "product": true,
	"reference": true, "airport": true, "iata": true, "exit": true, "return": true, "http": true,
	"smtp": true, "result": true, "reason": true, "reply": true, "diagnostic": true, "ascii": true,
	"char": true, "character": true, "key": true, "hex": true, "machine": true, "object": true,
}

// extCodeNegCompound are words ending in "code" that are not OTP words.
var extCodeNegCompound = map[string]bool{
	"zipcode": true, "postcode": true, "barcode": true, "qrcode": true, "unicode": true,
	"decode": true, "encode": true, "transcode": true, "opcode": true, "shortcode": true,
	"geocode": true, "pseudocode": true, "sourcecode": true, "errorcode": true, "statuscode": true,
	"areacode": true, "countrycode": true, "colorcode": true, "hashcode": true, "promocode": true,
	"dresscode": true, "rabattcode": true, "gutscheincode": true, "aktionscode": true,
	"postleitcode": true, "barcodes": true, "qrcodes": true,
}

// extKeywordWords are whole-word keywords (lower case).
var extKeywordWords = map[string]bool{
	"pin": true, "pins": true, "otp": true, "otps": true, "2fa": true, "mfa": true,
	"passcode": true, "passcodes": true, "token": true, "tokens": true, "one-time": true,
	"onetime": true, "kennwort": true, "código": true, "códigos": true, "codigo": true,
	"codigos": true, "codice": true, "codici": true, "код": true, "кода": true, "коду": true,
	"кодом": true, "коды": true, "kod": true, "kodu": true, "kody": true, "koden": true,
	"kode": true, "koodi": true,
}

// extKeywordPrefixes are keyword stems: verify, verification, confirm…
var extKeywordPrefixes = []string{"verif", "vérif", "confirm", "bestätig", "bevestig", "conferm"}

// extKeywords returns the byte spans of the keywords of a sentence, in
// order.
func extKeywords(seg string) [][2]int {
	var out [][2]int
	prev := ""
	for i := 0; i < len(seg); {
		r, n := utf8.DecodeRuneInString(seg[i:])
		if !extWordRune(r) {
			i += n
			continue
		}
		j := i
		for j < len(seg) {
			r, n := utf8.DecodeRuneInString(seg[j:])
			if !extWordRune(r) && !(r == '-' && j+1 < len(seg)) {
				break
			}
			j += n
		}
		w := strings.ToLower(strings.Trim(seg[i:j], "-"))
		if extKeywordWord(w, prev) || (prev == "one" && w == "time") {
			out = append(out, [2]int{i, j})
		}
		prev = w
		i = j
	}
	cjk := false
	for _, k := range extCJKKeywords {
		for off := 0; ; {
			p := strings.Index(seg[off:], k)
			if p < 0 {
				break
			}
			out = append(out, [2]int{off + p, off + p + len(k)})
			off += p + len(k)
			cjk = true
		}
	}
	if cjk {
		sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	}
	return out
}

// extWordRune reports whether r belongs to a word for keyword matching.
func extWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// extKeywordWord reports whether the lower-case word w (possibly
// hyphenated), following word prev, is a code keyword.
func extKeywordWord(w, prev string) bool {
	if extKeywordWords[w] {
		return true
	}
	for _, part := range strings.Split(w, "-") {
		if part == "" {
			continue
		}
		partPrev := prev
		prev = part
		if extKeywordWords[part] {
			return true
		}
		for _, p := range extKeywordPrefixes {
			if strings.HasPrefix(part, p) {
				return true
			}
		}
		if strings.HasSuffix(part, "code") || strings.HasSuffix(part, "codes") ||
			(strings.HasSuffix(part, "kode") && len(part) > 4) {
			if extCodeNegCompound[part] || ((part == "code" || part == "codes") && extCodeNegPrev[partPrev]) {
				continue
			}
			return true
		}
	}
	return false
}

// extTokens returns the byte spans of the maximal ASCII letter/digit runs
// of seg that are 4 to 10 bytes long.
func extTokens(seg string) [][2]int {
	var out [][2]int
	for i := 0; i < len(seg); {
		if !extIsAlnum(seg[i]) {
			i++
			continue
		}
		j := i
		for j < len(seg) && extIsAlnum(seg[j]) {
			j++
		}
		if n := j - i; n >= 4 && n <= 10 {
			out = append(out, [2]int{i, j})
		}
		i = j
	}
	return out
}

// extUnitSuffixes are suffixes that make "digits+letters" a quantity,
// time or ordinal rather than a code.
var extUnitSuffixes = map[string]bool{
	"AM": true, "PM": true, "ST": true, "ND": true, "RD": true, "TH": true, "KB": true,
	"MB": true, "GB": true, "TB": true, "PX": true, "PT": true, "MM": true, "CM": true,
	"KM": true, "KG": true, "MG": true, "ML": true, "MS": true, "HZ": true, "KHZ": true,
	"MHZ": true, "GHZ": true, "H": true, "MIN": true, "D": true, "K": true, "M": true,
	"G": true, "P": true, "X": true, "S": true, "FPS": true, "KBPS": true, "MBPS": true,
}

// extMonths are month names and abbreviations (lower case).
var extMonths = map[string]bool{
	"jan": true, "feb": true, "mar": true, "apr": true, "may": true, "jun": true, "jul": true,
	"aug": true, "sep": true, "sept": true, "oct": true, "nov": true, "dec": true,
	"january": true, "february": true, "march": true, "april": true, "june": true,
	"july": true, "august": true, "september": true, "october": true, "november": true,
	"december": true,
}

// extCurrencyWords are currency names and codes that follow an amount.
var extCurrencyWords = map[string]bool{
	"usd": true, "eur": true, "gbp": true, "chf": true, "jpy": true, "cad": true, "aud": true,
	"dollars": true, "dollar": true, "euro": true, "euros": true, "pounds": true, "yen": true,
}

// extCodeToken decides whether seg[st:en] is a code candidate, and
// whether it looks like a year (so needs strong context).
func extCodeToken(seg string, st, en int) (ok, year bool) {
	tok := seg[st:en]
	digits, letters := 0, 0
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'A' && c <= 'Z':
			letters++
		default:
			return false, false // lower case: a word, not a code
		}
	}
	if letters == 0 && len(tok) > 8 || digits == 0 {
		return false, false
	}
	if letters > 0 {
		if i := strings.IndexFunc(tok, func(r rune) bool { return r >= 'A' }); i > 0 &&
			strings.IndexFunc(tok[i:], func(r rune) bool { return r < 'A' }) < 0 && extUnitSuffixes[tok[i:]] {
			return false, false // 10AM, 5MB, 21ST
		}
	}

	var p1, p2, n1, n2 byte // the bytes before and after the token
	if st > 0 {
		p1 = seg[st-1]
	}
	if st > 1 {
		p2 = seg[st-2]
	}
	if en < len(seg) {
		n1 = seg[en]
	}
	if en+1 < len(seg) {
		n2 = seg[en+1]
	}
	isDigit := func(b byte) bool { return b >= '0' && b <= '9' }
	switch p1 {
	case '-', '_', '/', '\\', '@':
		if extIsAlnum(p2) {
			return false, false
		}
	case '.', ':', ',':
		if isDigit(p2) {
			return false, false
		}
	case '#', '+', '$', '%':
		return false, false
	}
	switch n1 {
	case '-', '_', '/', '\\', '@':
		if extIsAlnum(n2) {
			return false, false
		}
	case '.', ':', ',':
		if isDigit(n2) {
			return false, false
		}
	case '%', '$':
		return false, false
	}
	if p1 == '[' && n1 == ']' {
		return false, false // [4446]: a process id or reference in a log line
	}
	before := strings.TrimRight(seg[:st], " \u00a0")
	after := strings.TrimLeft(seg[en:], " \u00a0")
	if r, _ := utf8.DecodeLastRuneInString(before); unicode.Is(unicode.Sc, r) {
		return false, false // $ € £ ¥ ₹ before: a price
	}
	if r, _ := utf8.DecodeRuneInString(after); unicode.Is(unicode.Sc, r) {
		return false, false
	}
	nextWord := strings.ToLower(extFirstWord(after))
	if extCurrencyWords[nextWord] {
		return false, false
	}
	if letters == 0 {
		if extMonths[nextWord] || extMonths[strings.ToLower(extLastWord(before))] {
			return false, false // 26 Nov 2026, Nov 2026
		}
		if extPhoneLike(seg, st, en) {
			return false, false
		}
		if len(tok) == 4 {
			v, _ := strconv.Atoi(tok)
			year = v >= 1900 && v <= 2099
		}
	}
	return true, year
}

// extFirstWord returns the leading run of letters of s.
func extFirstWord(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	if i < 0 {
		return s
	}
	return s[:i]
}

// extLastWord returns the trailing run of letters of s (a comma after it
// allowed: "Nov, 2026").
func extLastWord(s string) string {
	s = strings.TrimRight(s, ", ")
	i := strings.LastIndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	return s[i+1:]
}

// extPhoneLike reports whether the digits at seg[st:en] belong to a
// phone-number-like run: digit groups joined by spaces, dashes, dots,
// slashes or parentheses, with three or more groups, or two or more and
// a '+' or '('.
func extPhoneLike(seg string, st, en int) bool {
	const chars = "0123456789 -./()+"
	const reach = 24 // phone numbers are short; bounded for linear time
	a, b := st, en
	for a > 0 && st-a < reach && strings.IndexByte(chars, seg[a-1]) >= 0 {
		a--
	}
	for b < len(seg) && b-en < reach && strings.IndexByte(chars, seg[b]) >= 0 {
		b++
	}
	run := seg[a:b]
	groups := 0
	for i := 0; i < len(run); i++ {
		if run[i] >= '0' && run[i] <= '9' && (i == 0 || run[i-1] < '0' || run[i-1] > '9') {
			groups++
		}
	}
	return groups >= 3 || groups >= 2 && strings.ContainsAny(run, "+(")
}

// extOnlyFiller reports whether the text between a keyword and a token
// holds nothing but punctuation, spaces and the word "is" (or its
// translations): "PIN: 2024", "Your code is 1987".
func extOnlyFiller(between string) bool {
	for _, w := range strings.FieldsFunc(between, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		switch strings.ToLower(w) {
		case "is", "ist", "est", "es", "är", "er", "lautet", "è", "é":
		default:
			return false
		}
	}
	return true
}
