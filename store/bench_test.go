package store_test

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"strings"
	"testing"

	"mailsink/store"
)

// BenchmarkInsert measures one durable Insert (parse + commit with fsync).
func BenchmarkInsert(b *testing.B) {
	text := "From: a@example.com\r\nTo: b@example.org\r\nSubject: bench\r\n" +
		"Date: Tue, 04 Mar 2025 10:15:00 +0100\r\nMessage-ID: <bench@x>\r\n\r\n" +
		strings.Repeat("The quick brown fox jumps over the lazy dog. 0123456789\r\n", 36) // ~2 KB
	att := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("binary\x00\x01\x02", 4000)))
	var lines []string
	for len(att) > 76 {
		lines, att = append(lines, att[:76]), att[76:]
	}
	lines = append(lines, att)
	multi := "From: a@example.com\r\nTo: b@example.org\r\nSubject: bench multipart\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n" +
		"--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat("Hello text body.\r\n", 200) +
		"--A\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>" + strings.Repeat("Hello <b>HTML</b> body.\r\n", 200) + "</p>\r\n--A--\r\n" +
		"--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + strings.Join(lines, "\r\n") + "\r\n--B--\r\n"
	for _, bm := range []struct {
		name string
		raw  []byte
	}{
		{fmt.Sprintf("text-%dB", len(text)), []byte(text)},
		{fmt.Sprintf("multipart-%dB", len(multi)), []byte(multi)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			db := newTestDB(b, store.Options{})
			ctx := context.Background()
			b.SetBytes(int64(len(bm.raw)))
			for b.Loop() {
				if _, err := db.Insert(ctx, "", store.Envelope{}, bm.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// findMessages is the store size of BenchmarkFind.
var findMessages = flag.Int("find-messages", 20000, "messages in the store of BenchmarkFind")

// BenchmarkFind measures Find (count + page of 50 + cursor in one
// snapshot) on a store of -find-messages messages in 10 inboxes with 20
// tags, a third of them read. The store is in memory: the plans and the
// work are the same as on disk, without fsync-bound setup.
func BenchmarkFind(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, ":memory:", store.Options{Log: discard(), PlusTags: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() }) // in memory: nothing to lose
	var read []string
	for i := range *findMessages {
		raw := fmt.Sprintf("From: Sender %d <sender%d@example.org>\r\nTo: qa+inbox%d@example.com\r\n"+
			"X-Tags: tag%d\r\nSubject: Message number %d\r\nMessage-ID: <m%d@example.org>\r\n\r\n"+
			"The quick brown fox %d jumps over the lazy dog.\r\n", i%1000, i%1000, i%10, i%20, i, i, i)
		s, err := db.Insert(ctx, "", store.Envelope{}, []byte(raw))
		if err != nil {
			b.Fatal(err)
		}
		if i%3 == 0 {
			read = append(read, s.ID)
		}
	}
	if err := db.SetRead(ctx, read, true); err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{"", "inbox:inbox3", "tag:tag7", "is:unread", "from:sender42", "fox",
		"subject:\"number 4242\"", "-is:read inbox:inbox3", "larger:1k"} {
		b.Run(fmt.Sprintf("%q", q), func(b *testing.B) {
			for b.Loop() {
				if _, err := db.Find(ctx, store.Filter{Query: q, Limit: 50}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Inboxes", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Inboxes(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Stats", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Stats(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
