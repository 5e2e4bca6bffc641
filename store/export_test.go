package store

// Hooks for the black-box tests (package store_test); compiled only into
// the test binary.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// MigrateOnly creates the database at path with only the named migrations
// applied (e.g. "0001_init.sql"), the way an older mailsink left it.
func MigrateOnly(ctx context.Context, path string, names ...string) error {
	w, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+pragmas(5*time.Second))
	if err != nil {
		return err
	}
	w.SetMaxOpenConns(1)
	db := &DB{writer: w}
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, name := range names {
		if err := db.migrateFile(ctx, "migrations/"+name); err != nil {
			_ = w.Close() // the migration error is the one to report
			return err
		}
	}
	return w.Close()
}

// ExplainFind returns the EXPLAIN QUERY PLAN lines (the detail column) of
// the count and page statements Find runs for f.
func (db *DB) ExplainFind(ctx context.Context, f Filter) (count, page []string, err error) {
	w, err := filterWhere(f)
	if err != nil {
		return nil, nil, err
	}
	q, args := countQuery(w)
	if count, err = db.explain(ctx, q, args); err != nil {
		return nil, nil, err
	}
	q, args, _ = pageQuery(w, f.Start, f.Limit)
	if page, err = db.explain(ctx, q, args); err != nil {
		return nil, nil, err
	}
	return count, page, nil
}

// ExplainInboxes returns the EXPLAIN QUERY PLAN lines of the queries of
// Inboxes, Tags and Stats.
func (db *DB) ExplainInboxes(ctx context.Context) ([]string, error) {
	var out []string
	for _, q := range []string{inboxesSQL, tagsSQL, tagCountsSQL, statsSQL} {
		lines, err := db.explain(ctx, q, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, lines...)
	}
	return out, nil
}

func (db *DB) explain(ctx context.Context, q string, args []any) ([]string, error) {
	rows, err := db.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		return nil, fmt.Errorf("explain %s: %w", q, err)
	}
	defer rows.Close() //nolint:errcheck // test helper; rows.Err is checked
	var out []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return nil, err
		}
		out = append(out, detail)
	}
	return out, rows.Err()
}

// SeedCopies multiplies the messages of the store at path (closed): it
// appends copies rounds of every message stored now, each round with
// seq and created shifted past the previous one and a new id. It is the
// fast, honest seeding of the scale test: the rows are what Insert wrote
// (all columns, found by PRAGMA table_info, so columns added later are
// copied too), the tag rows are copied, and the full-text rows are built
// once per original message by insertFTS itself (into a TEMP table named
// messages_fts, which shadows the real one for unqualified names) and
// then copied. step is the receive-time distance between rounds.
func SeedCopies(ctx context.Context, path string, copies int, step int64) error {
	db, err := Open(ctx, path, Options{})
	if err != nil {
		return err
	}
	base := map[int64]*Message{}
	rows, err := db.reader.QueryContext(ctx, `SELECT seq, id FROM messages ORDER BY seq`)
	if err != nil {
		return errors.Join(err, db.Close())
	}
	var maxSeq int64
	var ids []string
	for rows.Next() {
		var seq int64
		var id string
		if err := rows.Scan(&seq, &id); err != nil {
			return errors.Join(err, rows.Close(), db.Close())
		}
		ids, maxSeq = append(ids, id), seq
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return errors.Join(err, db.Close())
	}
	for _, id := range ids {
		m, err := db.Get(ctx, id)
		if err != nil {
			return errors.Join(err, db.Close())
		}
		base[m.Seq] = m
	}
	if err := db.Close(); err != nil {
		return err
	}

	// A plain connection: no foreign keys (the copies' parents are copied
	// first anyway), no fsync per statement.
	w, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=cache_size(-200000)")
	if err != nil {
		return err
	}
	defer w.Close() //nolint:errcheck // test helper
	w.SetMaxOpenConns(1)
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE messages_fts (subject, from_addr, to_addr,
		cc_addr, bcc_addr, reply_to, return_path, message_id, text, html)`); err != nil {
		return err
	}
	for seq, m := range base {
		if err := insertFTS(ctx, tx, nil, seq, ftsValues(m)); err != nil {
			return err
		}
	}
	cols := func(table string, skip ...string) (string, error) {
		var names []string
		err := eachRow(ctx, tx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, func(r *sql.Rows) error {
			var n string
			if err := r.Scan(&n); err != nil {
				return err
			}
			if !slices.Contains(skip, n) {
				names = append(names, n)
			}
			return nil
		}, table)
		return strings.Join(names, ", "), err
	}
	msgCols, err := cols("messages", "seq", "id", "created")
	if err != nil {
		return err
	}
	rawCols, err := cols("raw", "seq")
	if err != nil {
		return err
	}
	const ftsCols = `subject, from_addr, to_addr, cc_addr, bcc_addr, reply_to, return_path, message_id, text, html`
	for k := 1; k <= copies; k++ {
		off := int64(k) * maxSeq
		for _, q := range []string{
			`INSERT INTO main.messages (seq, id, created, ` + msgCols + `)
				SELECT seq + ?1, substr(id, 1, 20) || printf('%06d', ?2), created + ?2 * ?3, ` + msgCols + `
				FROM main.messages WHERE seq <= ?4 ORDER BY seq`,
			`INSERT INTO main.raw (seq, ` + rawCols + `) SELECT seq + ?1, ` + rawCols + `
				FROM main.raw WHERE seq <= ?4 ORDER BY seq`,
			`INSERT INTO main.message_tags (key, seq, tag) SELECT key, seq + ?1, tag
				FROM main.message_tags WHERE seq <= ?4`,
			`INSERT INTO main.messages_fts (rowid, ` + ftsCols + `) SELECT rowid + ?1, ` + ftsCols + `
				FROM temp.messages_fts ORDER BY rowid`,
		} {
			if _, err := tx.ExecContext(ctx, q, off, k, step, maxSeq); err != nil {
				return fmt.Errorf("copy %d: %w", k, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE temp.messages_fts`); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// Codecs of raw.codec (raw.go).
const (
	CodecPlain = codecPlain
	CodecZstd  = codecZstd
)

// CompressRaw is compressRaw: what Insert stores for raw, and its codec.
func CompressRaw(raw []byte) ([]byte, int) { return compressRaw(raw) }

// DecompressRaw is decompressRaw: what Raw returns for a stored row.
func DecompressRaw(data []byte, codec int, size int64) ([]byte, error) {
	return decompressRaw(data, codec, size)
}

// ScanCounts counts what Stats, Inboxes and the tag counts report the slow
// way, by reading every row: the truth the kept counts must equal.
func (db *DB) ScanCounts(ctx context.Context) (total, unread int, inboxes []Inbox, tags map[string]int, err error) {
	err = db.reader.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE read = 0) FROM messages`).
		Scan(&total, &unread)
	if err != nil {
		return 0, 0, nil, nil, err
	}
	inboxes = []Inbox{}
	rows, err := db.reader.QueryContext(ctx, `SELECT inbox, count(*), count(*) FILTER (WHERE read = 0)
		FROM messages GROUP BY inbox ORDER BY inbox`)
	if err != nil {
		return 0, 0, nil, nil, err
	}
	for rows.Next() {
		var in Inbox
		if err := rows.Scan(&in.Name, &in.Total, &in.Unread); err != nil {
			return 0, 0, nil, nil, errors.Join(err, rows.Close())
		}
		inboxes = append(inboxes, in)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, 0, nil, nil, err
	}
	tags = map[string]int{}
	rows, err = db.reader.QueryContext(ctx, `SELECT min(tag), count(*) FROM message_tags GROUP BY key`)
	if err != nil {
		return 0, 0, nil, nil, err
	}
	for rows.Next() {
		var tag string
		var n int
		if err := rows.Scan(&tag, &n); err != nil {
			return 0, 0, nil, nil, errors.Join(err, rows.Close())
		}
		tags[tag] = n
	}
	return total, unread, inboxes, tags, errors.Join(rows.Err(), rows.Close())
}

// Schema returns the SQL of every schema object by name.
func (db *DB) Schema(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	rows, err := db.reader.QueryContext(ctx, `SELECT name, coalesce(sql, '') FROM sqlite_schema`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			return nil, errors.Join(err, rows.Close())
		}
		out[name] = sql
	}
	return out, errors.Join(rows.Err(), rows.Close())
}

// RowCount returns the number of rows of table.
func (db *DB) RowCount(ctx context.Context, table string) (int, error) {
	var n int
	err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(table)).Scan(&n)
	return n, err
}
