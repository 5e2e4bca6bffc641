package webui

import (
	"bytes"
	"cmp"
	_ "embed" // for the caniemail data set
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// caniemailJSON is the caniemail.com support data (MIT, see
// caniemail/README.md). It is parsed on use by parseCaniemail.
//
//go:embed caniemail/caniemail.json
var caniemailJSON []byte

// cieData is the parsed caniemail data set, reduced to what the HTML check
// reports.
type cieData struct {
	features  map[string]*cieFeature // by slug
	platforms map[string][]string    // platform → family nicenames, sorted
	famNames  map[string]string      // family → nicename
	platNames map[string]string      // platform → nicename
}

// cieFeature is one caniemail feature with, per family and platform, the
// support of the latest tested version.
type cieFeature struct {
	Slug        string            `json:"slug"`
	Title       string            `json:"title"`
	Description *string           `json:"description"`
	URL         string            `json:"url"`
	Category    string            `json:"category"`
	Tags        []string          `json:"tags"`
	Keywords    *string           `json:"keywords"`
	Notes       map[string]string `json:"notes_by_num"`
	Stats       cieStats          `json:"stats"`
}

// cieStats is a feature's "stats" object, family → platform → version →
// support, kept in document order: caniemail lists versions oldest first,
// and version strings ("2019-10", "16.80") do not sort by themselves.
type cieStats []cieClient

// cieClient is the latest known result of one family on one platform.
type cieClient struct {
	Family, Platform, Version string
	Support                   string // "y", "n", "a" (partial)
	Note                      string // note number, "" if none
}

// UnmarshalJSON decodes the stats object. Of each family/platform it keeps
// the last version, in document order, whose support is known ("u",
// unknown, is skipped).
func (cs *cieStats) UnmarshalJSON(b []byte) error {
	var out cieStats
	err := eachMember(b, func(family string, platforms []byte) error {
		return eachMember(platforms, func(platform string, versions []byte) error {
			c, err := latestResult(versions)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", family, platform, err)
			}
			if c.Support != "" {
				c.Family, c.Platform = family, platform
				out = append(out, c)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	*cs = out
	return nil
}

// eachMember calls f with each key and raw value of the JSON object b,
// whose values are objects or strings. b is already valid JSON (the
// decoder checked it), so this only needs to find the boundaries.
func eachMember(b []byte, f func(key string, val []byte) error) error {
	rest := bytes.TrimSpace(b)
	if len(rest) < 2 || rest[0] != '{' {
		return errors.New("want an object")
	}
	rest = rest[1:]
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n,")
		if len(rest) == 0 || rest[0] == '}' {
			return nil
		}
		key, after, err := jsonString(rest)
		if err != nil {
			return err
		}
		after = bytes.TrimLeft(after, " \t\r\n")
		if len(after) == 0 || after[0] != ':' {
			return errors.New("want a colon")
		}
		after = bytes.TrimLeft(after[1:], " \t\r\n")
		n, err := valueLen(after)
		if err != nil {
			return err
		}
		if err := f(key, after[:n]); err != nil {
			return err
		}
		rest = after[n:]
	}
}

// valueLen returns the length of the JSON string or object at the start
// of b.
func valueLen(b []byte) (int, error) {
	if len(b) > 0 && b[0] == '"' {
		_, after, err := jsonString(b)
		return len(b) - len(after), err
	}
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, errors.New("want a string or an object")
}

// latestResult scans a flat JSON object of version → support strings
// such as {"2019-10": "n", "16.80": "a #1"} and returns the last entry
// whose support is known, Family and Platform unset; Support is "" when
// there is none.
func latestResult(b []byte) (cieClient, error) {
	var last cieClient
	err := eachMember(b, func(version string, val []byte) error {
		v, _, err := jsonString(val)
		if err != nil {
			return err
		}
		support, note, _ := strings.Cut(strings.TrimSpace(v), " ")
		if support != "" && support != "u" {
			last = cieClient{Version: version, Support: support, Note: noteNumber(note)}
		}
		return nil
	})
	return last, err
}

// jsonString reads the JSON string at the start of b and returns it and
// what follows.
func jsonString(b []byte) (string, []byte, error) {
	if len(b) == 0 || b[0] != '"' {
		return "", nil, errors.New("want a string")
	}
	escaped := false
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			if !escaped {
				return string(b[1:i]), b[i+1:], nil
			}
			var s string
			if err := json.Unmarshal(b[:i+1], &s); err != nil {
				return "", nil, fmt.Errorf("string: %w", err)
			}
			return s, b[i+1:], nil
		}
	}
	return "", nil, errors.New("unterminated string")
}

// noteNumber returns the first "#n" reference of a support value's
// remainder ("#1", "#2 #3") without the "#".
func noteNumber(s string) string {
	for f := range strings.FieldsSeq(s) {
		if n, ok := strings.CutPrefix(f, "#"); ok && n != "" {
			return n
		}
	}
	return ""
}

// parseCaniemail parses the embedded data set.
func parseCaniemail(b []byte) (*cieData, error) {
	var raw struct {
		Nice struct {
			Family   map[string]string `json:"family"`
			Platform map[string]string `json:"platform"`
		} `json:"nicenames"`
		Data []*cieFeature `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("parse caniemail data: %w", err)
	}
	d := &cieData{
		features:  make(map[string]*cieFeature, len(raw.Data)),
		platforms: map[string][]string{},
		famNames:  raw.Nice.Family,
		platNames: raw.Nice.Platform,
	}
	for _, f := range raw.Data {
		d.features[f.Slug] = f
		for _, c := range f.Stats {
			name := d.familyName(c.Family)
			if !slices.Contains(d.platforms[c.Platform], name) {
				d.platforms[c.Platform] = append(d.platforms[c.Platform], name)
			}
		}
	}
	for _, names := range d.platforms {
		slices.Sort(names)
	}
	return d, nil
}

func (d *cieData) familyName(f string) string {
	if n, ok := d.famNames[f]; ok {
		return n
	}
	return f
}

func (d *cieData) platformName(p string) string {
	if n, ok := d.platNames[p]; ok {
		return n
	}
	return p
}

// htmlCheckResponse is Mailpit's HTMLCheckResponse.
type htmlCheckResponse struct {
	Platforms map[string][]string `json:"Platforms"`
	Total     htmlCheckTotal      `json:"Total"`
	Warnings  []htmlCheckWarning  `json:"Warnings"`
}

// htmlCheckTotal is the overall result. Supported, Partial and
// Unsupported are percentages; see weighTotal.
type htmlCheckTotal struct {
	Nodes       int     `json:"Nodes"`
	Tests       int     `json:"Tests"`
	Supported   float64 `json:"Supported"`
	Partial     float64 `json:"Partial"`
	Unsupported float64 `json:"Unsupported"`
}

// htmlCheckWarning is one feature the message uses that some clients do
// not fully support.
type htmlCheckWarning struct {
	Slug          string            `json:"Slug"`
	Title         string            `json:"Title"`
	Description   string            `json:"Description"` // HTML
	Category      string            `json:"Category"`    // "html" or "css"
	Keywords      string            `json:"Keywords"`
	URL           string            `json:"URL"`
	Tags          []string          `json:"Tags"`
	NotesByNumber map[string]string `json:"NotesByNumber"` // HTML
	Score         htmlCheckScore    `json:"Score"`
	Results       []htmlCheckResult `json:"Results"`
}

// htmlCheckScore: Found is how often the message uses the feature; the
// percentages are over Results.
type htmlCheckScore struct {
	Found       int     `json:"Found"`
	Supported   float64 `json:"Supported"`
	Partial     float64 `json:"Partial"`
	Unsupported float64 `json:"Unsupported"`
}

// htmlCheckResult is the support of the latest tested version of one
// client family on one platform.
type htmlCheckResult struct {
	Family     string `json:"Family"`   // caniemail key, e.g. "outlook"
	Name       string `json:"Name"`     // e.g. "Outlook Windows (2019)"
	Platform   string `json:"Platform"` // caniemail key, e.g. "windows"
	Version    string `json:"Version"`
	Support    string `json:"Support"`    // "yes", "no" or "partial"
	NoteNumber string `json:"NoteNumber"` // key of NotesByNumber, "" if none
}

// handleHTMLCheck: GET /api/v1/message/{id}/html-check reports which HTML
// and CSS features of the message's HTML part email clients do not fully
// support, from the caniemail.com data, as Mailpit does. Linked
// stylesheets are not fetched. A message without HTML is a 400.
func (s *Server) handleHTMLCheck(w http.ResponseWriter, r *http.Request) {
	m, err := s.getMessage(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if strings.TrimSpace(m.HTML) == "" {
		s.writeError(w, r, fmt.Errorf("%w: message has no HTML part", errBadRequest))
		return
	}
	data, err := s.caniemail()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, checkHTML(data, m.HTML))
}

// caniemail returns the parsed data set. Parsing takes about 8 ms, so it
// is done per check rather than at start-up for a feature that is rarely
// used; a Server field set in New with sync.OnceValues would keep it.
func (s *Server) caniemail() (*cieData, error) {
	return s.cie()
}

// checkHTML runs the compatibility check on src.
func checkHTML(d *cieData, src string) htmlCheckResponse {
	nodes, used := scanHTML(src)
	out := htmlCheckResponse{
		Platforms: d.platforms,
		Total:     htmlCheckTotal{Nodes: nodes, Tests: countTests(d)},
		Warnings:  []htmlCheckWarning{},
	}
	for slug, found := range used {
		if w, ok := d.warning(slug, found); ok {
			out.Warnings = append(out.Warnings, w)
		}
	}
	weight := func(w htmlCheckWarning) float64 {
		return (w.Score.Partial + w.Score.Unsupported) * foundShare(w.Score.Found, nodes)
	}
	slices.SortFunc(out.Warnings, func(a, b htmlCheckWarning) int {
		return cmp.Or(cmp.Compare(weight(b), weight(a)), cmp.Compare(a.Slug, b.Slug))
	})
	out.Total.Supported, out.Total.Partial, out.Total.Unsupported = weighTotal(out.Warnings, nodes)
	return out
}

// foundShare is the share of the message's nodes that use a feature,
// at most 1.
func foundShare(found, nodes int) float64 {
	if nodes <= 0 {
		return 0
	}
	return min(float64(found)/float64(nodes), 1)
}

// weighTotal follows Mailpit: Partial and Unsupported are the largest
// percentage of any warning weighted by the share of nodes using it, and
// Supported is what remains of 100.
func weighTotal(ws []htmlCheckWarning, nodes int) (supported, partial, unsupported float64) {
	for _, w := range ws {
		share := foundShare(w.Score.Found, nodes)
		partial = max(partial, w.Score.Partial*share)
		unsupported = max(unsupported, w.Score.Unsupported*share)
	}
	if partial+unsupported > 100 {
		partial = 100 - unsupported
	}
	return 100 - partial - unsupported, partial, unsupported
}

// countTests is the number of features the check can detect: the slugs
// of its tables that the data set has, plus <script>.
func countTests(d *cieData) int {
	seen := map[string]bool{}
	add := func(slug string) {
		if _, ok := d.features[slug]; ok {
			seen[slug] = true
		}
	}
	for _, tables := range []map[string]string{htmlElements, htmlAttributes, cssProperties, cssFunctions, cssValueWords, cssAtRules, cssMediaFeatures, imageFormats} {
		for _, slug := range tables {
			add(slug)
		}
	}
	for _, slug := range cssFixedSlugs {
		add(slug)
	}
	for slug := range d.features {
		if strings.HasPrefix(slug, "css-pseudo-") || strings.HasPrefix(slug, "css-unit-") || strings.HasPrefix(slug, "html-input-") || strings.HasPrefix(slug, "html-button-") {
			add(slug)
		}
	}
	return len(seen) + 1
}

// scriptSlug is Mailpit's own check for <script>, which caniemail does
// not list: no client runs it.
const scriptSlug = "html-script"

// warning builds the warning for a feature used found times; ok is false
// when the data set does not know the slug or every client supports it.
func (d *cieData) warning(slug string, found int) (htmlCheckWarning, bool) {
	if slug == scriptSlug {
		return htmlCheckWarning{
			Slug: slug, Title: "<script> element", Category: "html",
			Description:   "JavaScript is not supported in any email client.",
			Tags:          []string{},
			NotesByNumber: map[string]string{},
			Score:         htmlCheckScore{Found: found, Unsupported: 100},
			Results:       []htmlCheckResult{},
		}, true
	}
	f, ok := d.features[slug]
	if !ok {
		return htmlCheckWarning{}, false
	}
	w := htmlCheckWarning{
		Slug:          f.Slug,
		Title:         f.Title,
		Description:   markdownHTML(deref(f.Description)),
		Category:      f.Category,
		Keywords:      deref(f.Keywords),
		URL:           f.URL,
		Tags:          append([]string{}, f.Tags...),
		NotesByNumber: make(map[string]string, len(f.Notes)),
		Score:         htmlCheckScore{Found: found},
		Results:       make([]htmlCheckResult, 0, len(f.Stats)),
	}
	if w.Category != "css" {
		w.Category = "html" // image formats and others are about HTML elements
	}
	for n, note := range f.Notes {
		w.NotesByNumber[n] = markdownHTML(note)
	}
	var yes, no, partial int
	for _, c := range f.Stats {
		res := htmlCheckResult{
			Family:   c.Family,
			Platform: c.Platform,
			Version:  c.Version,
			Name:     fmt.Sprintf("%s %s (%s)", d.familyName(c.Family), d.platformName(c.Platform), c.Version),
			// Mailpit sets it for partial support only; caniemail also
			// explains some "no" results.
			NoteNumber: c.Note,
		}
		switch c.Support {
		case "y":
			yes++
			res.Support = "yes"
		case "n":
			no++
			res.Support = "no"
		default: // "a", partially supported
			partial++
			res.Support = "partial"
		}
		w.Results = append(w.Results, res)
	}
	total := yes + no + partial
	if total == 0 || yes == total {
		return htmlCheckWarning{}, false
	}
	w.Score.Supported = 100 * float64(yes) / float64(total)
	w.Score.Partial = 100 * float64(partial) / float64(total)
	w.Score.Unsupported = 100 * float64(no) / float64(total)
	return w, true
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// markdownHTML renders the little Markdown caniemail texts use (`code`
// and [links](url)) as HTML; everything else is escaped. Relative links
// point into caniemail.com.
func markdownHTML(md string) string {
	var b strings.Builder
	for len(md) > 0 {
		switch md[0] {
		case '`':
			if end := strings.IndexByte(md[1:], '`'); end >= 0 {
				b.WriteString("<code>" + html.EscapeString(md[1:1+end]) + "</code>")
				md = md[end+2:]
				continue
			}
		case '[':
			text, rest, ok1 := strings.Cut(md[1:], "](")
			href, after, ok2 := strings.Cut(rest, ")")
			if ok1 && ok2 && !strings.ContainsAny(text, "[]") && !strings.ContainsAny(href, " \n") {
				if strings.HasPrefix(href, "/") {
					href = "https://www.caniemail.com" + href
				}
				if strings.HasPrefix(href, "https://") || strings.HasPrefix(href, "http://") {
					fmt.Fprintf(&b, `<a href="%s" target="_blank">%s</a>`, html.EscapeString(href), markdownHTML(text))
				} else {
					b.WriteString(markdownHTML(text))
				}
				md = after
				continue
			}
		}
		b.WriteString(html.EscapeString(md[:1]))
		md = md[1:]
	}
	return b.String()
}

// Detection tables: what in a message maps to which caniemail slug. A
// slug the data set lacks is never reported.
var (
	// htmlElements maps element names to slugs. <body> counts only when
	// the HTML has one (the parser always adds it), see scanHTML.
	htmlElements = map[string]string{
		"abbr": "html-abbr", "acronym": "html-acronym", "address": "html-address",
		"audio": "html-audio", "base": "html-base", "bdi": "html-bdi",
		"blockquote": "html-blockquote", "code": "html-code", "del": "html-del",
		"dfn": "html-dfn", "dialog": "html-dialog", "div": "html-div", "form": "html-form",
		"hr": "html-hr", "img": "html-img", "link": "html-link", "marquee": "html-marquee",
		"meter": "html-meter", "object": "html-object", "embed": "html-object",
		"p": "html-p", "picture": "html-picture", "pre": "html-pre", "progress": "html-progress",
		"rp": "html-rp", "rt": "html-rt", "ruby": "html-ruby", "select": "html-select",
		"small": "html-small", "span": "html-span", "strike": "html-strike",
		"strong": "html-strong", "style": "html-style", "svg": "html-svg",
		"table": "html-table", "textarea": "html-textarea", "video": "html-video", "wbr": "html-wbr",
		"h1": "html-h1-h6", "h2": "html-h1-h6", "h3": "html-h1-h6",
		"h4": "html-h1-h6", "h5": "html-h1-h6", "h6": "html-h1-h6",
		"ul": "html-lists", "ol": "html-lists", "dl": "html-lists",
		"map":     "html-image-maps",
		"article": "html-semantics", "aside": "html-semantics", "details": "html-semantics",
		"figcaption": "html-semantics", "figure": "html-semantics", "footer": "html-semantics",
		"header": "html-semantics", "main": "html-semantics", "mark": "html-semantics",
		"nav": "html-semantics", "section": "html-semantics", "summary": "html-semantics",
		"time": "html-semantics",
	}

	// htmlAttributes maps attribute names (on any HTML element) to slugs.
	htmlAttributes = map[string]string{
		"align": "html-align", "background": "html-background",
		"cellpadding": "html-cellpadding", "cellspacing": "html-cellspacing",
		"dir": "html-dir", "height": "html-height", "hidden": "html-hidden",
		"lang": "html-lang", "required": "html-required", "role": "html-role",
		"srcset": "html-srcset", "sizes": "html-srcset", "target": "html-target",
		"valign": "html-valign", "width": "html-width", "popover": "html-popover",
		"loading": "html-loading-attribute", "usemap": "html-image-maps",
		"inert":            "css-inert-attribute",
		"aria-describedby": "html-aria-describedby", "aria-hidden": "html-aria-hidden",
		"aria-label": "html-aria-label", "aria-labelledby": "html-aria-labelledby",
		"aria-live": "html-aria-live",
	}

	// imageFormats maps <img src> file extensions to slugs.
	imageFormats = map[string]string{
		".apng": "image-apng", ".avif": "image-avif", ".bmp": "image-bmp",
		".gif": "image-gif", ".hdr": "image-hdr", ".heif": "image-heif",
		".heic": "image-heif", ".ico": "image-ico", ".jpg": "image-jpg",
		".jpeg": "image-jpg", ".mp4": "image-mp4", ".png": "image-png",
		".svg": "image-svg", ".tif": "image-tiff", ".tiff": "image-tiff",
		".webp": "image-webp",
	}

	// cssProperties maps property names, vendor prefix removed, to slugs.
	cssProperties = cssPropertyTable()

	// cssFunctions maps functions in property values to slugs.
	cssFunctions = map[string]string{
		"linear-gradient": "css-linear-gradient", "repeating-linear-gradient": "css-linear-gradient",
		"radial-gradient": "css-radial-gradient", "repeating-radial-gradient": "css-radial-gradient",
		"conic-gradient": "css-conic-gradient", "repeating-conic-gradient": "css-conic-gradient",
		"rgb": "css-rgb", "rgba": "css-rgba", "calc": "css-unit-calc",
		"clamp": "css-function-clamp", "min": "css-function-min", "max": "css-function-max",
		"light-dark": "css-function-light-dark", "var": "css-variables",
		"lch": "css-modern-color", "oklch": "css-modern-color",
		"lab": "css-modern-color", "oklab": "css-modern-color",
	}

	// cssValueWords maps keywords in property values to slugs.
	cssValueWords = map[string]string{
		"initial":     "css-unit-initial",
		"fit-content": "css-intrinsic-size", "min-content": "css-intrinsic-size",
		"max-content": "css-intrinsic-size",
		"system-ui":   "css-sytem-ui", "ui-serif": "css-sytem-ui", "ui-sans-serif": "css-sytem-ui",
		"ui-rounded": "css-sytem-ui", "ui-monospace": "css-sytem-ui",
	}

	// cssAtRules maps at-rule names, vendor prefix removed, to slugs.
	cssAtRules = map[string]string{
		"media": "css-at-media", "font-face": "css-at-font-face", "import": "css-at-import",
		"keyframes": "css-at-keyframes", "supports": "css-at-supports",
	}

	// cssMediaFeatures maps media features in @media preludes to slugs.
	cssMediaFeatures = map[string]string{
		"prefers-color-scheme":   "css-at-media-prefers-color-scheme",
		"prefers-reduced-motion": "css-at-media-prefers-reduced-motion",
		"orientation":            "css-at-media-orientation",
		"hover":                  "css-at-media-hover", "any-hover": "css-at-media-hover",
		"device-pixel-ratio": "css-at-media-device-pixel-ratio",
	}

	// cssFixedSlugs are detected by code rather than by a table.
	cssFixedSlugs = []string{
		"css-important", "css-comments", "css-nesting", "css-variables",
		"css-display-flex", "css-display-grid", "css-display-none",
		"css-flex-direction", "css-flex-wrap",
		"css-selector-adjacent-sibling", "css-selector-attribute", "css-selector-chaining",
		"css-selector-child", "css-selector-class", "css-selector-descendant",
		"css-selector-general-sibling", "css-selector-grouping", "css-selector-id",
		"css-selector-type", "css-selector-universal",
		"html-body", "html-comments", "html-doctype", "html-anchor-links",
		"html-mailto-links", "html-meta-color-scheme", "image-base64",
	}
)

// cssPropertyTable builds cssProperties: properties with a slug of their
// own, and the longhands caniemail reports under a shorthand's slug.
func cssPropertyTable() map[string]string {
	t := map[string]string{}
	for p := range strings.FieldsSeq(`accent-color align-items animation aspect-ratio
		backdrop-filter background background-blend-mode background-clip background-color
		background-image background-origin background-position background-repeat
		background-size border border-collapse border-image border-radius border-spacing
		box-shadow box-sizing caption-side clear clip-path color-scheme column-count cursor
		direction display empty-cells filter float font font-kerning font-size
		font-size-adjust font-stretch font-weight height hyphenate-character
		hyphenate-limit-chars hyphens inline-size inset justify-content letter-spacing
		line-height list-style list-style-image list-style-position list-style-type margin
		mask-image max-block-size max-height max-inline-size max-width min-block-size
		min-height min-inline-size min-width mix-blend-mode object-fit object-position
		opacity orphans outline outline-offset overflow overflow-wrap padding position
		resize shape-margin shape-outside tab-size table-layout text-align text-align-last
		text-decoration text-decoration-color text-decoration-line text-decoration-skip-ink
		text-decoration-style text-decoration-thickness text-emphasis
		text-emphasis-position text-indent text-justify text-orientation text-overflow
		text-shadow text-transform text-underline-offset text-underline-position text-wrap
		transform transition user-select vertical-align visibility white-space
		white-space-collapse widows width word-break word-spacing word-wrap writing-mode
		z-index`) {
		t[p] = "css-" + p
	}
	alias := func(slug, props string) {
		for p := range strings.FieldsSeq(props) {
			t[p] = slug
		}
	}
	for _, side := range []string{"", "-top", "-right", "-bottom", "-left"} {
		for _, part := range []string{"", "-width", "-style", "-color"} {
			if side+part != "" {
				t["border"+side+part] = "css-border"
			}
		}
		if side != "" {
			t["margin"+side] = "css-margin"
			t["padding"+side] = "css-padding"
		}
	}
	alias("css-border-radius", "border-top-left-radius border-top-right-radius border-bottom-left-radius border-bottom-right-radius")
	alias("css-border-radius-logical", "border-start-start-radius border-start-end-radius border-end-start-radius border-end-end-radius")
	alias("css-border-inline-block", "border-inline border-block")
	for _, axis := range []string{"inline", "block"} {
		for _, part := range []string{"color", "style", "width", "start", "end"} {
			t["border-"+axis+"-"+part] = "css-border-inline-block-individual"
		}
		for _, edge := range []string{"start", "end"} {
			for _, part := range []string{"color", "style", "width"} {
				t["border-"+axis+"-"+edge+"-"+part] = "css-border-inline-block-longhand"
			}
		}
	}
	alias("css-margin-inline-block", "margin-inline margin-block")
	alias("css-margin-inline-start-end", "margin-inline-start margin-inline-end")
	alias("css-margin-block-start-end", "margin-block-start margin-block-end")
	alias("css-padding-inline-block", "padding-inline padding-block")
	alias("css-padding-inline-start-end", "padding-inline-start padding-inline-end")
	alias("css-padding-block-start-end", "padding-block-start padding-block-end")
	alias("css-block-inline-size", "block-size")
	alias("css-gap", "gap column-gap row-gap grid-gap grid-column-gap grid-row-gap")
	alias("css-column-layout-properties", "columns column-fill column-rule column-rule-color column-rule-style column-rule-width column-span column-width")
	alias("css-grid-template", "grid-template grid-template-areas grid-template-columns grid-template-rows")
	alias("css-inset", "inset-block inset-inline inset-inline-start inset-inline-end inset-block-start inset-block-end")
	alias("css-left-right-top-bottom", "left right top bottom")
	alias("css-overflow", "overflow-x overflow-y overflow-block overflow-inline")
	alias("css-background-position", "background-position-x background-position-y")
	alias("css-text-emphasis", "text-emphasis-style text-emphasis-color")
	alias("css-scroll-snap", "scroll-snap-type scroll-snap-align scroll-snap-stop")
	alias("css-animation", "animation-name animation-duration animation-timing-function animation-delay animation-iteration-count animation-direction animation-fill-mode animation-play-state")
	alias("css-transition", "transition-property transition-duration transition-timing-function transition-delay")
	return t
}

// usage counts how often a message uses each feature, by slug.
type usage map[string]int

// scanHTML parses src and returns its number of element nodes (Mailpit's
// count: everything but html, head and meta when the HTML has a body of
// its own, else the body's elements and scripts) and the features it
// uses.
func scanHTML(src string) (int, usage) {
	u := usage{}
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil { // html.Parse only fails on read errors
		return 0, u
	}
	hasBody := containsFold(src, "</body")
	if hasBody {
		u["html-body"]++
	}
	nodes := 0
	var walk func(n *html.Node, inBody, foreign bool)
	walk = func(n *html.Node, inBody, foreign bool) {
		switch n.Type {
		case html.DoctypeNode:
			if strings.EqualFold(n.Data, "html") && len(n.Attr) == 0 {
				u["html-doctype"]++
			}
		case html.CommentNode:
			u["html-comments"]++
		case html.ElementNode:
			tag := n.Data
			switch {
			case hasBody && tag != "html" && tag != "head" && tag != "meta":
				nodes++
			case !hasBody && (inBody && tag != "body" || tag == "script"):
				nodes++
			}
			inBody = inBody || tag == "body"
			if !foreign {
				scanElement(n, u)
			}
			foreign = foreign || n.Namespace != ""
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inBody, foreign)
		}
	}
	walk(doc, false, false)
	return nodes, u
}

// scanElement records the features of one HTML element: the element, its
// attributes, its inline style, a <style> sheet.
func scanElement(n *html.Node, u usage) {
	tag := n.Data
	if slug, ok := htmlElements[tag]; ok {
		u[slug]++
	}
	attr := func(key string) (string, bool) {
		for _, a := range n.Attr {
			if a.Namespace == "" && a.Key == key {
				return a.Val, true
			}
		}
		return "", false
	}
	for _, a := range n.Attr {
		if slug, ok := htmlAttributes[a.Key]; ok && a.Namespace == "" {
			u[slug]++
		}
	}
	if style, ok := attr("style"); ok {
		scanDeclarations(style, u)
	}
	switch tag {
	case "style":
		var sheet strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				sheet.WriteString(c.Data)
			}
		}
		// <!-- and --> may hide a sheet from old clients.
		css := strings.NewReplacer("<!--", " ", "-->", " ").Replace(sheet.String())
		scanStylesheet(css, u, false)
	case "script":
		typ, _ := attr("type")
		if typ = strings.ToLower(strings.TrimSpace(typ)); typ != "application/ld+json" && typ != "application/json" {
			u[scriptSlug]++
		}
	case "input":
		typ, _ := attr("type")
		if typ = strings.ToLower(strings.TrimSpace(typ)); typ == "" {
			typ = "text"
		}
		u["html-input-"+typ]++
	case "button":
		typ, _ := attr("type")
		if typ = strings.ToLower(strings.TrimSpace(typ)); typ == "" {
			typ = "submit"
		}
		u["html-button-"+typ]++
	case "a":
		href, _ := attr("href")
		href = strings.TrimSpace(href)
		switch {
		case strings.HasPrefix(href, "#"):
			u["html-anchor-links"]++
		case len(href) >= 7 && strings.EqualFold(href[:7], "mailto:"):
			u["html-mailto-links"]++
		}
	case "meta":
		name, _ := attr("name")
		if name = strings.ToLower(name); name == "color-scheme" || name == "supported-color-schemes" {
			u["html-meta-color-scheme"]++
		}
	case "img":
		src, _ := attr("src")
		src = strings.TrimSpace(src)
		if len(src) >= 11 && strings.EqualFold(src[:11], "data:image/") {
			u["image-base64"]++
			break
		}
		if i := strings.IndexAny(src, "?#"); i >= 0 {
			src = src[:i]
		}
		if slug, ok := imageFormats[strings.ToLower(path.Ext(src))]; ok {
			u[slug]++
		}
	}
}

// containsFold reports whether s contains substr, ignoring ASCII case.
func containsFold(s, substr string) bool {
	for i := 0; i+len(substr) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(substr)], substr) {
			return true
		}
	}
	return false
}

// scanStylesheet records the features of a style sheet, or of the
// contents of a rule when nested is true (where declarations are allowed
// and rules are CSS nesting).
func scanStylesheet(css string, u usage, nested bool) {
	css = stripCSSComments(css, u)
	for len(css) > 0 {
		prelude, body, hasBody, rest := nextCSSItem(css)
		css = rest
		prelude = strings.TrimSpace(prelude)
		switch {
		case strings.HasPrefix(prelude, "@"):
			scanAtRule(prelude, body, hasBody, u, nested)
		case hasBody:
			if nested {
				u["css-nesting"]++
			}
			scanSelector(prelude, u)
			scanStylesheet(body, u, true)
		case nested && prelude != "":
			scanDeclaration(prelude, u)
		}
	}
}

// scanAtRule records an at-rule and what its block holds.
func scanAtRule(prelude, body string, hasBody bool, u usage, nested bool) {
	name := prelude[1:]
	if i := strings.IndexFunc(name, func(r rune) bool { return !isIdentRune(r) }); i >= 0 {
		name = name[:i]
	}
	name = stripVendor(strings.ToLower(name))
	if slug, ok := cssAtRules[name]; ok {
		u[slug]++
	}
	if !hasBody {
		return
	}
	switch name {
	case "media":
		for _, f := range strings.Split(strings.ToLower(prelude), "(")[1:] {
			f = strings.TrimLeft(f, " \t\r\n")
			if slug, ok := cssMediaFeatures[mediaFeature(f[:identLen(f)])]; ok {
				u[slug]++
			}
		}
		scanStylesheet(body, u, nested)
	case "font-face", "page":
		scanDeclarations(body, u)
	case "keyframes":
		body = stripCSSComments(body, u)
		for len(body) > 0 {
			_, frame, ok, rest := nextCSSItem(body)
			body = rest
			if ok {
				scanDeclarations(frame, u)
			}
		}
	default: // @supports, @container, @layer, @document …
		scanStylesheet(body, u, nested)
	}
}

// mediaFeature reduces a media feature name to its caniemail form:
// "-webkit-min-device-pixel-ratio" → "device-pixel-ratio".
func mediaFeature(w string) string {
	w = stripVendor(w)
	if s, ok := strings.CutPrefix(w, "min-"); ok {
		return s
	}
	if s, ok := strings.CutPrefix(w, "max-"); ok {
		return s
	}
	return w
}

// stripCSSComments removes /* comments */, counting them.
func stripCSSComments(css string, u usage) string {
	if !strings.Contains(css, "/*") {
		return css
	}
	var b strings.Builder
	for {
		start := strings.Index(css, "/*")
		if start < 0 {
			b.WriteString(css)
			return b.String()
		}
		u["css-comments"]++
		b.WriteString(css[:start])
		b.WriteByte(' ')
		end := strings.Index(css[start+2:], "*/")
		if end < 0 {
			return b.String()
		}
		css = css[start+2+end+2:]
	}
}

// nextCSSItem splits the next statement off css: a prelude that ends at a
// top-level ";" (no body), or a prelude and the body of its {block}.
// Strings, escapes and brackets are respected; an unclosed block runs to
// the end.
func nextCSSItem(css string) (prelude, body string, hasBody bool, rest string) {
	var quote byte
	depth := 0 // of ( and [
	for i := 0; i < len(css); i++ {
		c := css[i]
		switch {
		case c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(' || c == '[':
			depth++
		case (c == ')' || c == ']') && depth > 0:
			depth--
		case c == ';' && depth == 0:
			return css[:i], "", false, css[i+1:]
		case c == '{':
			end := matchBrace(css, i)
			if end < len(css) {
				return css[:i], css[i+1 : end], true, css[end+1:]
			}
			return css[:i], css[i+1:], true, ""
		case c == '}': // stray
			return css[:i], "", false, css[i+1:]
		}
	}
	return css, "", false, ""
}

// matchBrace returns the index of the "}" that closes the "{" at open,
// or len(css).
func matchBrace(css string, open int) int {
	var quote byte
	depth := 0
	for i := open; i < len(css); i++ {
		c := css[i]
		switch {
		case c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(css)
}

// scanDeclarations records the declarations of a style="" attribute or a
// block that holds only declarations.
func scanDeclarations(css string, u usage) {
	css = stripCSSComments(css, u)
	for len(css) > 0 {
		decl, _, _, rest := nextCSSItem(css)
		css = rest
		scanDeclaration(decl, u)
	}
}

// scanDeclaration records one "property: value [!important]".
func scanDeclaration(decl string, u usage) {
	prop, value, ok := strings.Cut(decl, ":")
	prop = strings.ToLower(strings.TrimSpace(prop))
	if !ok || prop == "" {
		return
	}
	value = strings.TrimSpace(value)
	if i := strings.LastIndexByte(value, '!'); i >= 0 && strings.EqualFold(strings.TrimSpace(value[i+1:]), "important") {
		u["css-important"]++
		value = strings.TrimSpace(value[:i])
	}
	if strings.HasPrefix(prop, "--") {
		u["css-variables"]++
		return // a custom property's value can be anything
	}
	prop = stripVendor(prop)
	if slug, ok := cssProperties[prop]; ok {
		u[slug]++
	}
	lower := strings.ToLower(value)
	words := cssWords(lower)
	switch prop {
	case "display":
		for _, w := range words {
			switch w {
			case "flex", "inline-flex":
				u["css-display-flex"]++
			case "grid", "inline-grid":
				u["css-display-grid"]++
			case "none":
				u["css-display-none"]++
			}
		}
	case "flex-direction", "flex-flow", "flex-wrap":
		for _, w := range words {
			switch w {
			case "column", "column-reverse":
				u["css-flex-direction"]++
			case "wrap", "wrap-reverse":
				u["css-flex-wrap"]++
			}
		}
	}
	scanValue(lower, u)
}

// scanValue records the functions, keywords and units of a lower-case
// property value. Strings and url() arguments are skipped.
func scanValue(v string, u usage) {
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == '"' || c == '\'':
			end := strings.IndexByte(v[i+1:], c)
			if end < 0 {
				return
			}
			i += end + 2
		case c == '#': // a colour or an id, never a unit
			i++
			for i < len(v) && isIdentByte(v[i]) {
				i++
			}
		case (c == '-' || c == '+') && i+1 < len(v) && (isDigit(v[i+1]) || v[i+1] == '.'):
			i++ // the sign of a number
		case isDigit(c) || c == '.' && i+1 < len(v) && isDigit(v[i+1]):
			for i < len(v) && (isDigit(v[i]) || v[i] == '.') {
				i++
			}
			if i < len(v) && v[i] == 'e' && i+1 < len(v) && isDigit(v[i+1]) { // 1e3
				i++
				for i < len(v) && isDigit(v[i]) {
					i++
				}
			}
			start := i
			for i < len(v) && (isIdentByte(v[i]) || v[i] == '%') {
				i++
			}
			if unit := v[start:i]; unit != "" {
				u["css-unit-"+unitSlug(unit)]++
			}
		case isIdentByte(c):
			start := i
			for i < len(v) && isIdentByte(v[i]) {
				i++
			}
			word := v[start:i]
			if i < len(v) && v[i] == '(' {
				if word == "url" {
					end := strings.IndexByte(v[i:], ')')
					if end < 0 {
						return
					}
					i += end + 1
					continue
				}
				if slug, ok := cssFunctions[stripVendor(word)]; ok {
					u[slug]++
				}
				continue
			}
			if slug, ok := cssValueWords[word]; ok {
				u[slug]++
			}
		default:
			i++
		}
	}
}

// unitSlug names a unit as caniemail's css-unit-* slugs do.
func unitSlug(unit string) string {
	if unit == "%" {
		return "percent"
	}
	return unit
}

// scanSelector records the selector features of a rule's prelude.
func scanSelector(sel string, u usage) {
	groups := 1
	compound := 0                     // simple selectors (not pseudo) in the current compound
	space, combinator := false, false // since the last compound
	inCompound := false
	endCompound := func() {
		if compound >= 2 {
			u["css-selector-chaining"]++
		}
		compound, inCompound = 0, false
	}
	startSimple := func(slug string, chains bool) {
		if !inCompound {
			if space && !combinator {
				u["css-selector-descendant"]++
			}
			space, combinator, inCompound = false, false, true
		}
		if slug != "" {
			u[slug]++
		}
		if chains {
			compound++
		}
	}
	started := false
	for i := 0; i < len(sel); {
		c := sel[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			if inCompound {
				endCompound()
			}
			space = started
			i++
		case c == ',':
			endCompound()
			groups++
			space, combinator, started = false, false, false
			i++
		case c == '>' || c == '+' || c == '~':
			endCompound()
			switch c {
			case '>':
				u["css-selector-child"]++
			case '+':
				u["css-selector-adjacent-sibling"]++
			default:
				u["css-selector-general-sibling"]++
			}
			combinator = true
			i++
		case c == '&':
			startSimple("css-nesting", false)
			started = true
			i++
		case c == '*':
			startSimple("css-selector-universal", true)
			started = true
			i++
		case c == '.' || c == '#':
			i++
			n := identLen(sel[i:])
			i += n
			if n > 0 {
				slug := "css-selector-class"
				if c == '#' {
					slug = "css-selector-id"
				}
				startSimple(slug, true)
				started = true
			}
		case c == '[':
			end := strings.IndexByte(sel[i:], ']')
			if end < 0 {
				end = len(sel) - i - 1
			}
			startSimple("css-selector-attribute", true)
			started = true
			i += end + 1
		case c == ':':
			i++
			element := false
			if i < len(sel) && sel[i] == ':' {
				element = true
				i++
			}
			n := identLen(sel[i:])
			name := strings.ToLower(sel[i : i+n])
			i += n
			if i < len(sel) && sel[i] == '(' { // skip the argument
				depth := 0
				for ; i < len(sel); i++ {
					if sel[i] == '(' {
						depth++
					} else if sel[i] == ')' {
						if depth--; depth == 0 {
							i++
							break
						}
					}
				}
			}
			switch name {
			case "before", "after", "first-letter", "first-line": // also with one colon
				element = true
			}
			kind := "css-pseudo-class-"
			if element {
				kind = "css-pseudo-element-"
			}
			startSimple(kind+stripVendor(name), false)
			started = true
		case isIdentByte(c):
			n := identLen(sel[i:])
			i += n
			startSimple("css-selector-type", true)
			started = true
		default:
			i++
		}
	}
	endCompound()
	if groups > 1 {
		u["css-selector-grouping"]++
	}
}

// cssWords splits a lower-case value into identifiers such as "flex",
// "-webkit-min-device-pixel-ratio" or "prefers-color-scheme".
func cssWords(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return !isIdentRune(r) })
}

// stripVendor removes a -webkit-, -moz-, -ms- or -o- prefix.
func stripVendor(s string) string {
	for _, p := range []string{"-webkit-", "-moz-", "-ms-", "-o-"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest
		}
	}
	return s
}

// identLen is the length of the CSS identifier at the start of s.
func identLen(s string) int {
	n := 0
	for n < len(s) && (isIdentByte(s[n]) || s[n] == '\\') {
		if s[n] == '\\' {
			n++
		}
		n++
	}
	return min(n, len(s))
}

func isIdentByte(c byte) bool {
	return c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func isIdentRune(r rune) bool { return r < 0x80 && isIdentByte(byte(r)) || r >= 0x80 }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
