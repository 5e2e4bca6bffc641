package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Inboxes
//
// Every message belongs to exactly one inbox, chosen at Insert by the
// first rule that applies:
//
//  1. the SMTP AUTH user (Envelope.AuthUser), when not blank;
//  2. the value of the Options.InboxHeader field ("X-Mailsink-Inbox"),
//     when not blank;
//  3. the first +tag of the first envelope recipient that has one
//     ("user+job42@x.test" → "job42"); when the envelope has no
//     recipients (mail injected through the API), the To and then the Cc
//     header addresses are looked at instead;
//  4. otherwise "", the default inbox.
//
// Names are normalised: trimmed, lower-cased, every character other than
// a-z, 0-9, ".", "_" and "-" replaced by "-", cut to maxInboxLen bytes.

// maxInboxLen is the longest inbox name.
const maxInboxLen = 64

// Inbox is one inbox with its message counts.
type Inbox struct {
	Name   string `json:"Name"` // "" is the default inbox
	Total  int    `json:"Total"`
	Unread int    `json:"Unread"`
}

// normalizeInbox returns the normalised inbox name of s.
func normalizeInbox(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	var b strings.Builder
	for _, r := range s {
		if b.Len() == maxInboxLen {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// routeInbox picks the inbox of a new message (see above).
func (db *DB) routeInbox(env Envelope, hdr header, s *Summary) string {
	var rcpts []string
	for _, r := range env.Rcpts {
		rcpts = append(rcpts, r.Address)
	}
	if len(rcpts) == 0 {
		for _, list := range [][]Address{s.To, s.Cc} {
			for _, a := range list {
				rcpts = append(rcpts, a.Address)
			}
		}
	}
	return db.RouteInbox(env.AuthUser, hdr.get, rcpts)
}

// RouteInbox applies the routing rules above to what is known of a
// message: the AUTH user, a header lookup (the first value of a field,
// "" when absent; nil while the header is unknown) and the recipients.
// The SMTP server's chaos rules use it to scope a rule to an inbox
// before the message is stored.
func (db *DB) RouteInbox(authUser string, header func(name string) string, rcpts []string) string {
	if u := strings.TrimSpace(authUser); u != "" {
		return normalizeInbox(u)
	}
	if header != nil {
		if v := strings.TrimSpace(DecodeHeader(header(db.opts.InboxHeader))); v != "" {
			return normalizeInbox(v)
		}
	}
	for _, a := range rcpts {
		if tags := plusTags(a); len(tags) > 0 {
			return normalizeInbox(tags[0])
		}
	}
	return ""
}

// inboxesSQL is the query of Inboxes: the counts kept by triggers in
// inbox_counts (migrations/0003_counts.sql), one row per inbox with mail.
const inboxesSQL = `SELECT inbox, total, unread FROM inbox_counts ORDER BY inbox`

// Inboxes returns every inbox that has mail (the default inbox "" too,
// when it has mail) with its counts, sorted by name. The result is never
// nil.
func (db *DB) Inboxes(ctx context.Context) ([]Inbox, error) {
	rows, err := db.reader.QueryContext(ctx, inboxesSQL)
	if err != nil {
		return nil, fmt.Errorf("inboxes: %w", err)
	}
	defer rows.Close() //nolint:errcheck // read path; rows.Err is checked
	out := []Inbox{}
	for rows.Next() {
		var in Inbox
		if err := rows.Scan(&in.Name, &in.Total, &in.Unread); err != nil {
			return nil, fmt.Errorf("inboxes: %w", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inboxes: %w", err)
	}
	return out, nil
}

// DeleteInbox deletes every message of the inbox name (normalised like
// at insert; "" is the default inbox) and returns how many it deleted. A
// "delete" event lists their IDs.
func (db *DB) DeleteInbox(ctx context.Context, name string) (int, error) {
	name = normalizeInbox(name)
	n, err := db.deleteWhere(ctx, `inbox = ?`, name)
	if err != nil {
		return 0, fmt.Errorf("delete inbox %q: %w", name, err)
	}
	return n, nil
}

// eachRow runs query in tx and calls fn for every row.
func eachRow(ctx context.Context, tx *sql.Tx, query string, fn func(*sql.Rows) error, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close() //nolint:errcheck // read path; rows.Err is checked
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
