package store_test

import (
	"context"
	"fmt"
	"testing"

	"mailsink/store"
)

// BenchmarkInsertParallel measures group commit: 50 concurrent Inserts
// (like 50 SMTP connections), each returning only after the commit that
// holds it. ns/op is wall time per message across all of them.
func BenchmarkInsertParallel(b *testing.B) {
	g := newMailGen(9)
	for _, raw := range [][]byte{g.text(1, 2048), g.multipart(2, 50_000)} {
		b.Run(fmt.Sprintf("%dB", len(raw)), func(b *testing.B) {
			db := newTestDB(b, store.Options{})
			db.rec.ch = nil
			ctx := context.Background()
			b.SetBytes(int64(len(raw)))
			b.SetParallelism(25) // × GOMAXPROCS (2 here) = 50 writers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := db.Insert(ctx, "", store.Envelope{}, raw); err != nil {
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
