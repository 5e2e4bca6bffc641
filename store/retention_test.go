package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"mailsink/store"
)

func TestRetentionByCount(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{MaxMessages: 3})
	ctx := context.Background()
	for _, id := range []string{"m1", "m2", "m3", "m4", "m5"} {
		insert(t, db, id, msg(id))
	}
	list, err := db.List(ctx, 0, 0)
	if err != nil || !slices.Equal(ids(list), []string{"m5", "m4", "m3"}) {
		t.Fatalf("List = %v, %v; want newest 3", ids(list), err)
	}
	var deleted []string
	for _, e := range db.rec.take() {
		if e.Type == "delete" {
			deleted = append(deleted, e.Data.(map[string]any)["IDs"].([]string)...)
		}
	}
	if !slices.Equal(deleted, []string{"m1", "m2"}) {
		t.Errorf("delete events = %v, want [m1 m2]", deleted)
	}
	if _, err := db.Raw(ctx, "m1"); err == nil {
		t.Error("raw of pruned m1 still there")
	}
	if n, err := db.Prune(ctx); n != 0 || err != nil {
		t.Errorf("Prune = %d, %v; want nothing left to prune", n, err)
	}
}

func TestRetentionByAge(t *testing.T) {
	t.Parallel()
	// A long interval: only the explicit Prune runs here.
	db := newTestDB(t, store.Options{MaxAge: time.Hour, PruneInterval: time.Hour})
	ctx := context.Background()
	insert(t, db, "old", msg("old"))
	db.clock.Add(45 * time.Minute)
	insert(t, db, "young", msg("young"))
	if n, err := db.Prune(ctx); n != 0 || err != nil {
		t.Fatalf("Prune at +45m = %d, %v; want 0", n, err)
	}
	db.clock.Add(30 * time.Minute) // old is 75 min, young 30 min
	db.rec.take()
	if n, err := db.Prune(ctx); n != 1 || err != nil {
		t.Fatalf("Prune at +75m = %d, %v; want 1", n, err)
	}
	list, _ := db.List(ctx, 0, 0)
	if !slices.Equal(ids(list), []string{"young"}) {
		t.Errorf("List = %v, want [young]", ids(list))
	}
	ev := db.rec.take()
	if len(ev) != 1 || ev[0].Type != "delete" || !slices.Equal(ev[0].Data.(map[string]any)["IDs"].([]string), []string{"old"}) {
		t.Errorf("events = %+v", ev)
	}
}

func TestBackgroundPruner(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{MaxAge: time.Minute, PruneInterval: time.Millisecond})
	insert(t, db, "stale", msg("stale"))
	db.clock.Add(2 * time.Minute)
	// The pruner runs every millisecond; wait for its delete event.
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-db.rec.ch:
			if e.Type != "delete" {
				continue
			}
			if got := e.Data.(map[string]any)["IDs"].([]string); !slices.Equal(got, []string{"stale"}) {
				t.Fatalf("deleted %v", got)
			}
			if st, _ := db.Stats(context.Background()); st.Total != 0 {
				t.Errorf("Total = %d after prune", st.Total)
			}
			return
		case <-timeout:
			t.Fatal("background pruner did not delete the stale message")
		}
	}
}
