package webui

import (
	"slices"
	"testing"
)

// White-box tables for the small header parsers and formatters.

func TestContentDisposition(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain", "report.pdf", `inline; filename="report.pdf"`},
		{"spaces", "my report.pdf", `inline; filename="my report.pdf"`},
		{"quote and backslash", `a"b\c.txt`, `inline; filename="a\"b\\c.txt"`},
		{"control characters dropped", "a\r\nSet-Cookie: x.txt", `inline; filename="aSet-Cookie: x.txt"`},
		{"non-ASCII", "Grüße.txt", `inline; filename="Gr__e.txt"; filename*=UTF-8''Gr%C3%BC%C3%9Fe.txt`},
		{"non-ASCII with quote", `日"本.txt`, `inline; filename="_\"_.txt"; filename*=UTF-8''%E6%97%A5%22%E6%9C%AC.txt`},
		{"empty", "", "inline"},
		{"only controls", "\x00\x01", "inline"},
	}
	for _, tt := range tests {
		if got := contentDisposition(tt.in); got != tt.want {
			t.Errorf("%s: contentDisposition(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestParseListUnsubscribe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, header string
		links        []string
		errors       string
	}{
		{"absent", "", []string{}, ""},
		{"two", "<mailto:u@x.test>, <https://x.test/u>", []string{"mailto:u@x.test", "https://x.test/u"}, ""},
		{"folded", "<mailto:u@x.test>,\r\n <https://x.test/u>", []string{"mailto:u@x.test", "https://x.test/u"}, ""},
		{"comment between", "<https://x.test/u> (web), <mailto:u@x.test>", []string{"https://x.test/u", "mailto:u@x.test"}, ""},
		{"no brackets", "https://x.test/u", []string{}, "no <URI> found"},
		{"unterminated", "<https://x.test/u>, <mailto:u@x", []string{"https://x.test/u"}, "unterminated <"},
	}
	for _, tt := range tests {
		got := parseListUnsubscribe(tt.header, "post")
		if !slices.Equal(got.Links, tt.links) || got.Errors != tt.errors || got.Header != tt.header || got.HeaderPost != "post" {
			t.Errorf("%s: got %+v, want links %q errors %q", tt.name, got, tt.links, tt.errors)
		}
	}
}

func TestUnfold(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{" padded ", "padded"},
		{"a\r\n b", "a b"},
		{"a\r\n\tb\r\n  c", "a b c"},
		{"bare\n lf", "bare lf"},
	}
	for _, tt := range tests {
		if got := unfold(tt.in); got != tt.want {
			t.Errorf("unfold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
