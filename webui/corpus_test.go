package webui_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// corpusDir is the shared public test corpus of real-world .eml files.
const corpusDir = "../../shared/testdata-public"

// corpusFiles lists the corpus messages; it skips the test when the corpus
// is absent, unless MAILSINK_REQUIRE_CORPUS is set.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.eml"))
	if err == nil && len(files) == 0 {
		err = fs.ErrNotExist
	}
	if err != nil {
		if os.Getenv("MAILSINK_REQUIRE_CORPUS") != "" {
			t.Fatalf("corpus %s: %v", corpusDir, err)
		}
		t.Skipf("corpus %s not available: %v", corpusDir, err)
	}
	return files
}

// TestCorpus serves every corpus message through the API: the message and
// its headers decode, raw is byte-identical, every listed part downloads
// with the advertised checksum, and HTML views carry the CSP and no
// remaining cid: reference to a listed inline part.
func TestCorpus(t *testing.T) {
	t.Parallel()
	files := corpusFiles(t)
	s := newTestServer(t)
	raws := map[string][]byte{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSuffix(filepath.Base(f), ".eml")
		raws[id] = raw
		if _, err := s.db.Insert(t.Context(), id, storeEnvelope(), raw); err != nil {
			t.Fatalf("insert %s: %v", id, err)
		}
	}

	var list messagesSummary
	s.getJSON(t, "/api/v1/messages?limit=1000", &list)
	if list.MessagesCount != len(files) || len(list.Messages) != len(files) {
		t.Fatalf("listed %d of %d (messages_count %d)", len(list.Messages), len(files), list.MessagesCount)
	}

	parts, views := 0, 0
	for id, raw := range raws {
		var m message
		s.getJSON(t, "/api/v1/message/"+id, &m)
		if m.ID != id || m.Size != int64(len(raw)) {
			t.Errorf("%s: ID %q Size %d, want size %d", id, m.ID, m.Size, len(raw))
		}
		var headers map[string][]string
		s.getJSON(t, "/api/v1/message/"+id+"/headers", &headers)

		if res := s.get(t, "/api/v1/message/"+id+"/raw"); res.status != 200 || string(res.body) != string(raw) {
			t.Errorf("%s: raw = %d, identical %v", id, res.status, string(res.body) == string(raw))
		}
		for _, a := range slices.Concat(m.Inline, m.Attachments) {
			parts++
			res := s.get(t, "/api/v1/message/"+id+"/part/"+a.PartID)
			sum := sha256.Sum256(res.body)
			if res.status != 200 || hex.EncodeToString(sum[:]) != a.Checksums.SHA256 || int64(len(res.body)) != a.Size {
				t.Errorf("%s part %s: status %d, %d bytes (listed %d), sha256 match %v", id, a.PartID, res.status,
					len(res.body), a.Size, hex.EncodeToString(sum[:]) == a.Checksums.SHA256)
			}
		}
		res := s.get(t, "/view/"+id+".html")
		switch {
		case m.HTML == "":
			if res.status != http.StatusNotFound {
				t.Errorf("%s: view of a message without HTML = %d, want 404", id, res.status)
			}
		case res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Security-Policy"), "default-src 'none'"):
			t.Errorf("%s: view = %d, CSP %q", id, res.status, res.header.Get("Content-Security-Policy"))
		default:
			views++
			for _, in := range m.Inline {
				if in.ContentID != "" && strings.Contains(string(res.body), "cid:"+in.ContentID) {
					t.Errorf("%s: view still references cid:%s", id, in.ContentID)
				}
			}
		}
	}
	t.Logf("%d messages, %d parts downloaded, %d HTML views", len(raws), parts, views)
}
