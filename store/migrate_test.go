package store_test

import (
	"context"
	"database/sql"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"mailsink/store"
)

// TestMigrateFrom0001 opens a database that only 0001_init.sql created,
// with rows written the way that version wrote them: after 0002 the data
// is all there and searchable by every new filter.
func TestMigrateFrom0001(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	if err := store.MigrateOnly(ctx, path, "0001_init.sql"); err != nil {
		t.Fatalf("MigrateOnly: %v", err)
	}

	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	raw := "From: Alice Old <alice@legacy.example>\r\nTo: bob@example.org\r\nSubject: Legacy report\r\n\r\nArchived words.\r\n"
	rows := []struct {
		id, subject, from, to, tags, inline, text string
		read                                      bool
	}{
		{"old1", "Legacy report", `{"Name":"Alice Old","Address":"alice@legacy.example"}`,
			`[{"Name":"","Address":"bob@example.org"}]`, `["Legacy"," Legacy ",""]`,
			`[{"PartID":"2","ContentType":"image/png","ContentID":"logo"}]`, "Archived words.", false},
		{"old2", "Second", `null`, `[]`, `[]`, `[]`, "Nothing special.", true},
	}
	for i, r := range rows {
		res, err := old.ExecContext(ctx, `INSERT INTO messages (id, created, size, read, subject, from_addr,
			to_addrs, tags, inline_parts, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.id, int64(i+1)*1e18, len(raw), r.read, r.subject, r.from, r.to, r.tags, r.inline, r.text)
		if err != nil {
			t.Fatal(err)
		}
		seq, err := res.LastInsertId()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.ExecContext(ctx, `INSERT INTO raw (seq, data) VALUES (?, ?)`, seq, raw); err != nil {
			t.Fatal(err)
		}
		if _, err := old.ExecContext(ctx, `INSERT INTO messages_fts (rowid, subject, addresses, text) VALUES (?, ?, ?, ?)`,
			seq, r.subject, "Alice Old alice@legacy.example bob@example.org", r.text); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := store.Open(ctx, path, store.Options{Log: discard()})
	if err != nil {
		t.Fatalf("Open migrates: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	m, err := db.Get(ctx, "old1")
	if err != nil || m.Subject != "Legacy report" || m.Inbox != "" || !slices.Equal(m.Tags, []string{"Legacy"}) {
		t.Errorf("Get(old1) = %+v, %v", m, err)
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"archived", []string{"old1"}},
		{"from:alice", []string{"old1"}},
		{`from:"Alice Old"`, []string{"old1"}},
		{"to:bob@example.org", []string{"old1"}},
		{"subject:second", []string{"old2"}},
		{"tag:legacy", []string{"old1"}},
		{"is:tagged", []string{"old1"}},
		{"has:inline", []string{"old1"}},
		{"is:read", []string{"old2"}},
		{`inbox:""`, []string{"old2", "old1"}},
	} {
		got, err := db.FindIDs(ctx, store.Filter{Query: tt.query})
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("FindIDs(%q) = %v, %v; want %v", tt.query, got, err, tt.want)
		}
	}
	if st, err := db.Stats(ctx); err != nil || st.Total != 2 || st.Unread != 1 || !maps.Equal(st.Tags, map[string]int{"Legacy": 1}) {
		t.Errorf("Stats = %+v, %v", st, err)
	}
	if in, err := db.Inboxes(ctx); err != nil || !slices.Equal(in, []store.Inbox{{Name: "", Total: 2, Unread: 1}}) {
		t.Errorf("Inboxes = %+v, %v", in, err)
	}
	// New mail goes on from the old seqs, and a new tag joins the old one.
	s, err := db.Insert(ctx, "new", store.Envelope{}, []byte("X-Tags: LEGACY\r\nSubject: fresh\r\n\r\nnew words\r\n"))
	if err != nil || s.Seq != 3 || !slices.Equal(s.Tags, []string{"Legacy"}) {
		t.Fatalf("Insert after migration = %+v, %v", s, err)
	}
	if got, _ := db.FindIDs(ctx, store.Filter{Query: "tag:legacy"}); !slices.Equal(got, []string{"new", "old1"}) {
		t.Errorf("tag:legacy = %v", got)
	}
}
