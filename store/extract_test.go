package store_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime/v2"

	"mailsink/store"
)

// TestExtractLinks covers HTML anchors, bare URLs and their clean-up.
func TestExtractLinks(t *testing.T) {
	t.Parallel()
	h := func(url, text string) store.Link { return store.Link{URL: url, Text: text, Source: "html"} }
	x := func(url string) store.Link { return store.Link{URL: url, Source: "text"} }
	tests := []struct {
		name       string
		text, html string
		want       []store.Link
	}{
		{name: "empty", want: []store.Link{}},
		{
			name: "anchor text collapsed, entities decoded",
			html: "<p><a href=\"https://x.test/a?b=1&amp;c=2\">Click  <b>here</b>\n\t now&nbsp;!</a></p>",
			want: []store.Link{h("https://x.test/a?b=1&c=2", "Click here now !")},
		},
		{
			name: "only http, https and mailto",
			html: `<a href="javascript:alert(1)">js</a><a href=" javascript:alert(2)">js2</a>` +
				`<a href="jav&#x09;ascript:alert(3)">js3</a><a href="data:text/html,hi">data</a>` +
				`<a href="/relative">rel</a><a href="#top">frag</a><a href="cid:img1">cid</a>` +
				`<a href="ftp://x.test/f">ftp</a><a href="http://">empty host</a><a>no href</a>` +
				`<a href="MAILTO:Bob@X.test?subject=Hi%20there">Mail Bob</a><a href="HTTPS://X.TEST/">upper</a>`,
			want: []store.Link{h("MAILTO:Bob@X.test?subject=Hi%20there", "Mail Bob"), h("HTTPS://X.TEST/", "upper")},
		},
		{
			name: "href white space removed like a browser",
			html: "<a href=\"  https://x.test/\n\tpa\rth\t \">p</a>",
			want: []store.Link{h("https://x.test/path", "p")},
		},
		{
			name: "image alt when no text, area alt, svg xlink:href, noscript",
			html: `<a href="https://x.test/logo"><img src="cid:l" alt=" Example  Inc "></a>` +
				`<a href="https://x.test/blank"><img src="cid:l" alt=""></a>` +
				`<map><area href="https://x.test/area" alt="Area one"></map>` +
				`<svg><a xlink:href="https://x.test/svg"><text>SVG link</text></a></svg>` +
				`<noscript><a href="https://x.test/ns">shown in mail</a></noscript>`,
			want: []store.Link{h("https://x.test/logo", "Example Inc"), h("https://x.test/blank", ""),
				h("https://x.test/area", "Area one"), h("https://x.test/svg", "SVG link"), h("https://x.test/ns", "shown in mail")},
		},
		{
			name: "bare URLs in HTML text, none in scripts, styles or attributes",
			html: `<p>Visit https://x.test/bare.</p><script>var u = "https://evil.test/s";</script>` +
				`<style>@import url(https://evil.test/c.css);</style><img src="https://x.test/img.png" title="https://x.test/t">`,
			want: []store.Link{h("https://x.test/bare", "")},
		},
		{
			name: "a bare URL first, then an anchor fills in its text",
			html: `<p>https://x.test/a</p><p><a href="https://x.test/a">Anchor A</a><a href="https://x.test/a">Second</a></p>`,
			want: []store.Link{h("https://x.test/a", "Anchor A")},
		},
		{
			name: "a URL shown as anchor text is the anchor's text, not a link",
			html: `<a href="https://tracker.test/r?u=1">https://shown.test/</a>`,
			want: []store.Link{h("https://tracker.test/r?u=1", "https://shown.test/")},
		},
		{
			name: "trailing punctuation and brackets in text",
			text: "see https://x.test/a. Or (https://x.test/wiki/Foo_(bar)), or https://x.test/b), " +
				"\"https://x.test/q\"; 'https://x.test/s'! https://x.test/c?x=1&y=2, https://x.test/d... " +
				"[mailto:retour@x.test] **https://x.test/bold** https://x.test/e:",
			want: []store.Link{x("https://x.test/a"), x("https://x.test/wiki/Foo_(bar)"), x("https://x.test/b"),
				x("https://x.test/q"), x("https://x.test/s"), x("https://x.test/c?x=1&y=2"), x("https://x.test/d"),
				x("mailto:retour@x.test"), x("https://x.test/bold"), x("https://x.test/e")},
		},
		{
			name: "angle-bracket forms may wrap",
			text: "Read <https://x.test/very/long\n   /path?a=1> and <URL:http://x.test/old> now",
			want: []store.Link{x("https://x.test/very/long/path?a=1"), x("http://x.test/old")},
		},
		{
			name: "scheme must start a word; empty and odd schemes ignored",
			text: "xhttps://no.test/ http:// https://\n ftp://x.test javascript:alert(1) mailto: www.x.test",
			want: []store.Link{},
		},
		{
			name: "non-ASCII: IRIs kept, CJK punctuation ends the URL",
			text: "Besuchen Sie https://bücher.test/straße。Danke https://x.test/a，b 見て https://x.test/日本」",
			want: []store.Link{x("https://bücher.test/straße"), x("https://x.test/a"), x("https://x.test/日本")},
		},
		{
			name: "html links first, text duplicates dropped, text-only links after",
			text: "Plain: https://x.test/only-text and https://x.test/both and https://x.test/only-text",
			html: `<a href="https://x.test/both">Both</a> <a href="https://x.test/html">HTML</a>`,
			want: []store.Link{h("https://x.test/both", "Both"), h("https://x.test/html", "HTML"), x("https://x.test/only-text")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := store.ExtractLinks(tt.text, tt.html)
			if got == nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ExtractLinks =\n  %+v\nwant\n  %+v", got, tt.want)
			}
		})
	}
}

// TestExtractCodes covers the keyword, proximity and exclusion rules.
func TestExtractCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		subject, text, html string
		want                []string
	}{
		{name: "empty", want: []string{}},
		{name: "same sentence", text: "Your verification code is 482913. It expires soon.", want: []string{"482913"}},
		{name: "keyword after the code", subject: "482913 is your Example code", want: []string{"482913"}},
		{name: "mixed upper case and digits", text: "Use code AB12CD to sign in.", want: []string{"AB12CD"}},
		{name: "lower case is a word, not a code", text: "Your token: ab12cd34", want: []string{}},
		{name: "letters only is not a code", text: "Your code: ABCDEF", want: []string{}},
		{name: "too short, too long", text: "Your PIN is 123. Your code is 123456789. OTP 12ABCDEF345.", want: []string{}},
		{
			name: "html: keyword line, then the code in its own block",
			html: `<html><head><title>Code 111111</title><style>.c{color:#123456}</style></head><body>` +
				`<p>Your one-time code</p><div style="font-size:32px"><strong>739201</strong></div>` +
				`<p>It expires in 10 minutes.</p></body></html>`,
			want: []string{"739201"},
		},
		{
			name: "table cells are lines",
			html: `<table><tr><td>Security code</td><td>5X7K2Q</td></tr></table>`,
			want: []string{"5X7K2Q"},
		},
		{name: "next non-empty line only", text: "Your code:\n\n   2024\n\nThanks,\n4711", want: []string{"2024"}},
		{name: "next line, first sentence only", text: "Enter this code\n482913. Or call 5551234 for help.", want: []string{"482913"}},
		{name: "year in strong context", text: "PIN: 1987", want: []string{"1987"}},
		{name: "year in weak context", text: "2024 is your code. Your confirmation for 2025 arrives.", want: []string{}},
		{name: "year in another sentence", text: "Copyright 2024 Example. Enter the code below.", want: []string{}},
		{name: "dates and times", text: "Your code expires on 2026-11-26 at 10:30, 26/11/2026 or 26.11.2026, or Nov 2026.", want: []string{}},
		{name: "phone numbers", text: "Verification code questions? Call +1 555 123 4567 or (555) 1234 or 030 1234 5678.", want: []string{}},
		{name: "prices and amounts", text: "Order confirmation: total €1234.50, $ 5678, 9012 EUR, 3456%, 1,234,567 and 12345.67.", want: []string{}},
		{name: "order number after #", text: "Confirmation of order #12345678", want: []string{}},
		{name: "URLs and e-mail addresses", text: "Verify at https://x.test/verify?code=123456 or www.x.test/c/654321 or reply to 987654@codes.test.", want: []string{}},
		{name: "identifiers joined by - _ /", text: "Your code for ticket ABC-1234, build v2_5678 and path a/9999 and X7K9-2MPQ.", want: []string{}},
		{name: "units, ordinals, times of day", text: "Verify before 10AM on the 21ST; the code file is 5MB.", want: []string{}},
		{name: "bracketed log ids", text: "ubiquity[4446]: InstallStepError: failed with code 2", want: []string{}},
		{name: "non-OTP code phrases", text: "ZIP code 94107. Promo code SAVE20. Area code 5551. Exit code 1234. Unicode 2603 barcode 4006381333931.", want: []string{}},
		{name: "keyword too far away", text: "Code words aside, the one thing we want you to know about our plans for this year is 482913", want: []string{}},
		{name: "no keyword", text: "Call 482913 now about order 7788AB.", want: []string{}},
		{
			name: "other languages",
			text: "Ihr Bestätigungscode lautet 552211.\nTu código de verificación es 908172.\nIl tuo codice è 334455.\n" +
				"Ваш код: 771199.\n認証コード：246810\nUw verificatiecode: 135790\n验证码：864209。",
			want: []string{"552211", "908172", "334455", "771199", "246810", "135790", "864209"},
		},
		{name: "verify stem and 2FA", text: "Verifying your sign-in: 2FA 4821 (valid until 14:30).", want: []string{"4821"}},
		{
			name:    "order, dedup across subject, text and html",
			subject: "Code 482913",
			text:    "Your code is 482913. Backup code: 99887766.",
			html:    "<p>Your code is <b>482913</b></p><p>Recovery passcode 1A2B3C</p>",
			want:    []string{"482913", "99887766", "1A2B3C"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := store.ExtractCodes(tt.subject, tt.text, tt.html)
			if got == nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ExtractCodes = %q, want %q", got, tt.want)
			}
		})
	}
}

// pubParts returns the subject, text and HTML of a corpus message: from
// enmime, or, when enmime rejects it (an mbox "From " line first), a
// naive split whose body is HTML when the header says so.
func pubParts(raw []byte) (subject, text, html string) {
	if e, err := enmime.ReadEnvelope(bytes.NewReader(raw)); err == nil {
		return e.GetHeader("Subject"), e.Text, e.HTML
	}
	hs, body := pubSplit(raw)
	ct := ""
	for _, h := range hs {
		switch strings.ToLower(h.Name) {
		case "subject":
			subject = h.Value
		case "content-type":
			ct = strings.ToLower(h.Value)
		}
	}
	if strings.Contains(ct, "html") {
		return subject, "", string(body)
	}
	return subject, string(body), ""
}

var codeShape = regexp.MustCompile(`^(?:[0-9]{4,8}|[A-Z0-9]{4,10})$`)

// TestExtractCorpus runs both extractors over every corpus message and
// checks invariants; the corpus holds no one-time codes, so any code found
// is a false positive.
func TestExtractCorpus(t *testing.T) {
	t.Parallel()
	files := pubCorpus(t)
	links, withLinks := 0, 0
	for _, path := range files {
		name := filepath.Base(path)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		subject, text, html := pubParts(raw)
		ls := store.ExtractLinks(text, html)
		if ls == nil {
			t.Errorf("%s: ExtractLinks = nil", name)
		}
		seen := map[string]bool{}
		for _, l := range ls {
			lu := strings.ToLower(l.URL)
			if !strings.HasPrefix(lu, "http://") && !strings.HasPrefix(lu, "https://") && !strings.HasPrefix(lu, "mailto:") ||
				strings.ContainsAny(l.URL, " \t\r\n<>\"") || seen[l.URL] || (l.Source != "html" && l.Source != "text") ||
				(l.Source == "text" && l.Text != "") || l.Text != strings.Join(strings.Fields(l.Text), " ") {
				t.Errorf("%s: bad link %+v", name, l)
			}
			seen[l.URL] = true
		}
		if len(ls) > 0 {
			withLinks++
		}
		links += len(ls)
		codes := store.ExtractCodes(subject, text, html)
		if codes == nil || len(codes) > 0 {
			t.Errorf("%s: ExtractCodes = %q, want [] (false positives)", name, codes)
		}
		for _, c := range codes {
			if !codeShape.MatchString(c) {
				t.Errorf("%s: code %q has the wrong shape", name, c)
			}
		}
		if _, err := json.Marshal(ls); err != nil {
			t.Errorf("%s: json: %v", name, err)
		}
	}
	t.Logf("%d files, %d with links, %d links", len(files), withLinks, links)
}

// TestExtractLinksCorpusFiles checks the links of hand-inspected files.
func TestExtractLinksCorpusFiles(t *testing.T) {
	t.Parallel()
	h := func(url, text string) store.Link { return store.Link{URL: url, Text: text, Source: "html"} }
	tests := []struct {
		file  string
		count int
		want  map[int]store.Link // by index; negative counts from the end
	}{
		// Four anchors to one URL: one link, text from the first.
		{file: "xss-clickable-content.eml", count: 1, want: map[int]store.Link{0: h("https://www.example.com/", "https://www.example.com")}},
		// href=' javascript:alert(1)' twice, img src=javascript:…: nothing.
		{file: "xss-html-only-script-onerror.eml", count: 0},
		{file: "xss-related-cid-svg-script.eml", count: 0},
		{file: "xss-css-expression-import-overlay.eml", count: 0},
		{file: "html-dark-mode.eml", count: 2, want: map[int]store.Link{
			0: h("https://example.com", "Link"),
			1: h("https://www.mozilla.org/", "link 1"), // SVG <a xlink:href>
		}},
		// Eight href="#" dropped.
		{file: "html-responsive-inlined-css.eml", count: 1, want: map[int]store.Link{
			0: h("http://tutsplus.github.io/creating-a-future-proof-responsive-email-without-media-queries/index.html", "tutsplus sample"),
		}},
		{file: "html-cte-8bits-html.eml", count: 58, want: map[int]store.Link{
			0: h("http://www.provantage.com", ""), // <area> without alt
			1: h("http://www.provantage.com/scripts/go.dll/e13011_RD/e13011", "Click here"),
			3: h("http://www.provantage.com/scripts/go.dll/e13011_1/FP_64790.HTM", "11Mbps Wireless Cable/DSL Router"),
			4: h("http://www.provantage.com/FP_64790.HTM?BELW007", "More"),
		}},
		{file: "html-minimal-html.eml", count: 0},
		{file: "html-style-element.eml", count: 0},
		{file: "related-image-sizing.eml", count: 1, want: map[int]store.Link{0: h("https://example.com", "")}},
		// Image links without alt have no text; text-part URLs follow.
		{file: "dkim-webinar-dkim.eml", count: 18, want: map[int]store.Link{
			0:  h("https://mailchi.mp/eb93241944da/learn-how-to-balance-flexibility-in-your-bcp-395229?e=042ea43672", "View this email in your browser"),
			1:  h("https://cimanagementconference.us14.list-manage.com/track/click?u=3f21937f0f636c8cec1db30bf&id=594eb744a2&e=042ea43672", ""),
			2:  h("https://cimanagementconference.us14.list-manage.com/track/click?u=3f21937f0f636c8cec1db30bf&id=cbf4505c49&e=042ea43672", "So, You Have a Disaster… Now What?"),
			11: {URL: "https://continuityinsights.com/continuity-insights-webinar-series/", Source: "text"},
			-1: {URL: "http://mailchimp.com", Source: "text"},
		}},
		// "Retour BL [mailto:retourbl@company2.com]" in a quoted-printable text part.
		{file: "attachment-folded-encoded-filename.eml", count: 2, want: map[int]store.Link{
			0: {URL: "mailto:retourbl@company2.com", Source: "text"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			_, text, html := pubParts(pubRead(t, tt.file))
			got := store.ExtractLinks(text, html)
			if len(got) != tt.count {
				t.Fatalf("got %d links, want %d: %+v", len(got), tt.count, got)
			}
			for i, w := range tt.want {
				if i < 0 {
					i += len(got)
				}
				if got[i] != w {
					t.Errorf("link %d = %+v, want %+v", i, got[i], w)
				}
			}
			for _, l := range got {
				if strings.Contains(strings.ToLower(l.URL), "javascript") {
					t.Errorf("javascript link returned: %+v", l)
				}
			}
		})
	}
}

// FuzzExtract: any input extracts without panicking, and results keep
// their documented shape.
func FuzzExtract(f *testing.F) {
	f.Add("Your code is 482913 https://x.test/a.", "<a href='https://x.test/b'>B</a><p>PIN: 2024</p>")
	f.Add("<https://x.test/a\n b> (https://x.test/(c)) mailto:a@b.test", "<svg><a xlink:href='http://x'>t</a></svg>")
	f.Add("認証コード：246810 www. @@ http://[", "<table><tr><td>Code<td>5X7K2Q")
	f.Fuzz(func(t *testing.T, text, html string) {
		for _, l := range store.ExtractLinks(text, html) {
			lu := strings.ToLower(l.URL)
			if !strings.HasPrefix(lu, "http://") && !strings.HasPrefix(lu, "https://") && !strings.HasPrefix(lu, "mailto:") {
				t.Fatalf("bad link %+v", l)
			}
		}
		for _, c := range store.ExtractCodes(text, text, html) {
			if !codeShape.MatchString(c) {
				t.Fatalf("bad code %q", c)
			}
		}
	})
}
