// Package store keeps received messages in SQLite (modernc.org/sqlite, pure
// Go) and parses them with enmime.
//
// Every message is stored exactly as received (raw bytes, byte-identical)
// together with a parsed view: summary columns for listing, the decoded text
// and HTML bodies, the header fields in order, the MIME tree and a list of
// findings (parse problems and our own checks). Parsing never makes an
// insert fail: a message enmime cannot parse is stored with what a
// best-effort header parse yields and a finding that says what went wrong.
//
// # Part IDs
//
// Part IDs follow enmime's scheme. The root of the tree is always "0". The
// children of a multipart root are "1", "2", …; the children of a nested
// multipart part "2" are "2.1", "2.2", …, and that nested multipart part
// itself is then named "2.0" (it is the root of its own subtree). So a
// message multipart/mixed(multipart/alternative(text, html), pdf) has
// parts 0, 1.0, 1.1, 1.2 and 2. IDs are deterministic: Part re-parses the
// stored raw bytes and finds the same IDs again.
//
// # Durability and concurrency
//
// Writes go through one connection (SQLite has one writer) with
// synchronous=FULL in WAL mode: when Insert returns, the message is on disk
// and survives a crash or power loss. Reads use a separate pool of
// connections, which WAL lets run alongside the writer. Change events are
// passed to Options.Notify after the commit, in commit order.
package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jhillyerd/enmime/v2"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// ErrNotFound is returned when a message (or a part of it) does not exist.
var ErrNotFound = errors.New("store: message not found")

// Options configure a DB. The zero value is usable.
type Options struct {
	Now           func() time.Time // default time.Now
	Notify        func(Event)      // called after commit, must not block; default no-op
	Log           *slog.Logger     // default discard
	MaxMessages   int              // retention: keep at most N (0 = unlimited); oldest pruned
	MaxAge        time.Duration    // retention: prune messages older than this (0 = keep)
	PruneInterval time.Duration    // how often the background pruner runs when retention is on; default 1m
	// BusyTimeout is how long a statement waits for a lock another
	// process holds on the database file before failing (the batch of
	// writes it belongs to then fails with a temporary error); default 5s.
	BusyTimeout time.Duration

	// InboxHeader names the header field that routes a message to an
	// inbox (after the AUTH user, before plus-addressing; see Insert).
	// Default "X-Mailsink-Inbox".
	InboxHeader string
	// PlusTags tags each message with the +tags of its recipients
	// (user+tag@host → "tag", user+a+b@host → "a" and "b"), Mailpit's
	// plus-addressing tags.
	PlusTags bool
}

// DB is the message store. It is safe for concurrent use.
type DB struct {
	writer *sql.DB // exactly one connection: all writes
	reader *sql.DB // pool for reads (the same *sql.DB as writer for ":memory:")

	// writes feeds the writer goroutine (see update): every change is a
	// request on it, committed in batches in arrival order.
	stmts     *stmtCache // the insert path's prepared statements (writer only)
	writes    chan *writeReq
	closing   chan struct{} // closed by Close: no new writes
	writerEnd chan struct{} // closed when the writer goroutine has exited

	parser *enmime.Parser
	elider elider // fast multipart parsing, see elide.go
	now    func() time.Time
	notify func(Event)
	log    *slog.Logger
	opts   Options

	stop      context.CancelFunc // stops the pruner
	wg        sync.WaitGroup     // the pruner
	closeOnce sync.Once
	closeErr  error
}

// readerConns bounds the read pool: enough to keep 2 cores busy while a
// reader waits on I/O.
const readerConns = 8

// pragmas returns the DSN query applied to every connection (the "sqlite"
// driver runs each _pragma on connect).
func pragmas(busy time.Duration) string {
	return url.Values{"_pragma": {
		// Wait up to BusyTimeout (5 s) for a lock instead of failing with
		// SQLITE_BUSY at once: readers and the writer may briefly contend
		// (checkpoints, schema), and so may another process (the sqlite3
		// shell, a backup). First, so that the pragmas after it wait too.
		fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()),
		// Let freed pages be returned to the OS with PRAGMA incremental_vacuum
		// (only takes effect when the database file is created).
		"auto_vacuum(INCREMENTAL)",
		// Write-ahead log: readers never block the writer and vice versa.
		"journal_mode(WAL)",
		// fsync the WAL on every commit. Insert returning means SMTP says 250,
		// so the message must survive kill -9 and power loss. (NORMAL would only
		// survive an application crash.)
		"synchronous(FULL)",
		// Enforce REFERENCES: the raw row goes with its message.
		"foreign_keys(1)",
	}}.Encode()
}

// readerPragmas is the DSN query of the read pool. Not the writer's:
// "PRAGMA auto_vacuum = INCREMENTAL" runs a write transaction on every new
// connection, so a reader opened while another process held the write
// lock, or while the disk was full, failed, and the API with it. WAL mode
// is a property of the file; a reader needs nothing but the lock wait.
func readerPragmas(busy time.Duration) string {
	return url.Values{"_pragma": {
		fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()),
		"query_only(1)", // readers never write
	}}.Encode()
}

// Open opens (creating if needed) the database at path and migrates it. The
// special path ":memory:" keeps everything in memory on a single
// connection; nothing is written to disk and the data lives until Close.
// When retention is configured (MaxMessages or MaxAge), a background pruner
// runs every PruneInterval until Close.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	db := &DB{
		writes:    make(chan *writeReq, maxBatch),
		closing:   make(chan struct{}),
		writerEnd: make(chan struct{}),
		parser: enmime.NewParser(
			// Trust the declared charset; chardet guesses wrong on short texts.
			enmime.DisableCharacterDetection(true),
			// A broken child part becomes a finding instead of failing the parse.
			enmime.SkipMalformedParts(true),
			// Keep what was decoded of a corrupt text part.
			enmime.SetReadPartErrorPolicy(enmime.AllowCorruptTextPartErrorPolicy),
		),
		elider: newElider(),
		now:    opts.Now,
		notify: opts.Notify,
		log:    opts.Log,
		opts:   opts,
	}
	if db.now == nil {
		db.now = time.Now
	}
	if db.notify == nil {
		db.notify = func(Event) {}
	}
	if db.log == nil {
		db.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if db.opts.PruneInterval <= 0 {
		db.opts.PruneInterval = time.Minute
	}
	if db.opts.BusyTimeout <= 0 {
		db.opts.BusyTimeout = 5 * time.Second
	}
	if db.opts.InboxHeader == "" {
		db.opts.InboxHeader = "X-Mailsink-Inbox"
	}

	if path == ":memory:" {
		// A pooled ":memory:" gives every connection its own empty database,
		// so keep exactly one connection forever and share it for reads.
		// (The driver strips the query from a plain name; pragmas still apply.)
		w, err := sql.Open("sqlite", ":memory:?"+pragmas(db.opts.BusyTimeout))
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		w.SetConnMaxIdleTime(0)
		db.writer, db.reader = w, w
	} else {
		file := "file:" + (&url.URL{Path: path}).EscapedPath()
		w, err := sql.Open("sqlite", file+"?"+pragmas(db.opts.BusyTimeout))
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		w.SetMaxOpenConns(1) // SQLite has one writer; queue here, not on SQLITE_BUSY
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		w.SetConnMaxIdleTime(0)
		r, err := sql.Open("sqlite", file+"?"+readerPragmas(db.opts.BusyTimeout))
		if err != nil {
			_ = w.Close() // already failing; the open error is the one to report
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		// A bounded pool: requests beyond it queue in database/sql instead of
		// opening ever more connections (hundreds of parked waiters would
		// otherwise each hold one, and WAL has few read-mark slots).
		r.SetMaxOpenConns(readerConns)
		r.SetMaxIdleConns(readerConns)
		db.writer, db.reader = w, r
	}

	if err := db.migrate(ctx); err != nil {
		db.closeConns()
		return nil, err
	}
	stmts, err := prepareStmts(ctx, db.writer, sqlInsertMessage, sqlInsertRaw, sqlInsertFTS)
	if err != nil {
		db.closeConns()
		return nil, err
	}
	db.stmts = stmts

	go db.writeLoop()
	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	db.stop = stop
	if db.opts.MaxAge > 0 || db.opts.MaxMessages > 0 {
		db.wg.Add(1)
		go db.pruneLoop(pctx)
	}
	return db, nil
}

// Close stops the pruner, checkpoints the WAL into the database file and
// closes all connections. It is safe to call more than once.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.stop()
		db.wg.Wait()
		close(db.closing)
		<-db.writerEnd
		var errs []error
		if db.reader != db.writer {
			errs = append(errs, db.reader.Close())
		}
		// Fold the WAL back into the main file so the directory holds one
		// self-contained database after shutdown.
		if _, err := db.writer.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			errs = append(errs, fmt.Errorf("checkpoint: %w", err))
		}
		errs = append(errs, db.stmts.close(), db.writer.Close())
		db.closeErr = errors.Join(errs...)
	})
	return db.closeErr
}

// closeConns closes both pools after a failed Open.
func (db *DB) closeConns() {
	if db.reader != db.writer {
		_ = db.reader.Close() // Open already failed; that error is reported
	}
	_ = db.writer.Close() // likewise
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.reader.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store: closed")

// maxBatch bounds how many writes share one transaction (and one fsync).
const maxBatch = 256

// writeReq is one write waiting for the writer goroutine.
type writeReq struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *sql.Tx) ([]Event, error)
	// appendOnly: fn only adds messages, so it may run before what earlier
	// requests of its batch left for the batch's end (see atBatchEnd).
	appendOnly bool
	state      atomic.Int32 // reqQueued, reqTaken or reqAbandoned
	err        error
	evs        []Event
	done       chan error // buffered: the writer never waits for the caller
}

const (
	reqQueued    = iota
	reqTaken     // the writer runs it: the caller waits for the outcome
	reqAbandoned // the caller's ctx ended first: the writer skips it
)

// update runs fn in a write transaction and, after COMMIT, passes the
// events fn returned to Notify. It is the single write path: every change
// goes through here, so commit order and event order are the same.
//
// Group commit: one writer goroutine takes the requests queued at that
// moment (up to maxBatch) and runs them in one transaction, each under a
// SAVEPOINT so that one failing request does not undo the others, then
// commits once (one WAL fsync for the whole batch) and answers them all.
// Under load, batches grow by themselves; alone, a request commits at
// once. update returns only after the COMMIT that holds its change, so an
// Insert that returned nil is durable.
//
// fn gets a context that is never cancelled: an interrupted statement
// would roll back the whole shared transaction. The caller's ctx only
// decides whether a request that has not started yet still runs.
func (db *DB) update(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) ([]Event, error)) error {
	return db.submit(ctx, &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// updateAppendOnly is update for a fn that only adds messages (see
// writeReq.appendOnly).
func (db *DB) updateAppendOnly(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) ([]Event, error)) error {
	return db.submit(ctx, &writeReq{ctx: ctx, fn: fn, appendOnly: true, done: make(chan error, 1)})
}

func (db *DB) submit(ctx context.Context, r *writeReq) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-db.closing:
		return ErrClosed
	default:
	}
	select {
	case db.writes <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.closing:
		return ErrClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			return ctx.Err()
		}
		return <-r.done // already running: its outcome is the answer
	}
}

// writeLoop is the writer goroutine: it commits batches until Close, then
// refuses what is still queued.
func (db *DB) writeLoop() {
	defer close(db.writerEnd)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case r := <-db.writes:
			batch = append(batch[:0], r)
		drain:
			for len(batch) < maxBatch {
				select {
				case r := <-db.writes:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			db.commitBatch(batch)
		case <-db.closing:
			for {
				select {
				case r := <-db.writes:
					r.done <- ErrClosed
				default:
					return
				}
			}
		}
	}
}

// commitBatch runs a batch of requests in one transaction and answers
// each after the commit, in order, notifying their events first.
//
// The batch first runs without savepoints (two statements a request that
// cost a tenth of the writer's time); only if a request fails is the
// transaction rolled back and the batch run again with a SAVEPOINT around
// each request, so that the failure undoes only itself. Requests may run
// twice that way, so their functions must leave nothing behind but what
// they write in the transaction and return.
func (db *DB) commitBatch(batch []*writeReq) {
	run := batch[:0:0]
	for _, r := range batch {
		if !r.state.CompareAndSwap(reqQueued, reqTaken) {
			continue // abandoned: its caller already returned
		}
		run = append(run, r)
	}
	if len(run) == 0 {
		return
	}
	err := db.runBatch(run, false)
	if errors.Is(err, errRetryWithSavepoints) {
		err = db.runBatch(run, true)
	}
	if err != nil {
		// The transaction is rolled back (runBatch's deferred Rollback, or
		// SQLite itself on a failed COMMIT): nothing of the batch is
		// stored, every request hears so, and the next batch starts
		// afresh. Logged once here, not once per request.
		err = classify(err)
		db.log.Error("write batch failed", "requests", len(run), "err", err)
	}
	for _, r := range run {
		if err != nil {
			r.err = cmp.Or(r.err, err)
		}
		r.err = classify(r.err)
		if r.err == nil {
			for _, e := range r.evs {
				db.notify(e)
			}
		}
		r.done <- r.err
	}
}

// errRetryWithSavepoints: a request failed in a batch run without
// savepoints; the batch was rolled back.
var errRetryWithSavepoints = errors.New("store: retry the batch with savepoints")

// runBatch runs the requests in one transaction and commits it. It sets
// each request's events and error; the returned error concerns them all.
func (db *DB) runBatch(run []*writeReq, savepoints bool) error {
	ctx := context.Background()
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	ok := 0
	tails := make([]batchTail, len(run))
	flushed := 0 // the tails of run[:flushed] have run
	flush := func(upto int) error {
		for ; flushed < upto; flushed++ {
			r := run[flushed]
			if r.err != nil {
				continue
			}
			if r.err = tails[flushed].run(context.WithoutCancel(r.ctx), tx); r.err != nil {
				if failsBatch(r.err) {
					return r.err
				}
				if len(run) > 1 {
					return errRetryWithSavepoints
				}
				ok--
			}
		}
		return nil
	}
	for i, r := range run {
		if !savepoints && !r.appendOnly {
			// It may change what earlier requests left for the end (delete
			// the messages whose full-text rows wait there).
			if err := flush(i); err != nil {
				return err
			}
		}
		if savepoints {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT w`); err != nil {
				return fmt.Errorf("savepoint: %w", err)
			}
		}
		rctx := context.WithValue(context.WithoutCancel(r.ctx), batchTailKey{}, &tails[i])
		r.evs, r.err = r.fn(rctx, tx)
		if r.err == nil && savepoints {
			r.err = tails[i].run(rctx, tx)
		}
		if r.err == nil {
			ok++
		}
		switch {
		case r.err != nil && failsBatch(r.err):
			// The database, not this request, failed: re-running the
			// batch (or going on with it) would meet the same failure.
			return r.err
		case !savepoints && r.err != nil && len(run) > 1:
			return errRetryWithSavepoints
		case !savepoints:
		case r.err != nil:
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO w`); err != nil {
				return fmt.Errorf("rollback to savepoint: %w", err)
			}
			fallthrough
		default:
			if _, err := tx.ExecContext(ctx, `RELEASE w`); err != nil {
				return fmt.Errorf("release savepoint: %w", err)
			}
		}
	}
	if !savepoints {
		if err := flush(len(run)); err != nil {
			return err
		}
	}
	if ok == 0 {
		return nil // nothing to commit; each request has its error
	}
	if last := lastInsert(run); db.opts.MaxMessages > 0 && last != nil {
		evs, err := db.pruneInBatch(ctx, tx)
		if err != nil {
			return err
		}
		last.evs = append(last.evs, evs...) // notified after the "new" events, in commit order
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// lastInsert is the last request of run that added messages and
// succeeded, or nil.
func lastInsert(run []*writeReq) *writeReq {
	for i := len(run) - 1; i >= 0; i-- {
		if r := run[i]; r.appendOnly && r.err == nil {
			return r
		}
	}
	return nil
}

// batchTail holds what a request's fn left for the end of its batch (see
// atBatchEnd).
type batchTail struct {
	fns []func(context.Context, *sql.Tx) error
}

type batchTailKey struct{}

func (t *batchTail) run(ctx context.Context, tx *sql.Tx) error {
	for _, fn := range t.fns {
		if err := fn(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

// atBatchEnd runs fn in tx after the other statements of the batch ctx
// belongs to (in the order of the batch's requests; before any request
// that is not appendOnly), or at once outside
// a batch, or when the batch runs under savepoints, at the end of the
// request. For full-text rows: SQLite opens a statement savepoint for
// most writes, and each savepoint makes FTS5 flush its pending entries as
// a new index segment; FTS rows written between other statements became
// one tiny segment each, and merging those was a quarter of the writer's
// CPU time. Written together at the end, a batch's rows are one segment.
func atBatchEnd(ctx context.Context, tx *sql.Tx, fn func(context.Context, *sql.Tx) error) error {
	if t, ok := ctx.Value(batchTailKey{}).(*batchTail); ok {
		t.fns = append(t.fns, fn)
		return nil
	}
	return fn(ctx, tx)
}

// stmtCache holds statements prepared once on the writer connection for
// the insert path: preparing them for every message was about 7 % of the
// server's CPU. SQLite re-prepares them by itself after a schema change
// (DeleteAll recreates tables). A nil cache prepares each time.
type stmtCache struct {
	stmts map[string]*sql.Stmt
}

// prepareStmts prepares queries on db; it must run while no transaction
// holds the writer's one connection (Open, before the writer starts).
func prepareStmts(ctx context.Context, db *sql.DB, queries ...string) (*stmtCache, error) {
	c := &stmtCache{stmts: map[string]*sql.Stmt{}}
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			_ = c.close() // already failing
			return nil, fmt.Errorf("prepare: %w", err)
		}
		c.stmts[q] = st
	}
	return c, nil
}

// exec runs query in tx, with its prepared statement when there is one.
func (c *stmtCache) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if c != nil {
		if st, ok := c.stmts[query]; ok {
			return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		}
	}
	return tx.ExecContext(ctx, query, args...)
}

func (c *stmtCache) close() error {
	if c == nil {
		return nil
	}
	var errs []error
	for _, st := range c.stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}
