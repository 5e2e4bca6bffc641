package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"mailsink/store"
)

// fullScan reports whether an EXPLAIN QUERY PLAN detail line is a scan of
// the messages table itself. A scan of one of its indexes ("SCAN messages
// USING [COVERING] INDEX …") or of the FTS table is fine.
func fullScan(detail string) bool {
	return detail == "SCAN messages" || strings.HasPrefix(detail, "SCAN messages ") && !strings.Contains(detail, " INDEX ")
}

// TestQueryPlans pins that listing, counting and the common searches never
// scan the messages table (SQLite's planner uses no statistics here: we
// never ANALYZE, so these plans are the ones production gets at any size).
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{PlusTags: true})
	ctx := context.Background()
	for i := range 20 {
		raw := fmt.Sprintf("From: bob%d@example.org\r\nTo: qa+job%d@example.com\r\nX-Tags: t%d\r\nSubject: s%d\r\n\r\nbody\r\n", i, i%3, i%2, i)
		insert(t, db, fmt.Sprint(i), []byte(raw))
	}
	tests := []struct {
		name string
		f    store.Filter
		// The unfiltered list walks the rowid b-tree newest first and stops
		// after Limit rows: SQLite calls that "SCAN messages". It must not
		// sort (USE TEMP B-TREE), which would read every row.
		pageMayWalk bool
	}{
		{"list", store.Filter{Limit: 50}, true},
		{"list after cursor", store.Filter{AfterSeq: 5, Limit: 50}, false},
		{"inbox", store.Filter{Query: "inbox:job1", Limit: 50}, false},
		{"tag", store.Filter{Query: "tag:t1", Limit: 50}, false},
		{"is:unread", store.Filter{Query: "is:unread", Limit: 50}, false},
		{"is:read", store.Filter{Query: "is:read", Limit: 50}, false},
		{"from", store.Filter{Query: "from:bob3", Limit: 50}, false},
		{"free word", store.Filter{Query: "body", Limit: 50}, false},
		{"inbox and unread", store.Filter{Query: "inbox:job1 is:unread", Limit: 50}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			count, page, err := db.ExplainFind(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%q count: %q", tt.f.Query, count)
			t.Logf("%q page: %q", tt.f.Query, page)
			for _, d := range count {
				if fullScan(d) {
					t.Errorf("count of %q scans the table: %q", tt.f.Query, count)
				}
			}
			for _, d := range page {
				if fullScan(d) && !tt.pageMayWalk {
					t.Errorf("page of %q scans the table: %q", tt.f.Query, page)
				}
				if tt.pageMayWalk && strings.Contains(d, "TEMP B-TREE") {
					t.Errorf("page of %q sorts: %q", tt.f.Query, page)
				}
			}
		})
	}
	t.Run("inboxes and tag counts", func(t *testing.T) {
		plan, err := db.ExplainInboxes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%q", plan)
		// Grouping walks an index (or message_tags' own primary key, which
		// is the whole point of the query) in order, without a sort.
		for _, d := range plan {
			if fullScan(d) || strings.Contains(d, "TEMP B-TREE") {
				t.Errorf("scans the messages table or sorts: %q", plan)
			}
		}
	})
}
