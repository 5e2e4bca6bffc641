package store_test

import (
	"context"
	"slices"
	"testing"

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
