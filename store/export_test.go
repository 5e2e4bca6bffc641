package store

// Hooks for the black-box tests (package store_test); compiled only into
// the test binary.

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
)

// MigrateOnly creates the database at path with only the named migrations
// applied (e.g. "0001_init.sql"), the way an older mailsink left it.
func MigrateOnly(ctx context.Context, path string, names ...string) error {
	w, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+pragmas())
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
	q, args = pageQuery(w, f.Start, f.Limit)
	if page, err = db.explain(ctx, q, args); err != nil {
		return nil, nil, err
	}
	return count, page, nil
}

// ExplainInboxes returns the EXPLAIN QUERY PLAN lines of the queries of
// Inboxes and Stats.Tags.
func (db *DB) ExplainInboxes(ctx context.Context) ([]string, error) {
	var out []string
	for _, q := range []string{inboxTotalsSQL, inboxUnreadSQL, tagCountsSQL} {
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
