package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// openFaultDB opens a store on a file in a temp dir for the fault tests.
func openFaultDB(tb testing.TB, opts Options) (*DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "fault.db")
	opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := Open(context.Background(), path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db, path
}

// faultMsg is a message of about size bytes that does not compress, so
// that storing it needs that much new space.
func faultMsg(tb testing.TB, name string, size int) []byte {
	tb.Helper()
	noise := make([]byte, size*3/4)
	if _, err := rand.Read(noise); err != nil {
		tb.Fatal(err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: a@x.test\r\nSubject: %s\r\nMessage-ID: <%s@x.test>\r\n\r\n", name, name)
	enc := base64.StdEncoding.EncodeToString(noise)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.Bytes()
}

// insertAll inserts msgs (id → raw) concurrently and returns each error.
func insertAll(db *DB, msgs map[string][]byte) map[string]error {
	var mu sync.Mutex
	errs := map[string]error{}
	var wg sync.WaitGroup
	for id, raw := range msgs {
		wg.Go(func() {
			_, err := db.Insert(context.Background(), id, Envelope{MailFrom: "a@x.test"}, raw)
			mu.Lock()
			errs[id] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return errs
}

// checkRaws asserts that every message of want is stored byte for byte
// and that the store holds exactly len(want) messages.
func checkRaws(tb testing.TB, db *DB, want map[string][]byte) {
	tb.Helper()
	for id, raw := range want {
		got, err := db.Raw(context.Background(), id)
		if err != nil {
			tb.Errorf("Raw(%s): %v", id, err)
			continue
		}
		if !bytes.Equal(got, raw) {
			tb.Errorf("Raw(%s): %d bytes differ from the %d inserted", id, len(got), len(raw))
		}
	}
	st, err := db.Stats(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if st.Total != len(want) {
		tb.Errorf("stored %d messages, want %d", st.Total, len(want))
	}
}

// insertBefore stores n messages of size bytes, before0…, as the mail a
// fault must not lose, and returns them by id.
func insertBefore(t *testing.T, db *DB, n, size int) map[string][]byte {
	t.Helper()
	stored := map[string][]byte{}
	for i := range n {
		id := fmt.Sprintf("before%d", i)
		stored[id] = faultMsg(t, id, size)
	}
	for id, err := range insertAll(db, stored) {
		if err != nil {
			t.Fatalf("insert %s: %v", id, err)
		}
	}
	return stored
}

// TestStorageFullFailsBatchAndRecovers: when the database cannot grow
// (SQLITE_FULL, here from max_page_count), every insert of the batch
// fails with ErrStorageFull and nothing of it is stored, including a
// request that failed on its own (which would make the writer re-run the
// batch under savepoints); the writer goroutine survives, and once there
// is room again the next inserts commit, per-request failures stay
// per-request, and what was stored before is intact.
func TestStorageFullFailsBatchAndRecovers(t *testing.T) {
	t.Parallel()
	db, _ := openFaultDB(t, Options{})
	ctx := context.Background()
	stored := insertBefore(t, db, 5, 20<<10)

	// No more pages than the file has now: any growth is SQLITE_FULL.
	var pages int
	if err := db.writer.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.writer.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	full := map[string][]byte{"before0": stored["before0"]} // a duplicate id: fails on its own
	for i := range 30 {
		id := fmt.Sprintf("full%d", i)
		full[id] = faultMsg(t, id, 50<<10)
	}
	for range 3 { // the writer keeps failing cleanly, batch after batch
		for id, err := range insertAll(db, full) {
			switch {
			case err == nil:
				t.Errorf("insert %s succeeded with the database full", id)
			case id != "before0" && !errors.Is(err, ErrStorageFull):
				t.Errorf("insert %s: %v, want ErrStorageFull", id, err)
			}
		}
	}
	checkRaws(t, db, stored) // nothing of the failed batches, all of before

	// Space returns.
	if _, err := db.writer.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	delete(full, "before0")
	full["before1"] = stored["before1"] // still a duplicate: fails alone
	errs := insertAll(db, full)
	for id, err := range errs {
		switch {
		case id == "before1" && err == nil:
			t.Error("duplicate id before1 stored twice")
		case id == "before1" && errors.Is(err, ErrStorageFull):
			t.Errorf("duplicate id: %v, want a constraint error", err)
		case id != "before1" && err != nil:
			t.Errorf("insert %s after space returned: %v", id, err)
		case id != "before1":
			stored[id] = full[id]
		}
	}
	checkRaws(t, db, stored)
}

// TestReadOnlyFailsBatchAndRecovers: a database that refuses writes
// (SQLITE_READONLY; here the writer's connection is put in query_only,
// since the tests run as root, which ignores file modes, and a read-only
// remount fails with EBUSY while the file is open for writing) fails every
// insert of the batch, not as ErrStorageFull (smtpd answers 451, not 452),
// while reads go on; once writes are allowed again, inserts commit and
// nothing stored before is lost.
func TestReadOnlyFailsBatchAndRecovers(t *testing.T) {
	t.Parallel()
	db, _ := openFaultDB(t, Options{})
	ctx := context.Background()
	stored := insertBefore(t, db, 5, 8<<10)

	if _, err := db.writer.ExecContext(ctx, `PRAGMA query_only = ON`); err != nil {
		t.Fatal(err)
	}
	refused := map[string][]byte{}
	for i := range 20 {
		id := fmt.Sprintf("ro%d", i)
		refused[id] = faultMsg(t, id, 8<<10)
	}
	for range 2 { // batch after batch, the writer fails cleanly and survives
		for id, err := range insertAll(db, refused) {
			switch {
			case err == nil:
				t.Errorf("insert %s succeeded on a read-only database", id)
			case errors.Is(err, ErrStorageFull):
				t.Errorf("insert %s: %v, want a read-only error, not ErrStorageFull", id, err)
			case sqliteCode(err)&0xff != sqlite3.SQLITE_READONLY:
				t.Errorf("insert %s: %v (code %d), want SQLITE_READONLY", id, err, sqliteCode(err))
			}
		}
	}
	checkRaws(t, db, stored) // reads go on; nothing of the refused batches

	if _, err := db.writer.ExecContext(ctx, `PRAGMA query_only = OFF`); err != nil {
		t.Fatal(err)
	}
	for id, err := range insertAll(db, refused) {
		if err != nil {
			t.Errorf("insert %s once writable again: %v", id, err)
			continue
		}
		stored[id] = refused[id]
	}
	checkRaws(t, db, stored)
}

// TestLockedDatabaseFailsBatchAndRecovers: another process holding the
// write lock longer than BusyTimeout makes the waiting batch fail (not
// ErrStorageFull) after one BusyTimeout, not one per request: the batch
// is not re-run under savepoints. Once the lock is gone, inserts commit.
func TestLockedDatabaseFailsBatchAndRecovers(t *testing.T) {
	t.Parallel()
	const busy = 300 * time.Millisecond
	db, path := openFaultDB(t, Options{BusyTimeout: busy})
	ctx := context.Background()
	stored := map[string][]byte{"before": faultMsg(t, "before", 4<<10)}
	if errs := insertAll(db, stored); errs["before"] != nil {
		t.Fatal(errs["before"])
	}

	other, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	locked := map[string][]byte{"before": stored["before"]} // a duplicate id too
	for i := range 20 {
		id := fmt.Sprintf("locked%d", i)
		locked[id] = faultMsg(t, id, 4<<10)
	}
	start := time.Now()
	errs := insertAll(db, locked)
	elapsed := time.Since(start)
	for id, err := range errs {
		switch {
		case err == nil:
			t.Errorf("insert %s succeeded while another process held the lock", id)
		case errors.Is(err, ErrStorageFull):
			t.Errorf("insert %s: %v; a lock is not storage full", id, err)
		}
	}
	// One BusyTimeout per batch; 21 requests come in a few batches at most.
	// A savepoint re-run would wait once per request: 21 × busy.
	if limit := 8 * busy; elapsed > limit {
		t.Errorf("inserts under the lock took %v, want < %v (one busy wait per batch)", elapsed, limit)
	}
	if _, err := lock.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	delete(locked, "before")
	for id, err := range insertAll(db, locked) {
		if err != nil {
			t.Errorf("insert %s after the lock was released: %v", id, err)
		}
		stored[id] = locked[id]
	}
	checkRaws(t, db, stored)
	t.Logf("21 inserts under a foreign write lock failed in %v (busy_timeout %v)", elapsed, busy)
}

// TestPruneBacklogInChunks: a backlog far over MaxMessages (the limit was
// lowered between runs) is deleted a chunk of at most pruneChunk per
// transaction by the pruner that runs at Open, until the
// count is the limit.
func TestPruneBacklogInChunks(t *testing.T) {
	t.Parallel()
	db, path := openFaultDB(t, Options{})
	const n, limit = 2*pruneChunk + 90, 10
	msgs := map[string][]byte{}
	for i := range n {
		id := fmt.Sprintf("m%04d", i)
		msgs[id] = []byte("Subject: " + id + "\r\n\r\nbody\r\n")
	}
	for id, err := range insertAll(db, msgs) {
		if err != nil {
			t.Fatalf("insert %s: %v", id, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	events := make(chan Event, 16)
	db2, err := Open(context.Background(), path, Options{
		MaxMessages: limit,
		Notify:      func(e Event) { events <- e },
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	var chunks []int
	for deleted := 0; deleted < n-limit; {
		select {
		case e := <-events:
			ids := e.Data.(map[string]any)["IDs"].([]string)
			chunks = append(chunks, len(ids))
			deleted += len(ids)
		case <-time.After(10 * time.Second):
			t.Fatalf("pruned %d of %d in chunks %v, then nothing", deleted, n-limit, chunks)
		}
	}
	want := []int{pruneChunk, pruneChunk, n - limit - 2*pruneChunk}
	if fmt.Sprint(chunks) != fmt.Sprint(want) {
		t.Errorf("deleted in chunks %v, want %v", chunks, want)
	}
	st, err := db2.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != limit {
		t.Errorf("%d messages left, want %d", st.Total, limit)
	}
}
