// Package mailmut derives hostile variants of real messages for tests.
// It lives outside the test files so that the API tests (webui) and the
// browser tests (package main) feed the server the same mutants.
package mailmut

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
)

// A Mutator is deterministic in its seeds: the n-th call gives the same
// bytes on every run, so a failure names the mutant that reproduces it.
// It is not safe for concurrent use.
type Mutator struct {
	r *rand.Rand
}

// New returns a Mutator drawing from PCG(seed1, seed2).
func New(seed1, seed2 uint64) *Mutator {
	return &Mutator{r: rand.New(rand.NewPCG(seed1, seed2))}
}

// IntN returns a number in [0, n) from the Mutator's own sequence, so
// callers that pick the bases of a mutant keep the run reproducible.
// It panics if n <= 0.
func (m *Mutator) IntN(n int) int { return m.r.IntN(n) }

var (
	boundaryLine = regexp.MustCompile(`(?m)^--[^\r\n]*\r?\n`)
	charsetParam = regexp.MustCompile(`(?i)charset\s*=\s*"?[^";\s]*"?`)
	cteField     = regexp.MustCompile(`(?im)^content-transfer-encoding:[^\r\n]*`)
	foldedLine   = regexp.MustCompile(`\r?\n[ \t]+`)
)

// Charsets that decoders get wrong: multi-byte, stateful, unknown, empty,
// a lone quote, and one too long for any name buffer.
var mutantCharsets = []string{"utf-8", "utf-16", "utf-16be", "utf-32", "utf-7", "iso-2022-jp", "gb18030", "x-unknown",
	"", `"`, "windows-1252", "koi8-r", "us-ascii", "big5", "shift_jis", "euc-kr", strings.Repeat("x", 300)}

var mutantCTEs = []string{"base64", "quoted-printable", "7bit", "8bit", "binary", "x-uuencode", "", "bAsE64 x", "quoted-printable; junk"}

// at returns a random offset in b (0 for an empty b).
func (m *Mutator) at(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return m.r.IntN(len(b) + 1)
}

func insertAt(b []byte, i int, s []byte) []byte {
	return append(b[:i:i], append(s, b[i:]...)...)
}

// Mutate applies one to three random operations to a copy of b and names
// them, so a failing mutant can be described. other is the source of
// spliced-in bytes; neither slice is modified.
func (m *Mutator) Mutate(b, other []byte) ([]byte, []string) {
	b = bytes.Clone(b)
	var ops []string
	for range 1 + m.r.IntN(3) {
		var op string
		switch m.r.IntN(12) {
		case 0:
			op = "flip bytes"
			for range 1 + m.r.IntN(16) {
				if len(b) > 0 {
					b[m.r.IntN(len(b))] = byte(m.r.UintN(256))
				}
			}
		case 1:
			op = "truncate"
			b = b[:m.at(b)]
		case 2, 3:
			locs := boundaryLine.FindAllIndex(b, -1)
			if len(locs) == 0 {
				continue
			}
			l := locs[m.r.IntN(len(locs))]
			if m.r.IntN(2) == 0 {
				op = "duplicate boundary line"
				b = insertAt(b, l[0], bytes.Clone(b[l[0]:l[1]]))
			} else {
				op = "remove boundary line"
				b = append(b[:l[0]], b[l[1]:]...)
			}
		case 4:
			op = "break folding"
			locs := foldedLine.FindAllIndex(b, -1)
			if len(locs) == 0 {
				b = insertAt(b, m.at(b), []byte("\r\n \r\n\tcontinued\r\nno colon here\r\n"))
				continue
			}
			l := locs[m.r.IntN(len(locs))]
			repl := [][]byte{[]byte("\r\n"), []byte("\n"), []byte("\r"), []byte("\r\n\r\n "), []byte("\r\n:")}[m.r.IntN(5)]
			b = append(b[:l[0]], append(repl, b[l[1]:]...)...)
		case 5:
			op = "swap charset"
			cs := mutantCharsets[m.r.IntN(len(mutantCharsets))]
			b = charsetParam.ReplaceAllFunc(b, func(s []byte) []byte {
				if m.r.IntN(2) == 0 {
					return s
				}
				return []byte("charset=" + cs)
			})
		case 6:
			op = "swap transfer encoding"
			cte := mutantCTEs[m.r.IntN(len(mutantCTEs))]
			b = cteField.ReplaceAllLiteral(b, []byte("Content-Transfer-Encoding: "+cte))
		case 7:
			depth := 1 + m.r.IntN(300)
			op = fmt.Sprintf("nest %d levels", depth)
			var w bytes.Buffer
			for i := range depth {
				fmt.Fprintf(&w, "Content-Type: multipart/mixed; boundary=\"n%d\"\r\n\r\n--n%d\r\n", i, i)
			}
			i := m.at(b)
			if j := bytes.Index(b, []byte("\r\n\r\n")); j >= 0 && m.r.IntN(2) == 0 {
				i = j + 4 // in place of the first body
			}
			b = insertAt(b, i, w.Bytes())
		case 8:
			op = "insert NULs"
			b = insertAt(b, m.at(b), make([]byte, 1+m.r.IntN(64)))
		case 9:
			op = "line ends"
			from, to := []byte("\r\n"), [][]byte{[]byte("\n"), []byte("\r"), []byte("\r\r\n"), []byte("\n\r")}[m.r.IntN(4)]
			i := m.at(b)
			b = append(b[:i:i], bytes.ReplaceAll(b[i:], from, to)...)
		case 10:
			op = "splice another message"
			b = insertAt(b, m.at(b), other[m.at(other):])
		case 11:
			op = "long header line"
			b = insertAt(b, 0, []byte("X-Long: "+strings.Repeat("a", m.r.IntN(200000))+"\r\n"))
		}
		ops = append(ops, op)
	}
	return b, ops
}
