package store_test

import (
	"bytes"
	"context"
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
