package store

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// boundaryRE is the regular expression boundaryParams replaced; the scan
// must find exactly what it found.
var boundaryRE = regexp.MustCompile(`(?i)\bboundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))`)

func regexpBoundaries(raw []byte) []string {
	var out []string
	for _, m := range boundaryRE.FindAllSubmatch(raw, -1) {
		b := m[1]
		if b == nil {
			b = m[2]
		}
		out = append(out, string(b))
	}
	return out
}

func scanBoundaries(raw []byte) []string {
	var out []string
	boundaryParams(raw, func(b []byte, _ int) { out = append(out, string(b)) })
	return out
}

func TestBoundaryParamsMatchesRegexp(t *testing.T) {
	t.Parallel()
	inputs := []string{
		`Content-Type: multipart/mixed; boundary="abc"`,
		`content-type: multipart/alternative; BOUNDARY = xyz;charset=x`,
		"boundary=\r\n  \"folded\"",
		`xboundary="not a param" _boundary=no 9boundary=no -boundary=yes`,
		`boundary="" boundary="unterminated`,
		`boundary="line` + "\r\n" + `break"`,
		`boundary=a"b boundary=;x boundary= boundary`,
		`BoUnDaRy="Ünïcode ✓" boundary=Ünï;`,
		`boundary="` + longString(205) + `" boundary=` + longString(230),
		"\xff\xfeboundary=\xc3(bad utf8",
	}
	// Fixtures and the public corpus, when present.
	for _, glob := range []string{"../testdata/mail/*.eml", "../../shared/testdata-public/*.eml"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil {
				inputs = append(inputs, string(b))
			}
		}
	}
	// Random soup of the interesting bytes.
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"boundary", "BOUNDARY", "Boundary", "=", " ", "\t", "\r\n", `"`, ";", "a", "_", "x", "é"}
	for range 2000 {
		var b []byte
		for range r.IntN(30) {
			b = append(b, alphabet[r.IntN(len(alphabet))]...)
		}
		inputs = append(inputs, string(b))
	}
	// Big inputs: matches across the edges of the scan windows.
	for range 20 {
		var b []byte
		for len(b) < 3*scanWindow+100 {
			b = append(b, alphabet[r.IntN(len(alphabet))]...)
			if r.IntN(50) == 0 {
				b = append(b, make([]byte, r.IntN(scanWindow/2))...) // push the next ones across an edge
			}
		}
		inputs = append(inputs, string(b))
	}
	for i, in := range inputs {
		want, got := regexpBoundaries([]byte(in)), scanBoundaries([]byte(in))
		if !slices.Equal(want, got) {
			d := 0
			for d < min(len(want), len(got)) && want[d] == got[d] {
				d++
			}
			w, g := "(none)", "(none)"
			if d < len(want) {
				w = want[d]
			}
			if d < len(got) {
				g = got[d]
			}
			t.Fatalf("input %d (%d bytes): match %d of %d/%d differs:\n scan   %.80q\n regexp %.80q", i, len(in), d, len(got), len(want), g, w)
		}
	}
}

func longString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

func TestASCIILower(t *testing.T) {
	t.Parallel()
	all := make([]byte, 256*3+5) // every byte value at every alignment
	for i := range all {
		all[i] = byte(i * 7 / 3)
	}
	for off := range 9 {
		in := all[off:]
		got := asciiLowerInto(make([]byte, len(in)), in)
		for i, c := range in {
			want := c
			if 'A' <= c && c <= 'Z' {
				want = c + 32
			}
			if got[i] != want {
				t.Fatalf("offset %d byte %d: %#x → %#x, want %#x", off, i, c, got[i], want)
			}
		}
	}
}
