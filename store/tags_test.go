package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"mailsink/store"
)

// tagged returns a message with the given X-Tags value ("" = no header).
func tagged(subject, xtags string) []byte {
	h := ""
	if xtags != "" {
		h = "X-Tags: " + xtags + "\r\n"
	}
	return []byte("From: a@example.com\r\nTo: b@example.org\r\n" + h + "Subject: " + subject + "\r\n\r\nbody\r\n")
}

func TestIngestTags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		plusTags bool
		env      store.Envelope
		raw      []byte
		want     []string
	}{
		{"none", false, store.Envelope{}, tagged("s", ""), []string{}},
		{"X-Tags cleaned, deduplicated, sorted", false, store.Envelope{},
			tagged("s", " Zeta , beta,alpha,, BETA , Gamma  Ray!, ü-1.0_x, ;;; "),
			[]string{"alpha", "beta", "Gamma Ray", "Zeta", "ü-1.0_x"}},
		{"two X-Tags fields", false, store.Envelope{},
			[]byte("X-Tags: one\r\nX-Tags: two\r\nSubject: s\r\n\r\nb\r\n"), []string{"one", "two"}},
		{"encoded X-Tags", false, store.Envelope{}, tagged("s", "=?utf-8?q?K=C3=B6ln?=, plain"), []string{"Köln", "plain"}},
		{"plus tags off", false, store.Envelope{Rcpts: []store.Recipient{{Address: "qa+job@x.test"}}},
			tagged("s", ""), []string{}},
		{"plus tags from envelope and headers", true,
			store.Envelope{Rcpts: []store.Recipient{{Address: "qa+one+two@x.test"}, {Address: "plain@x.test"}}},
			[]byte("To: a+three@x.test\r\nCc: b+One@x.test\r\nBcc: c+four@x.test\r\nX-Tags: five\r\n\r\nb\r\n"),
			[]string{"five", "four", "one", "three", "two"}},
		{"empty plus part", true, store.Envelope{Rcpts: []store.Recipient{{Address: "qa+@x.test"}, {Address: "+x@y"}}},
			tagged("s", ""), []string{"x"}},
		{"plus in From is no recipient", true, store.Envelope{},
			[]byte("From: me+sender@x.test\r\nTo: you@x.test\r\n\r\nb\r\n"), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := newTestDB(t, store.Options{PlusTags: tt.plusTags})
			ctx := context.Background()
			s, err := db.Insert(ctx, "m", tt.env, tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Tags, tt.want) {
				t.Errorf("Insert Tags = %q, want %q", s.Tags, tt.want)
			}
			m, err := db.Get(ctx, "m")
			if err != nil || !slices.Equal(m.Tags, tt.want) {
				t.Errorf("Get Tags = %q, %v; want %q", m.Tags, err, tt.want)
			}
			for _, tag := range tt.want {
				if got, _ := db.FindIDs(ctx, store.Filter{Query: fmt.Sprintf("tag:%q", tag)}); !slices.Equal(got, []string{"m"}) {
					t.Errorf("tag:%q = %v", tag, got)
				}
			}
			if ev := db.rec.take(); len(ev) != 1 || !slices.Equal(ev[0].Data.(*store.Summary).Tags, tt.want) {
				t.Errorf("new event = %+v", ev)
			}
		})
	}
}

// tagState returns Tags(), Stats().Tags and each message's tags by id.
func tagState(t *testing.T, db *testDB) ([]string, map[string]int, map[string][]string) {
	t.Helper()
	ctx := context.Background()
	tags, err := db.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, err := db.List(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string][]string{}
	for _, s := range list {
		per[s.ID] = s.Tags
		m, err := db.Get(ctx, s.ID)
		if err != nil || !slices.Equal(m.Tags, s.Tags) {
			t.Fatalf("Get(%s).Tags = %q, %v; List says %q", s.ID, m.Tags, err, s.Tags)
		}
	}
	return tags, st.Tags, per
}

func TestTagLifecycle(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	ctx := context.Background()
	insert(t, db, "a", tagged("a", "Alpha, beta"))
	insert(t, db, "b", tagged("b", "ALPHA, omega")) // Alpha's spelling is kept
	insert(t, db, "c", tagged("c", ""))
	db.rec.take()

	check := func(step string, wantTags []string, wantCounts map[string]int, wantPer map[string][]string) {
		t.Helper()
		tags, counts, per := tagState(t, db)
		if !slices.Equal(tags, wantTags) {
			t.Errorf("%s: Tags() = %q, want %q", step, tags, wantTags)
		}
		if !maps.Equal(counts, wantCounts) {
			t.Errorf("%s: Stats.Tags = %v, want %v", step, counts, wantCounts)
		}
		for id, want := range wantPer {
			if !slices.Equal(per[id], want) {
				t.Errorf("%s: tags of %s = %q, want %q", step, id, per[id], want)
			}
		}
	}
	events := func(step string, want ...string) {
		t.Helper()
		var got []string
		for _, e := range db.rec.take() {
			got = append(got, fmt.Sprintf("%s %v", e.Type, e.Data))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: events = %q, want %q", step, got, want)
		}
	}

	check("insert", []string{"Alpha", "beta", "omega"}, map[string]int{"Alpha": 2, "beta": 1, "omega": 1},
		map[string][]string{"a": {"Alpha", "beta"}, "b": {"Alpha", "omega"}, "c": {}})

	// SetTags replaces; existing spellings win; unknown ids are ignored.
	if err := db.SetTags(ctx, []string{"c", "nope"}, []string{"x", "X", "alpha", " "}); err != nil {
		t.Fatal(err)
	}
	events("SetTags", "update map[IDs:[c nope] Tags:[Alpha x]]")
	check("SetTags", []string{"Alpha", "beta", "omega", "x"}, map[string]int{"Alpha": 3, "beta": 1, "omega": 1, "x": 1},
		map[string][]string{"c": {"Alpha", "x"}})
	if got, _ := db.FindIDs(ctx, store.Filter{Query: "tag:x"}); !slices.Equal(got, []string{"c"}) {
		t.Errorf("tag:x after SetTags = %v", got)
	}
	if err := db.SetTags(ctx, nil, []string{"ignored"}); err != nil {
		t.Fatal(err)
	}
	events("SetTags without ids")

	// Rename with merge: b has both alpha and omega.
	if err := db.RenameTag(ctx, "alpha", "Omega"); err != nil {
		t.Fatal(err)
	}
	events("RenameTag merge", "update map[IDs:[a b c]]")
	check("RenameTag merge", []string{"beta", "Omega", "x"}, map[string]int{"beta": 1, "Omega": 3, "x": 1},
		map[string][]string{"a": {"beta", "Omega"}, "b": {"Omega"}, "c": {"Omega", "x"}})

	// Rename to another case only.
	if err := db.RenameTag(ctx, "OMEGA", "omega"); err != nil {
		t.Fatal(err)
	}
	events("RenameTag case", "update map[IDs:[a b c]]")
	check("RenameTag case", []string{"beta", "omega", "x"}, map[string]int{"beta": 1, "omega": 3, "x": 1}, nil)

	// Rename to a new name.
	if err := db.RenameTag(ctx, "beta", "Gamma Ray"); err != nil {
		t.Fatal(err)
	}
	events("RenameTag new", "update map[IDs:[a]]")
	if got, _ := db.FindIDs(ctx, store.Filter{Query: `tag:"gamma ray"`}); !slices.Equal(got, []string{"a"}) {
		t.Errorf(`tag:"gamma ray" = %v`, got)
	}
	if got, _ := db.FindIDs(ctx, store.Filter{Query: "tag:beta"}); len(got) != 0 {
		t.Errorf("tag:beta after rename = %v", got)
	}

	for _, tt := range []struct{ from, to string }{{"nope", "x"}, {"", "x"}} {
		if err := db.RenameTag(ctx, tt.from, tt.to); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RenameTag(%q, %q) = %v, want ErrNotFound", tt.from, tt.to, err)
		}
	}
	if err := db.RenameTag(ctx, "omega", "!!!"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("RenameTag to an empty name = %v, want an error", err)
	}
	events("failed renames")

	// DeleteTag keeps the messages.
	if err := db.DeleteTag(ctx, "OMEGA"); err != nil {
		t.Fatal(err)
	}
	events("DeleteTag", "update map[IDs:[a b c]]")
	check("DeleteTag", []string{"Gamma Ray", "x"}, map[string]int{"Gamma Ray": 1, "x": 1},
		map[string][]string{"a": {"Gamma Ray"}, "b": {}, "c": {"x"}})
	if st, _ := db.Stats(ctx); st.Total != 3 {
		t.Errorf("messages after DeleteTag = %d, want 3", st.Total)
	}
	if err := db.DeleteTag(ctx, "never-used"); err != nil {
		t.Errorf("DeleteTag(unknown) = %v", err)
	}
	events("DeleteTag unknown")

	// SetTags with nil clears; deleting a message drops its tags.
	if err := db.SetTags(ctx, []string{"c"}, nil); err != nil {
		t.Fatal(err)
	}
	events("SetTags clear", "update map[IDs:[c] Tags:[]]")
	if _, err := db.Delete(ctx, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	check("Delete", []string{}, map[string]int{}, map[string][]string{"b": {}, "c": {}})

	// DeleteAll drops every tag row.
	insert(t, db, "d", tagged("d", "keep"))
	if err := db.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	check("DeleteAll", []string{}, map[string]int{}, nil)
	insert(t, db, "e", tagged("e", "Keep"))
	check("after DeleteAll", []string{"Keep"}, map[string]int{"Keep": 1}, nil)
}

func TestTagsPrunedWithMessages(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{MaxMessages: 1})
	insert(t, db, "old", tagged("old", "gone"))
	insert(t, db, "new", tagged("new", "kept"))
	tags, counts, _ := tagState(t, db)
	if !slices.Equal(tags, []string{"kept"}) || !maps.Equal(counts, map[string]int{"kept": 1}) {
		t.Errorf("after retention: Tags %q, counts %v", tags, counts)
	}
}
