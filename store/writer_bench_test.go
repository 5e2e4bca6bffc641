package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"mailsink/store"
)

// BenchmarkInsertParallel measures group commit: 50 concurrent Inserts
// (like 50 SMTP connections), each returning only after the commit that
// holds it. ns/op is wall time per message across all of them.
func BenchmarkInsertParallel(b *testing.B) {
	words := strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango")
	body := func(n int) string {
		var sb strings.Builder
		for i := 0; sb.Len() < n; i++ {
			sb.WriteString(words[(i*7+i/3)%len(words)])
			if i%12 == 11 {
				sb.WriteString("\r\n")
			} else {
				sb.WriteByte(' ')
			}
		}
		return sb.String()
	}
	text := "From: Shop <shop@example.com>\r\nTo: bob@example.org\r\nSubject: Your order\r\n" +
		"Date: Tue, 04 Mar 2025 10:15:00 +0100\r\nMessage-ID: <bench@x>\r\n\r\n" + body(1900) + "\r\n"
	for _, bm := range []struct {
		name string
		raw  []byte
	}{
		{fmt.Sprintf("text-%dB", len(text)), []byte(text)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			db := newTestDB(b, store.Options{})
			db.rec.ch = nil
			ctx := context.Background()
			b.SetBytes(int64(len(bm.raw)))
			b.SetParallelism(25) // × GOMAXPROCS (2 here) = 50 writers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := db.Insert(ctx, "", store.Envelope{}, bm.raw); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			db.rec.take()
		})
	}
}
