package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"mailsink/store"
)

// TestGroupCommit: many concurrent inserts share transactions, yet each
// succeeds or fails alone (a duplicate id fails only its own insert), all
// are stored, and the "new" events come in commit (seq) order.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	db.rec.ch = nil
	const n = 300
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("m%03d", i)
			if i%50 == 49 {
				id = "dup" // all but the first of these collide
			}
			raw := fmt.Sprintf("Subject: group %d\r\nMessage-ID: <%d@x.test>\r\n\r\nbody %d\r\n", i, i, i)
			_, errs[i] = db.Insert(context.Background(), id, testEnv(), []byte(raw))
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if i%50 != 49 {
				t.Errorf("insert %d: %v", i, err)
			}
		}
	}
	const dups = n / 50
	if failed != dups-1 {
		t.Errorf("%d inserts failed, want %d (the colliding ids but one)", failed, dups-1)
	}
	st, err := db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := n - (dups - 1); st.Total != want {
		t.Errorf("stored %d, want %d", st.Total, want)
	}
	var last int64
	news := 0
	for _, e := range db.rec.take() {
		if e.Type != "new" {
			continue
		}
		news++
		s := e.Data.(*store.Summary)
		if s.Seq <= last {
			t.Fatalf("event for seq %d after seq %d: not in commit order", s.Seq, last)
		}
		last = s.Seq
	}
	if news != st.Total {
		t.Errorf("%d new events, want %d", news, st.Total)
	}
}

// TestWriteCancelledBeforeItRuns: a write whose ctx ends before the writer
// takes it is not done, and the caller hears so.
func TestWriteCancelledBeforeItRuns(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := db.Insert(ctx, "never", testEnv(), []byte("Subject: x\r\n\r\nx\r\n"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Insert with a cancelled ctx = %v, want context.Canceled", err)
	}
	if _, err := db.Get(context.Background(), "never"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the cancelled insert was stored (Get: %v)", err)
	}
}

// TestWriteAfterClose fails with ErrClosed instead of hanging.
func TestWriteAfterClose(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	if err := db.DB.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Insert(context.Background(), "late", testEnv(), []byte("Subject: x\r\n\r\nx\r\n")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Insert after Close = %v, want ErrClosed", err)
	}
}

// TestBatchFullTextOrder: full-text rows are written at the end of their
// batch (atBatchEnd); deletes sharing a batch with inserts must still
// find them, so no index row outlives its message and every search count
// agrees with the messages stored.
func TestBatchFullTextOrder(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	db.rec.ch = nil
	ctx := context.Background()
	const n = 400
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw := fmt.Sprintf("Subject: common uniq%04d\r\n\r\nshared body\r\n", i)
			if _, err := db.Insert(ctx, "", testEnv(), []byte(raw)); err != nil {
				t.Error(err)
			}
		}()
		if i%40 == 20 {
			wg.Add(1)
			go func() { // lands in the middle of a batch of inserts
				defer wg.Done()
				var err error
				if i%80 == 20 {
					err = db.DeleteAll(ctx)
				} else {
					var ids []string
					if ids, err = db.FindIDs(ctx, store.Filter{Query: "shared"}); err == nil {
						_, err = db.Delete(ctx, ids)
					}
				}
				if err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fts, err := db.RowCount(ctx, "messages_fts")
	if err != nil {
		t.Fatal(err)
	}
	p, err := db.Find(ctx, store.Filter{Query: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d messages left", st.Total, n)
	if fts != st.Total || p.Total != st.Total || len(p.Messages) != st.Total {
		t.Errorf("full-text rows %d, search total %d (%d listed), messages %d: want all equal",
			fts, p.Total, len(p.Messages), st.Total)
	}
	for _, m := range p.Messages {
		word := strings.Fields(m.Subject)[1]
		if got, err := db.Find(ctx, store.Filter{Query: word}); err != nil || got.Total != 1 {
			t.Errorf("search %s: total %d, %v; want 1", word, got.Total, err)
		}
	}
}
