package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mailsink/store"
)

func TestSearch(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	ctx := context.Background()
	mails := []struct{ id, raw string }{
		{"invoice", "From: Billing Dept <billing@shop.example>\r\nTo: alice@example.com\r\nSubject: Your invoice 42\r\n\r\nPlease pay the amount due.\r\n"},
		{"party", "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: Party on Friday\r\n\r\nBring snacks and the invoice from last time.\r\n"},
		{"cafe", "From: =?utf-8?q?Caf=C3=A9_Bar?= <cafe@example.net>\r\nTo: carol@example.org\r\nSubject: Menu\r\n\r\nToday: crème brûlée.\r\n"},
	}
	for _, m := range mails {
		insert(t, db, m.id, []byte(m.raw))
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"invoice", []string{"party", "invoice"}},
		{"INVOICE", []string{"party", "invoice"}},
		{"invoice friday", []string{"party"}},         // AND
		{"inv", []string{"party", "invoice"}},         // prefix
		{`"pay the amount"`, []string{"invoice"}},     // phrase
		{`"the amount pay"`, []string{}},              // phrase order matters
		{"billing@shop.example", []string{"invoice"}}, // address
		{"Billing Dept", []string{"invoice"}},         // display name
		{"carol", []string{"cafe"}},
		{"cafe", []string{"cafe"}},   // diacritics folded
		{"brulee", []string{"cafe"}}, // in the body
		{"nothing-like-this", []string{}},
		{"", []string{"cafe", "party", "invoice"}},
		{"   ", []string{"cafe", "party", "invoice"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, total, err := db.Search(ctx, tt.query, 0, 0)
			if err != nil {
				t.Fatalf("Search(%q): %v", tt.query, err)
			}
			if !slices.Equal(ids(got), tt.want) || total != len(tt.want) {
				t.Errorf("Search(%q) = %v (total %d), want %v", tt.query, ids(got), total, tt.want)
			}
		})
	}

	// Paging: the total counts all matches, the page is a slice of them.
	page, total, err := db.Search(ctx, "invoice", 1, 1)
	if err != nil || total != 2 || !slices.Equal(ids(page), []string{"invoice"}) {
		t.Errorf("Search page = %v, %d, %v", ids(page), total, err)
	}

	// Hostile input never reaches FTS5 as syntax.
	for _, q := range []string{`"`, `""`, `*`, `AND`, `OR`, `NOT`, `NEAR(`, `NEAR(a b)`, `-x`, `a -`,
		`invoice"`, `"invoice`, `(`, `)`, `^`, `subject:invoice`, `{a b}`, `a AND OR b`,
		`'`, `\`, `%`, `_`, "\x00", `"a""b"`, `+`, `invoice*`, `***`, `:`, `€`} {
		if _, _, err := db.Search(ctx, q, 0, 10); err != nil {
			t.Errorf("Search(%q): %v", q, err)
		}
	}
	// Operators are plain words.
	if got, _, _ := db.Search(ctx, "invoice OR nothing", 0, 0); len(got) != 0 {
		t.Errorf("OR acted as an operator: %v", ids(got))
	}
	if got, _, _ := db.Search(ctx, `"Your invoice" NOT friday`, 0, 0); len(got) != 0 {
		t.Errorf("NOT acted as an operator: %v", ids(got))
	}
}

// TestFindSetPlans checks the pages and counts of Find for one full-text
// match or tag, perhaps with a read state (the set plans of search.go),
// against the same filter applied by hand to every message, on a store
// large enough that each way of counting and paging is taken: sets kept
// whole and sets read again (more matches than search.go keeps), counted
// by lookup or by merge, in the smaller read state or by subtraction from
// the other, with an empty state, and pages inside and beyond the kept
// matches.
func TestFindSetPlans(t *testing.T) {
	if store.RaceBuild {
		t.Skip("query plans, not concurrency: .ci/run runs it without -race")
	}
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mail.db")
	db, err := store.Open(ctx, path, store.Options{Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	// 160 messages, then 139 copies of them: 22,400.
	for i := range 160 {
		var words []string
		for _, w := range []struct {
			word string
			in   bool
		}{
			{"alpha", i%5 != 0},        // 80 %: read again, counted by merge
			{"bravo", i%20 < 3},        // 15 %: read again, counted by lookup when half are read
			{"charlie", i%40 == 0},     // 2.5 %: kept whole
			{"delta echo", i%20 != 7},  // 95 %, a phrase: read again
			{"foxtrot golf", i%4 == 1}, // 25 %, a phrase: kept whole
		} {
			if w.in {
				words = append(words, w.word)
			}
		}
		tags := "t1"
		if i%2 == 1 {
			tags = "t3"
		}
		if i%32 == 5 {
			tags += ", t2"
		}
		raw := fmt.Sprintf("From: a@example.com\r\nTo: b@example.org\r\nSubject: n%d %s\r\nX-Tags: %s\r\n\r\nnothing here\r\n",
			i, strings.Join(words, " "), tags)
		if _, err := db.Insert(ctx, "", store.Envelope{}, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.SeedCopies(ctx, path, 139, int64(time.Hour)); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(ctx, path, store.Options{Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	all, err := db.Find(ctx, store.Filter{})
	if err != nil || len(all.Messages) != 22400 {
		t.Fatalf("store: %d messages, %v", len(all.Messages), err)
	}

	// What each set holds, by index in all (newest first).
	words := make([][]string, len(all.Messages))
	for i, s := range all.Messages {
		words[i] = strings.Fields(s.Subject)
	}
	hasWord := func(w string) func(int) bool {
		return func(i int) bool { return slices.Contains(words[i], w) }
	}
	hasTag := func(tag string) func(int) bool {
		return func(i int) bool { return slices.Contains(all.Messages[i].Tags, tag) }
	}
	sets := []struct {
		query string
		match func(i int) bool
	}{
		{"alpha", hasWord("alpha")},
		{"brav", hasWord("bravo")}, // a prefix
		{"charlie", hasWord("charlie")},
		{`"delta echo"`, hasWord("delta")},
		{`"foxtrot golf"`, hasWord("foxtrot")},
		{"subject:alpha", hasWord("alpha")},
		{"alpha bravo", func(i int) bool { return hasWord("alpha")(i) && hasWord("bravo")(i) }},
		{"tag:t1", hasTag("t1")},
		{"tag:t2", hasTag("t2")},
		{"zulu", func(int) bool { return false }},
	}
	states := []struct {
		query string
		match func(read bool) bool
	}{
		{"", func(bool) bool { return true }},
		{" is:read", func(read bool) bool { return read }},
		{" is:unread", func(read bool) bool { return !read }},
	}
	pages := []struct{ start, limit int }{{0, 50}, {500, 30}, {21000, 30}}
	// Which messages are read, by their index in all (newest first).
	reads := []struct {
		name string
		read func(i int) bool
	}{
		{"none read", func(int) bool { return false }},
		{"all read", func(int) bool { return true }},
		{"every other read", func(i int) bool { return i%2 == 0 }},
		{"a ninth read", func(i int) bool { return i%9 == 0 }},
		{"a ninth unread", func(i int) bool { return i%9 != 0 }},
		{"the newest 40 unread", func(i int) bool { return i >= 40 }},
	}
	// check compares one page of Find with the messages that match set and
	// st when r says which are read.
	check := func(r func(int) bool, name, query string, match func(int) bool,
		st func(bool) bool, start, limit int) {
		t.Helper()
		var want []string
		unread := 0
		for i, s := range all.Messages {
			if match(i) && st(r(i)) {
				want = append(want, s.ID)
				if !r(i) {
					unread++
				}
			}
		}
		page := want[min(start, len(want)):]
		if limit > 0 {
			page = page[:min(limit, len(page))]
		}
		p, err := db.Find(ctx, store.Filter{Query: query, Start: start, Limit: limit})
		if err != nil {
			t.Fatalf("%s: Find(%q): %v", name, query, err)
		}
		if got := ids(p.Messages); !slices.Equal(got, page) || p.Total != len(want) || p.Unread != unread {
			t.Errorf("%s: Find(%q, %d, %d) = %d messages (%v…), total %d, unread %d; want %d (%v…), %d, %d",
				name, query, start, limit, len(got), got[:min(3, len(got))], p.Total, p.Unread,
				len(page), page[:min(3, len(page))], len(want), unread)
		}
	}
	for _, r := range reads {
		var read []string
		for i, s := range all.Messages {
			if r.read(i) {
				read = append(read, s.ID)
			}
		}
		if err := db.SetRead(ctx, nil, false); err != nil {
			t.Fatal(err)
		}
		if len(read) > 0 {
			if err := db.SetRead(ctx, read, true); err != nil {
				t.Fatal(err)
			}
		}
		for _, set := range sets {
			for _, st := range states {
				for _, pg := range pages {
					check(r.read, r.name, set.query+st.query, set.match, st.match, pg.start, pg.limit)
				}
			}
		}
	}
	// All matches at once (Limit 0), each way, with the last read state.
	last := reads[len(reads)-1]
	for _, c := range []struct{ set, state int }{{0, 0}, {2, 2}, {3, 1}, {4, 0}} {
		set, st := sets[c.set], states[c.state]
		check(last.read, last.name, set.query+st.query, set.match, st.match, 0, 0)
	}

	// Whichever way is taken at run time, no statement sorts the matches
	// or reads the rows of messages other than the page's.
	for _, set := range sets {
		for _, st := range states {
			q := set.query + st.query
			count, page, err := db.ExplainFind(ctx, store.Filter{Query: q, Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range slices.Concat(count, page) {
				if strings.Contains(d, "TEMP B-TREE") {
					t.Errorf("%q sorts: %q", q, page)
				}
			}
			for _, d := range count {
				if tableRead(d) {
					t.Errorf("count of %q reads rows of messages: %q", q, count)
				}
			}
		}
	}
}
