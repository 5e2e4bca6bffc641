package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"mailsink/store"
)

// TestCountsKept: the counts kept by triggers (Stats, Inboxes, tag counts,
// and the counts of Find that come from them) equal counting the rows,
// after every kind of change.
func TestCountsKept(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{PlusTags: true})
	ctx := context.Background()
	var ids []string
	add := func(n int) {
		for range n {
			i := len(ids)
			raw := fmt.Sprintf("From: bob%d@example.org\r\nTo: qa+job%d@example.com\r\nX-Tags: t%d, T%d\r\n"+
				"Subject: s%d\r\n\r\nbody %d\r\n", i%4, i%3, i%2, i%5, i, i)
			ids = append(ids, insert(t, db, fmt.Sprintf("m%02d", i), []byte(raw)).ID)
		}
	}
	queries := []string{"", "inbox:job1", `inbox:""`, "inbox:nope", "is:unread", "is:read", "-is:read", "-is:unread",
		"inbox:job1 is:unread", "inbox:job1 -is:unread", "is:read is:unread", "inbox:job1 inbox:job2",
		"tag:t1", "tag:T3 is:unread", "tag:t1 is:read", "-tag:t1", "tag:t1 tag:t3", "is:tagged",
		"from:bob3", "body", "body is:unread", "-body is:read", "body from:bob1", "body tag:t0", "body -from:bob1"}
	check := func(step string) {
		t.Helper()
		total, unread, inboxes, tags, err := db.ScanCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st, err := db.Stats(ctx)
		if err != nil || st.Total != total || st.Unread != unread || !maps.Equal(st.Tags, tags) {
			t.Errorf("%s: Stats = %d, %d, %v, %v; counting rows gives %d, %d, %v", step, st.Total, st.Unread, st.Tags, err, total, unread, tags)
		}
		got, err := db.Inboxes(ctx)
		if err != nil || !slices.Equal(got, inboxes) {
			t.Errorf("%s: Inboxes = %v, %v; counting rows gives %v", step, got, err, inboxes)
		}
		for _, q := range queries {
			all, err := db.FindIDs(ctx, store.Filter{Query: q})
			if err != nil {
				t.Fatal(err)
			}
			unread, err := db.FindIDs(ctx, store.Filter{Query: q + " is:unread"})
			if err != nil {
				t.Fatal(err)
			}
			// A page with rows, and one past the end (counted apart).
			for _, start := range []int{0, 1000} {
				p, err := db.Find(ctx, store.Filter{Query: q, Start: start, Limit: 1})
				if err != nil {
					t.Fatal(err)
				}
				if p.Total != len(all) || p.Unread != len(unread) {
					t.Errorf("%s: Find(%q, start %d) counts %d, %d unread; its rows are %d, %d unread",
						step, q, start, p.Total, p.Unread, len(all), len(unread))
				}
			}
		}
	}

	check("empty")
	add(30)
	check("inserted")
	if err := db.SetRead(ctx, ids[:10], true); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRead(ctx, ids[5:12], true); err != nil { // some already read
		t.Fatal(err)
	}
	check("some read")
	if err := db.SetRead(ctx, ids[8:9], false); err != nil {
		t.Fatal(err)
	}
	check("one unread again")
	if err := db.SetTags(ctx, ids[:4], []string{"New", "t1"}); err != nil {
		t.Fatal(err)
	}
	check("SetTags")
	if err := db.RenameTag(ctx, "t1", "T0"); err != nil { // merges into t0, respelled
		t.Fatal(err)
	}
	check("RenameTag merge")
	if err := db.RenameTag(ctx, "new", "Newer"); err != nil {
		t.Fatal(err)
	}
	check("RenameTag")
	if err := db.DeleteTag(ctx, "t3"); err != nil {
		t.Fatal(err)
	}
	check("DeleteTag")
	if _, err := db.Delete(ctx, ids[2:7]); err != nil {
		t.Fatal(err)
	}
	check("Delete")
	if _, err := db.DeleteInbox(ctx, "job2"); err != nil {
		t.Fatal(err)
	}
	check("DeleteInbox")
	if err := db.SetRead(ctx, nil, true); err != nil {
		t.Fatal(err)
	}
	check("all read")
	if err := db.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	check("DeleteAll")
	add(7)
	check("inserted after DeleteAll")
}

// TestDeleteAllKeepsSchema: DeleteAll re-creates what it drops, so the
// schema afterwards is the one before, and the seq goes on.
func TestDeleteAllKeepsSchema(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	ctx := context.Background()
	insert(t, db, "a", msg("first"))
	before, err := db.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := db.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(before, after) {
		t.Errorf("schema changed by DeleteAll:\nbefore %q\nafter  %q", before, after)
	}
	if s := insert(t, db, "b", msg("second")); s.Seq != 2 {
		t.Errorf("seq after DeleteAll = %d, want 2", s.Seq)
	}
	if _, err := db.Raw(ctx, "b"); err != nil {
		t.Errorf("Raw after DeleteAll: %v", err)
	}
	// The re-created foreign keys still cascade.
	if _, err := db.Delete(ctx, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.RowCount(ctx, "raw"); err != nil || n != 0 {
		t.Errorf("raw rows after Delete = %d, %v", n, err)
	}
}

// TestCountsBackfill: 0003 fills the count tables from the rows a store
// holds when it is upgraded.
func TestCountsBackfill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mail.db")
	db, err := store.Open(ctx, path, store.Options{Log: discard(), PlusTags: true})
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for i := range 25 {
		raw := fmt.Sprintf("To: qa+job%d@example.com\r\nX-Tags: t%d, Ü%d\r\nSubject: s%d\r\n\r\nbody\r\n", i%4, i%3, i%2, i)
		s, err := db.Insert(ctx, "", store.Envelope{}, []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			read = append(read, s.ID)
		}
	}
	if err := db.SetRead(ctx, read, true); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Back to the schema before 0003, rows kept.
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TRIGGER messages_count_insert`, `DROP TRIGGER messages_count_delete`, `DROP TRIGGER messages_count_update`,
		`DROP TRIGGER message_tags_count_insert`, `DROP TRIGGER message_tags_count_delete`, `DROP TRIGGER message_tags_count_update`,
		`DROP TABLE inbox_counts`, `DROP TABLE tag_counts`,
		`DELETE FROM schema_migrations WHERE name = 'migrations/0003_counts.sql'`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = store.Open(ctx, path, store.Options{Log: discard()})
	if err != nil {
		t.Fatalf("Open migrates: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	total, unread, inboxes, tags, err := db.ScanCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if total != 25 || unread != 16 || len(inboxes) != 4 || len(tags) != 9 { // tags: t*, Ü*, plus-tags job*
		t.Fatalf("fixture: %d, %d, %v, %v", total, unread, inboxes, tags)
	}
	st, err := db.Stats(ctx)
	if err != nil || st.Total != total || st.Unread != unread || !maps.Equal(st.Tags, tags) {
		t.Errorf("Stats = %+v, %v; counting rows gives %d, %d, %v", st, err, total, unread, tags)
	}
	if got, err := db.Inboxes(ctx); err != nil || !slices.Equal(got, inboxes) {
		t.Errorf("Inboxes = %v, %v; counting rows gives %v", got, err, inboxes)
	}
}
