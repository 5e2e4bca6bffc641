package store_test

import (
	"context"
	"encoding/base64"
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
