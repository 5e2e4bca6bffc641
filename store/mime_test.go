package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailsink/store"
)

var update = flag.Bool("update", false, "rewrite testdata/mail/*.golden.json")

// fixtures returns the paths of testdata/mail/*.eml.
func fixtures(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "mail", "*.eml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no fixtures: %v", err)
	}
	return files
}

// TestGolden inserts every fixture with a fixed id, envelope and clock and
// compares the stored Message (as JSON) with <name>.golden.json.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, path := range fixtures(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".eml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			db := newTestDB(t, store.Options{})
			ctx := context.Background()
			env := testEnv()
			if name == "eight-bit" {
				env.Body = "7BIT" // 8-bit data without BODY=8BITMIME
				env.MailParams = []store.Param{}
			}
			sum, err := db.Insert(ctx, name, env, raw)
			if err != nil {
				t.Fatalf("Insert: %v", err)
			}
			m, err := db.Get(ctx, name)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if sum.ID != m.ID || sum.Subject != m.Subject || sum.Snippet != m.Snippet {
				t.Errorf("Insert summary %+v differs from Get %+v", *sum, m.Summary)
			}
			got, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(path, ".eml") + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./store -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Message differs from %s (run with -update and review the diff):\n%s", golden, got)
			}
			if bytes.Contains(bytes.ReplaceAll(got, []byte(`"From": null`), nil), []byte("null")) {
				t.Errorf("JSON contains null:\n%s", got)
			}
			// Every node of the tree can be fetched with Part.
			var walk func(p store.Part)
			walk = func(p store.Part) {
				gp, content, err := db.Part(ctx, name, p.ID)
				if err != nil {
					t.Errorf("Part(%q): %v", p.ID, err)
					return
				}
				if gp.ID != p.ID || int64(len(content)) != p.Size {
					t.Errorf("Part(%q) = id %q, %d bytes; want size %d", p.ID, gp.ID, len(content), p.Size)
				}
				for _, c := range p.Children {
					walk(c)
				}
			}
			walk(m.Root)
		})
	}
}

// TestFindings pins which finding codes each fixture yields.
func TestFindings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture string
		env     func(*store.Envelope)
		want    []string // codes, sorted
	}{
		{"plain-text", nil, []string{}},
		{"bare-lf", nil, []string{"bare-lf"}},
		{"long-lines", nil, []string{"line-too-long"}},
		{"eight-bit", func(e *store.Envelope) { e.Body = "" }, []string{"8bit-without-8bitmime"}},
		{"eight-bit", func(e *store.Envelope) { e.Body = "8BITMIME" }, []string{}},
		{"eight-bit", func(e *store.Envelope) { e.SMTPUTF8 = true }, []string{}},
		{"eight-bit", func(e *store.Envelope) { e.Source = "api" }, []string{}},
		{"no-date-no-msgid", nil, []string{"missing-date", "missing-message-id", "mime-plain-text-from-html"}},
		{"broken-boundary", nil, []string{"mime-malformed-base64", "unclosed-boundary"}},
		{"garbage", nil, []string{"8bit-without-8bitmime", "bare-lf", "bare-cr", "enmime", "missing-date", "missing-message-id", "nul-byte"}},
		// Well-formed shapes: only enmime's notes about what is missing.
		{"forwarded-rfc822-attachment", nil, []string{}},
		{"dsn-delivery-status", nil, []string{}},
		{"calendar-invite-request", nil, []string{}},
		{"smime-multipart-signed", nil, []string{}},
		{"charset-windows-1251-qp-koi8r-subject", nil, []string{}},
		{"charset-iso-2022-jp", nil, []string{}}, // ESC bytes are 7-bit
		{"qp-utf8-html-soft-breaks", nil, []string{"mime-plain-text-from-html"}},
		{"html-hostile-content", nil, []string{"mime-plain-text-from-html"}},
		{"attachment-rfc2231-continuations", nil, []string{}},
		{"mixed-pdf-and-text-attachments", nil, []string{}},
		{"long-folded-to-list", nil, []string{}},
		{"received-chain", nil, []string{}},
		{"alternative-flowed-base64-html", nil, []string{}},
		{"unknown-transfer-encoding", nil, []string{"mime-content-encoding"}},
		{"related-png-and-nameless-octet-stream", nil, []string{"mime-plain-text-from-html"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(filepath.Join("..", "testdata", "mail", tt.fixture+".eml"))
			if err != nil {
				t.Fatal(err)
			}
			db := newTestDB(t, store.Options{})
			env := store.Envelope{}
			if tt.env != nil {
				tt.env(&env)
			}
			s, err := db.Insert(context.Background(), "", env, raw)
			if err != nil {
				t.Fatal(err)
			}
			m, err := db.Get(context.Background(), s.ID)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, f := range m.Findings {
				got = append(got, f.Code)
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("codes = %v, want %v (%+v)", got, want, m.Findings)
			}
		})
	}
}

func TestMissingMIMEVersion(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	tests := []struct {
		name, header string
		want         bool
	}{
		{"multipart", "Content-Type: multipart/mixed; boundary=x\r\n", true},
		{"image", "Content-Type: image/png\r\n", true},
		{"cte only", "Content-Transfer-Encoding: base64\r\n", true},
		{"text", "Content-Type: text/plain\r\n", false},
		{"none", "", false},
		{"with version", "MIME-Version: 1.0\r\nContent-Type: image/png\r\n", false},
	}
	for _, tt := range tests {
		raw := []byte("Date: Tue, 04 Mar 2025 10:15:00 +0100\r\nMessage-ID: <a@b>\r\n" + tt.header + "\r\nx\r\n--x--\r\n")
		s, err := db.Insert(context.Background(), "", store.Envelope{}, raw)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := db.Get(context.Background(), s.ID)
		got := slices.ContainsFunc(m.Findings, func(f store.Finding) bool { return f.Code == "missing-mime-version" })
		if got != tt.want {
			t.Errorf("%s: missing-mime-version = %v, want %v (%+v)", tt.name, got, tt.want, m.Findings)
		}
	}
}
