package webui_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailsink/store"
)

// mutator derives hostile variants of real messages, deterministically
// from its seed: the same index always gives the same bytes, so a
// failure names the mutant that reproduces it.
type mutator struct {
	r *rand.Rand
}

var (
	boundaryLine = regexp.MustCompile(`(?m)^--[^\r\n]*\r?\n`)
	charsetParam = regexp.MustCompile(`(?i)charset\s*=\s*"?[^";\s]*"?`)
	cteField     = regexp.MustCompile(`(?im)^content-transfer-encoding:[^\r\n]*`)
	foldedLine   = regexp.MustCompile(`\r?\n[ \t]+`)
)

var mutantCharsets = []string{"utf-8", "utf-16", "utf-16be", "utf-32", "utf-7", "iso-2022-jp", "gb18030", "x-unknown",
	"", `"`, "windows-1252", "koi8-r", "us-ascii", "big5", "shift_jis", "euc-kr", strings.Repeat("x", 300)}

var mutantCTEs = []string{"base64", "quoted-printable", "7bit", "8bit", "binary", "x-uuencode", "", "bAsE64 x", "quoted-printable; junk"}

// at returns a random offset in b (0 for an empty b).
func (m mutator) at(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return m.r.IntN(len(b) + 1)
}

func insertAt(b []byte, i int, s []byte) []byte {
	return append(b[:i:i], append(s, b[i:]...)...)
}

// mutate applies one to three random operations to b (a copy) and says
// which.
func (m mutator) mutate(b []byte, other []byte) ([]byte, []string) {
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

// TestCorpusMutants: every corpus message and thousands of mutated
// variants are stored (Insert never fails: a message that got 250 must
// be kept), read back with Get and Part, and served by the API: the
// message as JSON and the raw bytes exactly, both 200.
func TestCorpusMutants(t *testing.T) {
	t.Parallel()
	files := corpusFiles(t)
	fixtures, err := filepath.Glob(filepath.Join("..", "testdata", "mail", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var bases [][]byte
	for _, f := range append(files, fixtures...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, raw)
	}
	mutants := 10000
	if raceBuild {
		mutants = 400 // SQLite is some 30 times slower under -race; the full run is in .ci/run without it
	}
	s := newTestServer(t)
	h := s.ts.Config.Handler
	ctx := t.Context()
	m := mutator{r: rand.New(rand.NewPCG(7, 2024))}

	start := time.Now()
	var stored, parts int64
	var slowest time.Duration
	var slowOps string
	check := func(name string, raw []byte) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s: panic: %v", name, r)
			}
		}()
		sum, err := s.db.Insert(ctx, "", storeEnvelope(), raw)
		if err != nil {
			t.Errorf("%s: Insert: %v", name, err)
			return
		}
		stored += int64(len(raw))
		msg, err := s.db.Get(ctx, sum.ID)
		if err != nil {
			t.Errorf("%s: Get: %v", name, err)
			return
		}
		for i, p := range append(append([]store.Part{}, msg.Attached...), msg.Inline...) {
			if i == 3 {
				break // each Part parses the message again
			}
			if _, _, err := s.db.Part(ctx, sum.ID, p.ID); err != nil {
				t.Errorf("%s: Part(%s): %v", name, p.ID, err)
			}
			parts++
		}
		for _, path := range []string{"/api/v1/message/" + sum.ID, "/api/v1/message/" + sum.ID + "/raw"} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
			res := w.Result()
			body, _ := io.ReadAll(res.Body)
			switch {
			case res.StatusCode != http.StatusOK:
				t.Errorf("%s: GET %s = %d %s", name, path, res.StatusCode, body)
			case strings.HasSuffix(path, "/raw") && !bytes.Equal(body, raw):
				t.Errorf("%s: raw differs: %d bytes served, %d stored", name, len(body), len(raw))
			case !strings.HasSuffix(path, "/raw") && !json.Valid(body):
				t.Errorf("%s: message is not JSON", name)
			}
		}
	}
	for i, raw := range bases {
		check(fmt.Sprintf("base %d", i), raw)
	}
	for i := range mutants {
		raw, ops := m.mutate(bases[m.r.IntN(len(bases))], bases[m.r.IntN(len(bases))])
		t0 := time.Now()
		check(fmt.Sprintf("mutant %d (%s)", i, strings.Join(ops, ", ")), raw)
		if d := time.Since(t0); d > slowest {
			slowest, slowOps = d, fmt.Sprintf("mutant %d (%s), %d KiB", i, strings.Join(ops, ", "), len(raw)>>10)
		}
		if t.Failed() {
			break // the first failures say it; the rest are likely the same
		}
	}
	t.Logf("%d messages and %d mutants (%d MiB) stored and served, %d parts read, in %v; slowest %v: %s",
		len(bases), mutants, stored>>20, parts, time.Since(start).Round(time.Millisecond), slowest.Round(time.Millisecond), slowOps)
	if limit := 10 * time.Second; slowest > limit && !raceBuild {
		t.Errorf("slowest mutant took %v, want < %v: %s", slowest, limit, slowOps)
	}
}
