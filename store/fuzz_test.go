package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"mailsink/store"
)

// FuzzInsert: any bytes are a message. Insert must not fail or panic, and
// Get, Raw and Part must work on what it stored.
func FuzzInsert(f *testing.F) {
	for _, path := range fixtures(f) {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte{})
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a--\r\n"))
	// In memory: no fsync per exec, so the fuzzer gets many more runs; the
	// SQL and parse paths are the same as on disk.
	ctx := context.Background()
	db, err := store.Open(ctx, ":memory:", store.Options{Log: discard()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := db.Close(); err != nil {
			f.Error(err)
		}
	})
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := db.Insert(ctx, "", store.Envelope{}, raw)
		if err != nil {
			t.Fatalf("Insert: %v", err)
		}
		m, err := db.Get(ctx, s.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		got, err := db.Raw(ctx, s.ID)
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("Raw = %q, %v; want %q", got, err, raw)
		}
		if _, _, err := db.Part(ctx, s.ID, m.Root.ID); err != nil {
			t.Fatalf("Part(root %q): %v", m.Root.ID, err)
		}
		for _, p := range m.Attached {
			if _, _, err := db.Part(ctx, s.ID, p.ID); err != nil {
				t.Fatalf("Part(%q): %v", p.ID, err)
			}
		}
		if _, err := db.Delete(ctx, []string{s.ID}); err != nil { // keep the DB small
			t.Fatalf("Delete: %v", err)
		}
	})
}

// FuzzFind: any search query either runs or is refused with a
// *QueryError (ErrBadQuery) pointing inside the query; it never becomes
// SQL or FTS5 syntax (which would fail with another error), and the page
// is consistent with the counts and with FindIDs.
func FuzzFind(f *testing.F) {
	for _, q := range []string{
		"", "invoice", `"a phrase"`, "from:bob subject:hello", "-is:read !tag:x",
		"larger:1.5M smaller:10kb", "before:2024-01-02 after:2023/12/31",
		`after:"2024-01-02 10:30"`, "has:attachment is:tagged inbox:\"\"",
		`from:"unterminated`, "NEAR(a b) OR c* ^d", `subject:\" "\\"`, "message-id:<a@b>",
		"from:", "is:bogus", "larger:x", "before:2024-13-45", "- ! -- !!", "日本語 köln",
	} {
		f.Add(q, 0, 10)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, ":memory:", store.Options{Log: discard()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := db.Close(); err != nil {
			f.Error(err)
		}
	})
	for _, path := range fixtures(f) {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := db.Insert(ctx, "", store.Envelope{MailFrom: "a@x.test"}, raw); err != nil {
			f.Fatal(err)
		}
	}
	all, err := db.Find(ctx, store.Filter{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string, start, limit int) {
		start, limit = min(max(start, -5), 1000), min(max(limit, -5), 1000)
		p, err := db.Find(ctx, store.Filter{Query: q, Start: start, Limit: limit})
		ids, idErr := db.FindIDs(ctx, store.Filter{Query: q})
		if err != nil {
			var qe *store.QueryError
			if !errors.As(err, &qe) || !errors.Is(err, store.ErrBadQuery) {
				t.Fatalf("Find(%q) = %v, want nil or a *QueryError", q, err)
			}
			if qe.Pos < 0 || qe.Pos > len(q) {
				t.Fatalf("Find(%q): Pos %d outside the query", q, qe.Pos)
			}
			if !errors.Is(idErr, store.ErrBadQuery) {
				t.Fatalf("FindIDs(%q) = %v, Find = %v", q, idErr, err)
			}
			return
		}
		if idErr != nil {
			t.Fatalf("FindIDs(%q) = %v, Find succeeded", q, idErr)
		}
		if p.Messages == nil || p.Total > all.Total || p.Unread > p.Total || len(p.Messages) > p.Total ||
			limit > 0 && len(p.Messages) > limit || len(ids) != p.Total {
			t.Fatalf("Find(%q, %d, %d): %d messages, total %d, unread %d, %d ids; store holds %d",
				q, start, limit, len(p.Messages), p.Total, p.Unread, len(ids), all.Total)
		}
	})
}
