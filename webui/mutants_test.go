package webui_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailsink/internal/mailmut"
	"mailsink/store"
)

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
	m := mailmut.New(7, 2024)

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
		raw, ops := m.Mutate(bases[m.IntN(len(bases))], bases[m.IntN(len(bases))])
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
