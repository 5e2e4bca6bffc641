package webui_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// htmlCheck mirrors Mailpit's HTMLCheckResponse; wantJSON decodes it
// strictly, so an extra field fails.
type htmlCheck struct {
	Platforms map[string][]string
	Total     struct {
		Nodes, Tests                    int
		Supported, Partial, Unsupported float64
	}
	Warnings []htmlCheckWarning
}

type htmlCheckWarning struct {
	Slug, Title, Description, Category, Keywords, URL string
	Tags                                              []string
	NotesByNumber                                     map[string]string
	Score                                             struct {
		Found                           int
		Supported, Partial, Unsupported float64
	}
	Results []htmlCheckResult
}

type htmlCheckResult struct {
	Family, Name, NoteNumber, Platform, Support, Version string
}

// htmlMail is a single-part HTML message.
func htmlMail(subject, body string) string {
	return "From: ann@example.test\nTo: bob@example.test\nSubject: " + subject +
		"\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n" + body + "\n"
}

func (c htmlCheck) warning(slug string) (htmlCheckWarning, bool) {
	i := slices.IndexFunc(c.Warnings, func(w htmlCheckWarning) bool { return w.Slug == slug })
	if i < 0 {
		return htmlCheckWarning{}, false
	}
	return c.Warnings[i], true
}

func (c htmlCheck) slugs() []string {
	var out []string
	for _, w := range c.Warnings {
		out = append(out, w.Slug)
	}
	return out
}

func (w htmlCheckWarning) result(family, platform string) (htmlCheckResult, bool) {
	i := slices.IndexFunc(w.Results, func(r htmlCheckResult) bool { return r.Family == family && r.Platform == platform })
	if i < 0 {
		return htmlCheckResult{}, false
	}
	return w.Results[i], true
}

// TestHTMLCheckFeatures checks the warnings for typical features against
// facts of caniemail 2.0.2 (the latest tested version of each client).
func TestHTMLCheckFeatures(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)

	// want is one client's latest result: support, version, note number.
	type want struct{ family, platform, support, version, note string }
	tests := []struct {
		name    string
		html    string
		slug    string
		found   int
		results []want
	}{
		{
			name: "video",
			html: `<p>Watch</p><video src="clip.mp4" controls></video>`,
			slug: "html-video", found: 1,
			results: []want{
				{"outlook", "windows", "no", "2019", ""},
				{"gmail", "desktop-webmail", "no", "2019-09", "2"},
				{"apple-mail", "macos", "yes", "12.4", ""},
				{"apple-mail", "ios", "partial", "13.3", "5"},
			},
		},
		{
			name: "display flex inline, twice",
			html: `<div style="display: flex; gap: 8px"><div style="DISPLAY:Flex !important">a</div></div>`,
			slug: "css-display-flex", found: 2,
			results: []want{
				{"outlook", "windows", "no", "2019", ""},
				{"outlook", "macos", "yes", "16.80", ""},
				// Gmail iOS: 2019-02 "y", then 2026-03 "a #1"; the latest counts.
				{"gmail", "ios", "partial", "2026-03", "1"},
			},
		},
		{
			name: "media query in a style sheet",
			html: `<html><head><style>@media screen and (max-width: 600px) { .col { width: 100% } }</style></head><body><p class="col">x</p></body></html>`,
			slug: "css-at-media", found: 1,
			results: []want{
				{"outlook", "windows", "no", "2019", ""},
				{"gmail", "mobile-webmail", "no", "2020-02", ""},
				{"outlook", "macos", "partial", "16.80", "1"},
			},
		},
		{
			name: "hover",
			html: `<style>a:hover { color: red } a:HOVER span { color: blue }</style><a href="https://example.test/">x</a>`,
			slug: "css-pseudo-class-hover", found: 2,
			results: []want{
				{"gmail", "desktop-webmail", "yes", "2019-10", ""},
				{"gmail", "ios", "no", "2019-10", ""},
				{"outlook", "outlook-com", "partial", "2024-01", "2"},
			},
		},
		{
			name: "background image",
			html: `<table><tr><td style="background-image: url('https://example.test/bg.png')">x</td></tr></table>`,
			slug: "css-background-image", found: 1,
			results: []want{
				{"outlook", "windows", "no", "2019", "5"},
				{"outlook", "windows-mail", "no", "2019-02", ""},
				{"gmail", "desktop-webmail", "yes", "2023-08", ""},
			},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "feat" + string(rune('a'+i))
			s.insert(t, id, htmlMail(tt.name, tt.html))
			var got htmlCheck
			s.getJSON(t, "/api/v1/message/"+id+"/html-check", &got)
			w, ok := got.warning(tt.slug)
			if !ok {
				t.Fatalf("no %s warning; got %q", tt.slug, got.slugs())
			}
			if w.Score.Found != tt.found {
				t.Errorf("%s Found = %d, want %d", tt.slug, w.Score.Found, tt.found)
			}
			if !strings.HasPrefix(w.URL, "https://www.caniemail.com/features/") || w.Title == "" {
				t.Errorf("%s: URL %q, Title %q", tt.slug, w.URL, w.Title)
			}
			for _, want := range tt.results {
				r, ok := w.result(want.family, want.platform)
				if !ok {
					t.Errorf("%s: no result for %s/%s", tt.slug, want.family, want.platform)
					continue
				}
				if r.Support != want.support || r.Version != want.version || r.NoteNumber != want.note {
					t.Errorf("%s %s/%s = %s %s note %q, want %s %s note %q", tt.slug, want.family, want.platform,
						r.Support, r.Version, r.NoteNumber, want.support, want.version, want.note)
				}
				if r.NoteNumber != "" && w.NotesByNumber[r.NoteNumber] == "" {
					t.Errorf("%s: note %s is not in NotesByNumber", tt.slug, r.NoteNumber)
				}
			}
			checkWarningShape(t, w)
		})
	}
}

// checkWarningShape checks what holds for every warning: one result per
// client, support values, scores that add up and match the results.
func checkWarningShape(t *testing.T, w htmlCheckWarning) {
	t.Helper()
	if w.Category != "css" && w.Category != "html" {
		t.Errorf("%s: Category %q", w.Slug, w.Category)
	}
	if w.Tags == nil || w.NotesByNumber == nil || w.Results == nil {
		t.Errorf("%s: null Tags, NotesByNumber or Results", w.Slug)
	}
	seen := map[string]bool{}
	var yes, no, partial float64
	for _, r := range w.Results {
		key := r.Family + "/" + r.Platform
		if seen[key] {
			t.Errorf("%s: two results for %s", w.Slug, key)
		}
		seen[key] = true
		switch r.Support {
		case "yes":
			yes++
		case "no":
			no++
		case "partial":
			partial++
		default:
			t.Errorf("%s %s: Support %q", w.Slug, key, r.Support)
		}
		if !strings.HasSuffix(r.Name, " ("+r.Version+")") {
			t.Errorf("%s %s: Name %q does not end in the version %q", w.Slug, key, r.Name, r.Version)
		}
	}
	if n := yes + no + partial; n > 0 {
		near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
		if !near(w.Score.Supported, 100*yes/n) || !near(w.Score.Unsupported, 100*no/n) || !near(w.Score.Partial, 100*partial/n) {
			t.Errorf("%s: Score %+v does not match %v yes, %v no, %v partial", w.Slug, w.Score, yes, no, partial)
		}
		if yes == n {
			t.Errorf("%s: reported although every client supports it", w.Slug)
		}
	}
}

// TestHTMLCheckDetection maps HTML and CSS constructs to caniemail slugs.
func TestHTMLCheckDetection(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		name      string
		html      string
		want, not []string
	}{
		{"script", `<p>x</p><script>alert(1)</script><script type="application/ld+json">{}</script>`,
			[]string{"html-script"}, nil},
		{"form controls", `<form><input name="q"><input type="checkbox"><button>Go</button></form>`,
			[]string{"html-form", "html-input-text", "html-input-checkbox", "html-button-submit"}, nil},
		{"elements", `<h1>T</h1><article>a</article><dl><dt>a</dt></dl><svg width="2"><rect width="1"/></svg><audio src="a.mp3"></audio>`,
			[]string{"html-semantics", "html-svg", "html-audio"}, nil},
		{"attributes and links", `<p hidden role="note" aria-label="x"><a href="#top">top</a> <img src="a.webp?v=1" loading="lazy" srcset="b.webp 2x"></p>`,
			[]string{"html-hidden", "html-role", "html-aria-label", "html-anchor-links", "image-webp", "html-loading-attribute", "html-srcset"}, nil},
		{"document", "<!DOCTYPE html><html><head><meta name=\"color-scheme\" content=\"light dark\"></head><body><!-- c --><p>x</p></body></html>",
			[]string{"html-doctype", "html-meta-color-scheme", "html-body"}, nil},
		{"no body of its own", `<p>x</p>`, nil, []string{"html-body"}},
		{"at-rules and media features", `<style>
			@import url("https://example.test/a.css");
			@font-face { font-family: X; src: url(x.woff2) }
			@media (prefers-color-scheme: dark) { body { color: #fff } }
			@media only screen and (-webkit-min-device-pixel-ratio: 2) { .a { color: red } }
			@supports (display: grid) { .b { display: grid } }
			@-webkit-keyframes spin { from { transform: rotate(0deg) } to { transform: rotate(360deg) } }
			</style><p class="a b">x</p>`,
			[]string{"css-at-import", "css-at-font-face", "css-at-media", "css-at-media-prefers-color-scheme",
				"css-at-media-device-pixel-ratio", "css-at-supports", "css-display-grid", "css-at-keyframes", "css-transform"}, nil},
		{"selectors", `<style>
			/* comment */
			.a.b > p + span ~ em, div [data-x] { color: red }
			ul li:nth-child(2n+1)::before, p:first-letter { content: "{x}" }
			.card { color: red; & .title { color: blue } }
			</style><p>x</p>`,
			[]string{"css-comments", "css-selector-chaining", "css-selector-child", "css-selector-adjacent-sibling",
				"css-selector-general-sibling", "css-selector-grouping", "css-selector-attribute", "css-selector-descendant",
				"css-pseudo-class-nth-child", "css-pseudo-element-before", "css-pseudo-element-first-letter", "css-nesting"}, nil},
		{"values", `<div style="width: calc(100% - 2rem); color: rgba(0,0,0,.5); margin-inline-start: var(--m); background: linear-gradient(red, blue); border-inline-start-color: red; font-family: system-ui; height: 10vh">x</div>`,
			[]string{"css-unit-calc", "css-unit-rem", "css-rgba", "css-margin-inline-start-end", "css-variables",
				"css-linear-gradient", "css-background", "css-border-inline-block-longhand", "css-sytem-ui", "css-unit-vh"}, nil},
		{"strings and urls are not values", `<div style="font-family: 'display:flex 2vh'; background-image: url(a2vh.gif)"><p style="color: red">x</p></div>`,
			[]string{"css-background-image"}, []string{"css-display-flex", "css-unit-vh", "image-gif"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "det" + string(rune('a'+i))
			s.insert(t, id, htmlMail(tt.name, tt.html))
			var got htmlCheck
			s.getJSON(t, "/api/v1/message/"+id+"/html-check", &got)
			for _, slug := range tt.want {
				if _, ok := got.warning(slug); !ok {
					t.Errorf("no %s warning; got %q", slug, got.slugs())
				}
			}
			for _, slug := range tt.not {
				if _, ok := got.warning(slug); ok {
					t.Errorf("unexpected %s warning", slug)
				}
			}
			for _, w := range got.Warnings {
				checkWarningShape(t, w)
			}
		})
	}

	// <script> is Mailpit's own check: no client, all unsupported.
	var got htmlCheck
	s.getJSON(t, "/api/v1/message/deta/html-check", &got)
	if w, _ := got.warning("html-script"); w.Score.Found != 1 || w.Score.Unsupported != 100 || len(w.Results) != 0 {
		t.Errorf("html-script warning = %+v, want Found 1 (JSON-LD skipped), Unsupported 100, no results", w)
	}
}

// TestHTMLCheckReport checks the report around the warnings: a plain
// message, totals, ordering, platforms and Markdown notes.
func TestHTMLCheckReport(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)

	// Basic tags every client supports: no warnings, all supported.
	s.insert(t, "plain", htmlMail("plain", `<p>Hello <strong>Bob</strong>, <a href="https://example.test/">click</a></p><table><tr><td><span>x</span></td></tr></table>`))
	var plain htmlCheck
	s.getJSON(t, "/api/v1/message/plain/html-check", &plain)
	if len(plain.Warnings) != 0 {
		t.Errorf("plain message: warnings %q, want none", plain.slugs())
	}
	if plain.Warnings == nil {
		t.Error("plain message: Warnings is null, want []")
	}
	// p, strong, a, table, tbody (added by the parser), tr, td, span.
	if plain.Total.Nodes != 8 || plain.Total.Supported != 100 || plain.Total.Partial != 0 || plain.Total.Unsupported != 0 {
		t.Errorf("plain message: Total = %+v, want 8 nodes, 100%% supported", plain.Total)
	}
	if plain.Total.Tests < 250 {
		t.Errorf("Total.Tests = %d, want most of caniemail's 307 features", plain.Total.Tests)
	}
	if windows := plain.Platforms["windows"]; !slices.Contains(windows, "Outlook") || !slices.IsSorted(windows) {
		t.Errorf("Platforms[windows] = %q, want sorted, with Outlook", windows)
	}
	if len(plain.Platforms) < 5 {
		t.Errorf("Platforms = %v, want caniemail's platforms", plain.Platforms)
	}

	s.insert(t, "mixed", htmlMail("mixed", `<!DOCTYPE html><html><head><style>a:hover { color: red }</style></head><body>`+
		`<div style="display:flex"><p>1</p><p>2</p><p>3</p></div><video src="v.mp4"></video></body></html>`))
	var got htmlCheck
	s.getJSON(t, "/api/v1/message/latest/html-check", &got) // latest is "mixed"
	if _, ok := got.warning("html-video"); !ok {
		t.Fatalf("latest: no html-video warning; got %q", got.slugs())
	}
	// style, body, div, p ×3, video: html, head and meta do not count.
	if got.Total.Nodes != 7 {
		t.Errorf("Nodes = %d, want 7", got.Total.Nodes)
	}
	tot := got.Total
	if math.Abs(tot.Supported+tot.Partial+tot.Unsupported-100) > 1e-6 || tot.Unsupported <= 0 || tot.Supported >= 100 {
		t.Errorf("Total = %+v, want percentages that add up to 100 with some unsupported", tot)
	}
	weight := func(w htmlCheckWarning) float64 {
		return (w.Score.Partial + w.Score.Unsupported) * math.Min(float64(w.Score.Found)/float64(tot.Nodes), 1)
	}
	if !slices.IsSortedFunc(got.Warnings, func(a, b htmlCheckWarning) int {
		switch wa, wb := weight(a), weight(b); {
		case wa > wb:
			return -1
		case wa < wb:
			return 1
		}
		return strings.Compare(a.Slug, b.Slug)
	}) {
		t.Errorf("warnings are not worst first: %q", got.slugs())
	}
	maxUnsupported := 0.0
	for _, w := range got.Warnings {
		maxUnsupported = max(maxUnsupported, w.Score.Unsupported*math.Min(float64(w.Score.Found)/float64(tot.Nodes), 1))
	}
	if math.Abs(tot.Unsupported-maxUnsupported) > 1e-6 {
		t.Errorf("Total.Unsupported = %v, want the largest weighted Unsupported %v", tot.Unsupported, maxUnsupported)
	}

	// Notes are HTML: caniemail's `code` and [links](…) rendered, the rest escaped.
	video, _ := got.warning("html-video")
	if note := video.NotesByNumber["2"]; !strings.Contains(note, "<code>&lt;video&gt;</code>") {
		t.Errorf("html-video note 2 = %q, want <code>&lt;video&gt;</code>", note)
	}
	var link string
	for _, w := range got.Warnings {
		for _, n := range w.NotesByNumber {
			if strings.Contains(n, "<a href=") {
				link = n
			}
		}
	}
	if link != "" && !strings.Contains(link, `<a href="http`) {
		t.Errorf("note link %q is not absolute", link)
	}
}

func TestHTMLCheckErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.insert(t, "text", "From: ann@example.test\nSubject: text only\n\nJust text.\n")
	if msg := wantError(t, s.get(t, "/api/v1/message/text/html-check"), 400); !strings.Contains(msg, "message has no HTML part") {
		t.Errorf("no HTML: error %q", msg)
	}
	wantError(t, s.get(t, "/api/v1/message/no-such-id/html-check"), 404)
	wantError(t, s.get(t, "/api/v1/message/latest/html-check"), 400) // latest is "text"
}

// TestHTMLCheckCorpus runs the check on the corpus messages that mention
// text/html.
func TestHTMLCheckCorpus(t *testing.T) {
	t.Parallel()
	files := corpusFiles(t)
	s := newTestServer(t)
	checked := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.ToLower(string(raw)), "text/html") {
			continue // no HTML part; inserting all is TestCorpus's job
		}
		id := strings.TrimSuffix(filepath.Base(f), ".eml")
		if _, err := s.db.Insert(t.Context(), id, storeEnvelope(), raw); err != nil {
			t.Fatalf("insert %s: %v", id, err)
		}
		var m struct{ HTML string }
		if res := s.get(t, "/api/v1/message/"+id); res.status != 200 || json.Unmarshal(res.body, &m) != nil {
			t.Fatalf("%s: GET = %d", id, res.status)
		}
		res := s.get(t, "/api/v1/message/"+id+"/html-check")
		if strings.TrimSpace(m.HTML) == "" {
			if res.status != 400 {
				t.Errorf("%s: no HTML, html-check = %d, want 400", id, res.status)
			}
			continue
		}
		var got htmlCheck
		if res.status != 200 {
			t.Errorf("%s: html-check = %d %s", id, res.status, res.body)
			continue
		}
		wantJSON(t, res, &got)
		checked++
		if tot := got.Total; tot.Nodes < 0 || tot.Supported < 0 || tot.Partial < 0 || tot.Unsupported < 0 ||
			math.Abs(tot.Supported+tot.Partial+tot.Unsupported-100) > 1e-6 {
			t.Errorf("%s: Total = %+v", id, tot)
		}
		for _, w := range got.Warnings {
			checkWarningShape(t, w)
		}
	}
	t.Logf("%d messages with HTML checked", checked)
}
