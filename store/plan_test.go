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

// tableRead reports whether an EXPLAIN QUERY PLAN detail line reads rows
// of the messages table itself (a scan, or a lookup by seq), rather than
// only one of its indexes.
func tableRead(detail string) bool {
	return fullScan(detail) || strings.HasPrefix(detail, "SEARCH messages ") && !strings.Contains(detail, " COVERING INDEX ")
}

// What the count statement of Find may read (TestQueryPlans).
const (
	countIndexes = iota // anything but a scan of the messages table
	countKept           // only the kept counts (inbox_counts)
	countNoRows         // no row of messages: its indexes, message_tags, the full-text index
)

// TestQueryPlans pins that listing, counting and the common searches never
// scan the messages table (SQLite's planner uses no statistics here: we
// never ANALYZE, so these plans are the ones production gets at any size),
// and that counting reads no more than it must: the kept counts where they
// answer, and indexes rather than the large rows of messages otherwise.
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
		// What counting may read. (For one set, a full-text match or a
		// tag, the page statement carries the same counts: setCounts.)
		count int // countIndexes, countKept or countNoRows
	}{
		{"list", store.Filter{Limit: 50}, true, countKept},
		{"list after cursor", store.Filter{AfterSeq: 5, Limit: 50}, false, countIndexes},
		{"inbox", store.Filter{Query: "inbox:job1", Limit: 50}, false, countKept},
		{"tag", store.Filter{Query: "tag:t1", Limit: 50}, false, countNoRows},
		{"is:unread", store.Filter{Query: "is:unread", Limit: 50}, false, countKept},
		{"is:read", store.Filter{Query: "is:read", Limit: 50}, false, countKept},
		{"from", store.Filter{Query: "from:bob3", Limit: 50}, false, countNoRows},
		{"free word", store.Filter{Query: "body", Limit: 50}, false, countNoRows},
		{"free word, read", store.Filter{Query: "body is:read", Limit: 50}, false, countNoRows},
		{"free word, unread", store.Filter{Query: "body -is:read", Limit: 50}, false, countNoRows},
		{"inbox and unread", store.Filter{Query: "inbox:job1 is:unread", Limit: 50}, false, countKept},
		{"inbox and word", store.Filter{Query: "inbox:job1 body", Limit: 50}, false, countIndexes},
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
				switch {
				case fullScan(d):
					t.Errorf("count of %q scans the table: %q", tt.f.Query, count)
				case tt.count == countKept && !strings.Contains(d, " inbox_counts"):
					t.Errorf("count of %q reads more than the kept counts: %q", tt.f.Query, count)
				case tt.count == countNoRows && tableRead(d):
					t.Errorf("count of %q reads rows of messages: %q", tt.f.Query, count)
				}
			}
			for _, d := range page {
				if fullScan(d) && !tt.pageMayWalk {
					t.Errorf("page of %q scans the table: %q", tt.f.Query, page)
				}
				if strings.Contains(d, "TEMP B-TREE") { // would sort every match
					t.Errorf("page of %q sorts: %q", tt.f.Query, page)
				}
			}
		})
	}
	t.Run("inboxes, tags and stats", func(t *testing.T) {
		plan, err := db.ExplainInboxes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%q", plan)
		// They read the kept counts only, in key order, without a sort.
		for _, d := range plan {
			if strings.Contains(d, "messages") || strings.Contains(d, "message_tags") || strings.Contains(d, "TEMP B-TREE") {
				t.Errorf("reads messages or message_tags, or sorts: %q", plan)
			}
		}
	})
}
