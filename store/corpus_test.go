package store_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailsink/store"
)

const corpusDir = "../../shared/testdata-public"

// corpus returns the corpus file names with their MANIFEST "exercises"
// text, or skips when the corpus is absent (fails when
// MAILSINK_REQUIRE_CORPUS is set).
func corpus(tb testing.TB) map[string]string {
	tb.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "MANIFEST.tsv"))
	if err != nil {
		if os.Getenv("MAILSINK_REQUIRE_CORPUS") != "" {
			tb.Fatalf("corpus required: %v", err)
		}
		tb.Skipf("corpus absent: %v", err)
	}
	defer f.Close() //nolint:errcheck // read only
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 6 || cols[0] == "file" {
			continue
		}
		out[cols[0]] = cols[5]
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatal("empty MANIFEST.tsv")
	}
	return out
}

// TestCorpus stores every corpus message and reads it back.
func TestCorpus(t *testing.T) {
	t.Parallel()
	files := corpus(t)
	db := newTestDB(t, store.Options{})
	ctx := context.Background()
	for name, exercises := range files {
		raw, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil {
			t.Fatal(err)
		}
		sum, err := db.Insert(ctx, name, store.Envelope{}, raw)
		if err != nil {
			t.Errorf("%s: Insert: %v", name, err)
			continue
		}
		m, err := db.Get(ctx, sum.ID)
		if err != nil {
			t.Errorf("%s: Get: %v", name, err)
			continue
		}
		got, err := db.Raw(ctx, sum.ID)
		if err != nil || string(got) != string(raw) {
			t.Errorf("%s: Raw differs (%d vs %d bytes), %v", name, len(got), len(raw), err)
		}
		ex := strings.ToLower(exercises)
		if strings.Contains(ex, "subject") && strings.Contains(ex, "encoded") && strings.Contains(m.Subject, "=?") {
			t.Errorf("%s: Subject still encoded: %q", name, m.Subject)
		}
		for _, p := range append(append([]store.Part{}, m.Attached...), m.Inline...) {
			gp, content, err := db.Part(ctx, sum.ID, p.ID)
			if err != nil {
				t.Errorf("%s: Part(%s): %v", name, p.ID, err)
				continue
			}
			if gp.ID != p.ID || int64(len(content)) != p.Size {
				t.Errorf("%s: Part(%s) = %q, %d bytes; want size %d", name, p.ID, gp.ID, len(content), p.Size)
			}
		}
	}
	if st, err := db.Stats(ctx); err != nil || st.Total != len(files) {
		t.Errorf("Stats = %+v, %v; want %d messages", st, err, len(files))
	}
}

// TestCorpusDecoded checks decoded values of corpus files inspected by hand.
func TestCorpusDecoded(t *testing.T) {
	t.Parallel()
	corpus(t)
	tests := []struct {
		file     string
		subject  string // substring; "" = not checked
		fromName string
		fileName string // of the first attachment
	}{
		{file: "attachment-rfc2231-latin1-filename.eml", fileName: "attachment.äöü"},
		{file: "attachment-rfc2231-utf8-filename.eml", fileName: "attachment.äöü"},
		{file: "attachment-folded-encoded-filename.eml", fileName: "50032266 CAR 11_MNPA00A01_9PTX_H00 ATT N° 1467829.pdf"},
		{file: "attachment-ks-c-5601-filename.eml", fileName: "사진.JPG"},
		{file: "attachment-utf8-q-doc-filename.eml", fileName: "Biodiversité de semaine en semaine.doc"},
		{file: "charset-windows-1251-body-and-subject.eml", subject: "Алфавит"},
		{file: "charset-windows-1251-encoded-subject.eml", subject: "Путін хуйло"},
		{file: "charset-iso-2022-jp-with-utf8-subject.eml", subject: "まみむめも", fromName: "Mikel Lindsaar"},
		{file: "encword-iso-2022-jp-encoded-words.eml", subject: "テストテスト", fromName: "Atsushi Yoshida"},
		{file: "charset-cp932-japanese.eml", subject: "ここに本文がきます。"},
		{file: "charset-gb2312-raw-8bit-header.eml", subject: "代开各地增值税发票", fromName: "张先生"},
		{file: "encword-utf8-b-subject-odd-letters.eml", subject: "Test of ȇɲʢȯȡɪɴʛ", fromName: "X-äéß Y-äéß"},
		{file: "encword-bad-charset-none.eml", subject: "TEST"},
		{file: "encword-utf8-q-hungarian-folded.eml", subject: "árvíztűrő tükörfúrógép", fromName: "sendeär"},
		{file: "utf8hdr-smtputf8-raw-utf8-headers.eml", subject: "Grüße aus Köln — 日本語の件名 ✉", fromName: "Jürgen Weiß"},
		{file: "charset-iso-8859-15-german-qp.eml", fromName: "Jörn Reder"},
	}
	db := newTestDB(t, store.Options{})
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(corpusDir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			s, err := db.Insert(ctx, "", store.Envelope{}, raw)
			if err != nil {
				t.Fatal(err)
			}
			m, err := db.Get(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if tt.subject != "" && !strings.Contains(m.Subject, tt.subject) {
				t.Errorf("Subject = %q, want it to contain %q", m.Subject, tt.subject)
			}
			if tt.fromName != "" && (m.From == nil || m.From.Name != tt.fromName) {
				t.Errorf("From = %+v, want name %q", m.From, tt.fromName)
			}
			if tt.fileName != "" && (len(m.Attached) == 0 || m.Attached[0].FileName != tt.fileName) {
				t.Errorf("Attached = %+v, want first file name %q", m.Attached, tt.fileName)
			}
		})
	}
}
