package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"mailsink/store"
)

// t0 is the pinned clock of the tests.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable fake time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// recorder collects the events passed to Notify.
type recorder struct {
	mu     sync.Mutex
	events []store.Event
	ch     chan store.Event // optional: also sent here (non-blocking)
}

func (r *recorder) Notify(e store.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	if r.ch != nil {
		select {
		case r.ch <- e:
		default:
		}
	}
}

func (r *recorder) take() []store.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testDB is an open store on a file in a temp dir with a pinned clock.
type testDB struct {
	*store.DB
	path  string
	clock *clock
	rec   *recorder
}

// newTestDB opens a store in tb.TempDir(); opts may set retention (Now,
// Notify and Log are filled in).
func newTestDB(tb testing.TB, opts store.Options) *testDB {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "mail.db")
	c := &clock{now: t0}
	rec := &recorder{ch: make(chan store.Event, 64)}
	opts.Now, opts.Notify, opts.Log = c.Now, rec.Notify, discard()
	db, err := store.Open(context.Background(), path, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return &testDB{DB: db, path: path, clock: c, rec: rec}
}

// testEnv is the envelope used for fixtures: rcpt hidden@ is in no header.
func testEnv() store.Envelope {
	return store.Envelope{
		RemoteAddr: "127.0.0.1:50000",
		LocalAddr:  "127.0.0.1:1025",
		Helo:       "client.test",
		ESMTP:      true,
		MailFrom:   "bounce@example.com",
		MailParams: []store.Param{{Key: "BODY", Value: "8BITMIME"}},
		Rcpts: []store.Recipient{
			{Address: "bob@example.org"},
			{Address: "hidden@example.net", Params: []store.Param{{Key: "NOTIFY", Value: "NEVER"}}},
		},
		Protocol: "ESMTP",
		Body:     "8BITMIME",
		Source:   "smtp",
	}
}

func msg(subject string) []byte {
	return []byte("From: a@example.com\r\nTo: b@example.org\r\nSubject: " + subject +
		"\r\nDate: Tue, 04 Mar 2025 10:15:00 +0100\r\nMessage-ID: <" + subject + "@x>\r\n\r\nbody of " + subject + "\r\n")
}

func insert(tb testing.TB, db *testDB, id string, raw []byte) *store.Summary {
	tb.Helper()
	s, err := db.Insert(context.Background(), id, store.Envelope{}, raw)
	if err != nil {
		tb.Fatalf("Insert(%q): %v", id, err)
	}
	return s
}

func ids(list []store.Summary) []string {
	out := []string{}
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

func TestOpenReopenIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mail.db")
	db, err := store.Open(ctx, path, store.Options{Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	raw := msg("survivor")
	if _, err := db.Insert(ctx, "m1", store.Envelope{}, raw); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for i := range 2 { // migrations must be skipped, data kept
		db, err = store.Open(ctx, path, store.Options{Log: discard()})
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		got, err := db.Raw(ctx, "m1")
		if err != nil || string(got) != string(raw) {
			t.Fatalf("reopen %d: Raw = %q, %v", i, got, err)
		}
		m, err := db.Get(ctx, "m1")
		if err != nil || m.Subject != "survivor" {
			t.Fatalf("reopen %d: Get = %+v, %v", i, m, err)
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// After Close the WAL is checkpointed into the main file.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("WAL size after Close = %d, want 0", fi.Size())
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	ctx := context.Background()
	if _, err := db.LatestID(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LatestID on empty = %v, want ErrNotFound", err)
	}
	insert(t, db, "exists", msg("x"))
	checks := map[string]error{}
	_, checks["Get"] = db.Get(ctx, "nope")
	_, checks["Raw"] = db.Raw(ctx, "nope")
	_, _, checks["Part unknown message"] = db.Part(ctx, "nope", "0")
	_, _, checks["Part unknown part"] = db.Part(ctx, "exists", "7.3")
	for name, err := range checks {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", name, err)
		}
	}
	if n, err := db.Delete(ctx, []string{"nope"}); n != 0 || err != nil {
		t.Errorf("Delete(unknown) = %d, %v; want 0, nil", n, err)
	}
	if id, err := db.LatestID(ctx); id != "exists" || err != nil {
		t.Errorf("LatestID = %q, %v", id, err)
	}
}

func TestDuplicateID(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	insert(t, db, "dup", msg("a"))
	if _, err := db.Insert(context.Background(), "dup", store.Envelope{}, msg("b")); err == nil {
		t.Fatal("second Insert with the same id succeeded")
	}
	m, err := db.Get(context.Background(), "dup")
	if err != nil || m.Subject != "a" {
		t.Fatalf("Get = %v, %v; want the first message", m, err)
	}
}

func TestInsertSummaryAndEvent(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	ctx := context.Background()
	raw := []byte("From: a@example.com\r\nTo: Bob <BOB@example.org>\r\nSubject: hello\r\n\r\nhi\r\n")
	sum, err := db.Insert(ctx, "", testEnv(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ID == "" || sum.Seq != 1 || !sum.Created.Equal(t0) || sum.Size != int64(len(raw)) {
		t.Errorf("summary = %+v", sum)
	}
	if sum.ReturnPath != "bounce@example.com" || len(sum.Bcc) != 1 || sum.Bcc[0].Address != "hidden@example.net" {
		t.Errorf("ReturnPath/Bcc = %q / %+v", sum.ReturnPath, sum.Bcc)
	}
	ev := db.rec.take()
	if len(ev) != 1 || ev[0].Type != "new" {
		t.Fatalf("events = %+v, want one new", ev)
	}
	if got, ok := ev[0].Data.(*store.Summary); !ok || got.ID != sum.ID || got.Seq != sum.Seq {
		t.Errorf("new event data = %#v", ev[0].Data)
	}
	m, err := db.Get(ctx, sum.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Summary, *sum) {
		t.Errorf("Get summary\n%+v\nInsert summary\n%+v", m.Summary, *sum)
	}
	if !m.Envelope.ReceivedAt.Equal(t0) {
		t.Errorf("Envelope.ReceivedAt = %v, want the insert time %v", m.Envelope.ReceivedAt, t0)
	}
	// An explicit ReceivedAt wins over the clock.
	at := t0.Add(-time.Hour)
	env := testEnv()
	env.ReceivedAt = at
	s2, err := db.Insert(ctx, "", env, msg("earlier"))
	if err != nil || !s2.Created.Equal(at) {
		t.Errorf("Created = %v, %v; want %v", s2.Created, err, at)
	}
}

func TestParseErrorStillStores(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	ctx := context.Background()
	// The top-level Content-Type cannot be parsed at all: enmime gives up.
	raw := []byte("Subject: =?utf-8?q?caf=C3=A9?=\r\nFrom: x@example.com\r\n" +
		"Content-Type: multipart/mixed; boundary=\"\r\n\r\nsome body text\r\n")
	sum, err := db.Insert(ctx, "broken", store.Envelope{}, raw)
	if err != nil {
		t.Fatalf("Insert: %v", err)
	}
	m, err := db.Get(ctx, sum.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "café" || m.From == nil || m.From.Address != "x@example.com" {
		t.Errorf("Subject/From = %q/%+v", m.Subject, m.From)
	}
	var severe bool
	for _, f := range m.Findings {
		severe = severe || f.Severe
	}
	if !severe {
		t.Errorf("no severe finding: %+v", m.Findings)
	}
	got, err := db.Raw(ctx, sum.ID)
	if err != nil || string(got) != string(raw) {
		t.Errorf("Raw = %q, %v", got, err)
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	ctx := context.Background()
	empty, err := db.List(ctx, 0, 10)
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("List on empty = %#v, %v; want non-nil empty", empty, err)
	}
	for i := range 5 {
		insert(t, db, fmt.Sprintf("m%d", i), msg(fmt.Sprintf("s%d", i)))
	}
	tests := []struct {
		name         string
		start, limit int
		want         []string
	}{
		{"all", 0, 0, []string{"m4", "m3", "m2", "m1", "m0"}},
		{"first page", 0, 2, []string{"m4", "m3"}},
		{"second page", 2, 2, []string{"m2", "m1"}},
		{"last partial page", 4, 2, []string{"m0"}},
		{"beyond end", 9, 2, []string{}},
		{"negative start", -3, 1, []string{"m4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.List(ctx, tt.start, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("List(%d, %d) = %v, want %v", tt.start, tt.limit, ids(got), tt.want)
			}
		})
	}
}

func TestSetReadDeleteStatsEvents(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		insert(t, db, id, msg(id))
	}
	db.rec.take()

	st, err := db.Stats(ctx)
	if err != nil || st.Total != 3 || st.Unread != 3 || st.DBSize <= 0 || st.Tags == nil {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
	if err := db.SetRead(ctx, []string{"a", "b"}, true); err != nil {
		t.Fatal(err)
	}
	if st, _ := db.Stats(ctx); st.Unread != 1 {
		t.Errorf("Unread after SetRead(a,b) = %d, want 1", st.Unread)
	}
	if m, _ := db.Get(ctx, "a"); !m.Read {
		t.Error("a not read")
	}
	if err := db.SetRead(ctx, nil, false); err != nil { // all
		t.Fatal(err)
	}
	if st, _ := db.Stats(ctx); st.Unread != 3 {
		t.Errorf("Unread after SetRead(all, false) = %d, want 3", st.Unread)
	}
	n, err := db.Delete(ctx, []string{"b", "zzz"})
	if err != nil || n != 1 {
		t.Fatalf("Delete = %d, %v", n, err)
	}
	if _, err := db.Raw(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Raw(b) after delete = %v", err)
	}
	if list, _ := db.List(ctx, 0, 0); !slices.Equal(ids(list), []string{"c", "a"}) {
		t.Errorf("List after delete = %v", ids(list))
	}
	if _, total, _ := db.Search(ctx, `"body of b"`, 0, 0); total != 0 {
		t.Errorf("deleted message still in the FTS index: %d hits", total)
	}
	if err := db.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := db.Stats(ctx); st.Total != 0 || st.Unread != 0 {
		t.Errorf("Stats after DeleteAll = %+v", st)
	}
	if _, total, _ := db.Search(ctx, "body", 0, 0); total != 0 {
		t.Errorf("FTS not empty after DeleteAll: %d", total)
	}
	insert(t, db, "after", msg("after")) // the store still works
	if _, total, _ := db.Search(ctx, "after", 0, 0); total != 1 {
		t.Errorf("Search after DeleteAll+Insert = %d, want 1", total)
	}

	want := []string{
		`update map[IDs:[a b] Read:true]`,
		`update map[IDs:[] Read:false]`,
		`delete map[IDs:[b]]`,
		`truncate <nil>`,
		`new`,
	}
	got := []string{}
	for _, e := range db.rec.take() {
		if e.Type == "new" {
			got = append(got, e.Type)
			continue
		}
		got = append(got, fmt.Sprintf("%s %v", e.Type, e.Data))
	}
	if !slices.Equal(got, want) {
		t.Errorf("events =\n%q\nwant\n%q", got, want)
	}
}

func TestMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.Open(ctx, ":memory:", store.Options{Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() }) // nothing on disk to lose
	for i := range 3 {
		if _, err := db.Insert(ctx, fmt.Sprint(i), store.Envelope{}, msg(fmt.Sprintf("mem%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Separate calls (and concurrent readers) must all see the same database.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			list, err := db.List(ctx, 0, 0)
			if err != nil || len(list) != 3 {
				t.Errorf("List = %d, %v", len(list), err)
			}
		})
	}
	wg.Wait()
	if m, err := db.Get(ctx, "1"); err != nil || m.Subject != "mem1" {
		t.Errorf("Get = %v, %v", m, err)
	}
	if _, total, err := db.Search(ctx, "mem2", 0, 0); total != 1 || err != nil {
		t.Errorf("Search = %d, %v", total, err)
	}
	if matches, _ := filepath.Glob(":memory:*"); len(matches) != 0 {
		t.Errorf("files created: %v", matches)
	}
}

func TestConcurrentInserts(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	ctx := context.Background()
	const writers, each = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := db.Insert(ctx, fmt.Sprintf("w%d-%d", w, i), store.Envelope{}, msg(fmt.Sprintf("w%d i%d", w, i))); err != nil {
					t.Errorf("Insert: %v", err)
				}
				if _, err := db.List(ctx, 0, 5); err != nil { // readers alongside the writer
					t.Errorf("List: %v", err)
				}
			}
		})
	}
	wg.Wait()
	list, err := db.List(ctx, 0, 0)
	if err != nil || len(list) != writers*each {
		t.Fatalf("List = %d, %v; want %d", len(list), err, writers*each)
	}
	seen := map[string]bool{}
	for i, s := range list {
		seen[s.ID] = true
		if i > 0 && s.Seq >= list[i-1].Seq {
			t.Errorf("not newest first at %d", i)
		}
	}
	for w := range writers {
		for i := range each {
			if id := fmt.Sprintf("w%d-%d", w, i); !seen[id] {
				t.Errorf("%s missing", id)
			}
		}
	}
	// Events arrive in commit order: seq ascending.
	var last int64
	for _, e := range db.rec.take() {
		s := e.Data.(*store.Summary)
		if s.Seq <= last {
			t.Errorf("event seq %d after %d", s.Seq, last)
		}
		last = s.Seq
	}
}
