package store

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestScanRawMatchesByteLoop: scanRaw skips eight plain bytes at a time,
// yet finds what a loop over every byte finds.
func TestScanRawMatchesByteLoop(t *testing.T) {
	ref := func(raw []byte) (longLines, longest, bareLF, bareCR, nul, high int) {
		lineStart := 0
		endLine := func(end int) {
			if n := end - lineStart; n > maxLineOctets {
				longLines++
				longest = max(longest, n)
			}
		}
		for i, c := range raw {
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
		return
	}
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("ab \t=-\r\n\x00\x7f\x80\xff\x01\x09\x0b\x0c\x0e")
	for n := range 3000 {
		raw := make([]byte, r.IntN(3000))
		for i := range raw {
			if r.IntN(4) == 0 {
				raw[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				raw[i] = 'a' + byte(r.IntN(26))
			}
		}
		if n%10 == 0 { // long lines too
			raw = append(raw, make([]byte, 1100)...)
			for i := len(raw) - 1100; i < len(raw); i++ {
				raw[i] = 'x'
			}
		}
		env := Envelope{}
		l, lo, lf, cr, nul, high := ref(raw)
		var want []Finding
		if l > 0 {
			want = append(want, Finding{Code: "line-too-long", Text: fmt.Sprintf("%d line(s) longer than %d octets; longest %d", l, maxLineOctets, lo)})
		}
		if lf > 0 {
			want = append(want, Finding{Code: "bare-lf", Text: fmt.Sprintf("%d line(s) end in LF without CR", lf)})
		}
		if cr > 0 {
			want = append(want, Finding{Code: "bare-cr", Text: fmt.Sprintf("%d CR(s) not followed by LF", cr)})
		}
		if nul > 0 {
			want = append(want, Finding{Code: "nul-byte", Text: fmt.Sprintf("%d NUL byte(s)", nul)})
		}
		if high > 0 {
			want = append(want, Finding{Code: "8bit-without-8bitmime",
				Text: fmt.Sprintf("%d byte(s) >= 0x80 but the client did not declare BODY=8BITMIME or SMTPUTF8", high)})
		}
		if got := scanRaw(raw, env); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %v\nwant %v", raw, got, want)
		}
	}
}
