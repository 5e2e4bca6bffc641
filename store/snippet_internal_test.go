package store

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestSnippetMatchesJoinedFields: snippet stops early, yet gives what
// joining all of text's words and cutting at snippetLen runes gives.
func TestSnippetMatchesJoinedFields(t *testing.T) {
	want := func(text string) string {
		s := strings.Join(strings.Fields(text), " ")
		if utf8.RuneCountInString(s) <= snippetLen {
			return s
		}
		n := 0
		for i := range s {
			if n == snippetLen {
				return strings.TrimSpace(s[:i])
			}
			n++
		}
		return s
	}
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"a", "word", "é", "日本", " ", "  ", "\t", "\r\n", "\u00a0", "\u0085", "\xff", "\u2003"}
	inputs := []string{"", " ", strings.Repeat("x", 250), strings.Repeat("x", 251), strings.Repeat("ab ", 125), strings.Repeat("ab ", 126)}
	for range 5000 {
		var b strings.Builder
		for range r.IntN(400) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		inputs = append(inputs, b.String())
	}
	for _, in := range inputs {
		if got, w := snippet(in), want(in); got != w {
			t.Fatalf("snippet(%q)\n = %q\nwant %q", in, got, w)
		}
	}
}
