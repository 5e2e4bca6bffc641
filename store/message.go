package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Address is a mailbox with an optional display name.
type Address struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// Param is one ESMTP parameter (MAIL or RCPT), keyword upper-cased.
type Param struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Recipient is one RCPT TO of the envelope.
type Recipient struct {
	Address string  `json:"Address"`
	Params  []Param `json:"Params"`
}

// TranscriptLine is one line of the SMTP session; Dir is "C", "S" or "*".
type TranscriptLine struct {
	Time time.Time `json:"Time"`
	Dir  string    `json:"Dir"`
	Text string    `json:"Text"`
}

// Envelope is the SMTP side of a message: who connected, what they said
// outside the content. It is stored with the message as given.
type Envelope struct {
	RemoteAddr string           `json:"RemoteAddr"`
	LocalAddr  string           `json:"LocalAddr"`
	Helo       string           `json:"Helo"`
	ESMTP      bool             `json:"ESMTP"`
	TLSVersion string           `json:"TLSVersion"` // "" without TLS
	TLSCipher  string           `json:"TLSCipher"`
	TLSServer  string           `json:"TLSServerName"`
	AuthUser   string           `json:"AuthUser"`
	MailFrom   string           `json:"MailFrom"` // "" for the null reverse-path
	MailParams []Param          `json:"MailParams"`
	Rcpts      []Recipient      `json:"Rcpts"`
	Protocol   string           `json:"Protocol"` // ESMTP, ESMTPSA, …
	Body       string           `json:"Body"`     // 7BIT, 8BITMIME, BINARYMIME
	SMTPUTF8   bool             `json:"SMTPUTF8"`
	Chunked    bool             `json:"Chunked"`
	Transcript []TranscriptLine `json:"Transcript"`
	ReceivedAt time.Time        `json:"ReceivedAt"` // end of DATA; zero means "now" at insert
	Source     string           `json:"Source"`     // "smtp" or "api"; "" means smtp
}

// Header is one header field in message order; Value is raw (unfolded
// continuation lines kept, RFC 2047 words not decoded).
type Header struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// Finding is a problem noticed in a message: an enmime parse error or
// warning, or one of our own checks (long lines, bare LF, …). Malformed
// mail is stored anyway; findings say what was wrong with it.
type Finding struct {
	Code   string `json:"Code"`   // stable machine name, e.g. "line-too-long", "bare-lf", "enmime"
	Severe bool   `json:"Severe"` // enmime error (vs. warning / observation)
	Text   string `json:"Text"`
}

// Part is one node of the MIME tree. ID is its path in enmime's scheme:
// the root is always "0", children of a multipart root "1", "2", …, a
// nested multipart part "2.0" with children "2.1", "2.2", … (see the
// package doc). Size is the decoded size in bytes.
type Part struct {
	ID          string `json:"PartID"`
	ContentType string `json:"ContentType"`
	Charset     string `json:"Charset"`
	Encoding    string `json:"Encoding"`    // Content-Transfer-Encoding as sent
	Disposition string `json:"Disposition"` // "", "inline" or "attachment"
	FileName    string `json:"FileName"`    // decoded (RFC 2047 / 2231)
	ContentID   string `json:"ContentID"`   // without <>
	Size        int64  `json:"Size"`
	Children    []Part `json:"Children"` // never nil
}

// Summary is the list view of a message.
type Summary struct {
	ID          string    `json:"ID"`
	Seq         int64     `json:"Seq"` // monotonic insertion order; a cursor
	MessageID   string    `json:"MessageID"`
	From        *Address  `json:"From"` // nil when the header is absent
	To          []Address `json:"To"`
	Cc          []Address `json:"Cc"`
	Bcc         []Address `json:"Bcc"` // envelope recipients in no To/Cc/Bcc header, plus any Bcc header
	ReplyTo     []Address `json:"ReplyTo"`
	ReturnPath  string    `json:"ReturnPath"` // envelope sender
	Subject     string    `json:"Subject"`    // RFC 2047 decoded
	Created     time.Time `json:"Created"`
	Size        int64     `json:"Size"` // raw bytes as stored
	Attachments int       `json:"Attachments"`
	Snippet     string    `json:"Snippet"`
	Read        bool      `json:"Read"`
	Tags        []string  `json:"Tags"`     // sorted case-insensitively; never nil
	Username    string    `json:"Username"` // AUTH user
	Inbox       string    `json:"Inbox"`    // "" = the default inbox; see inbox.go
}

// Message is the full parsed view of one message.
type Message struct {
	Summary
	Date          time.Time `json:"Date"` // from the Date header; zero when absent or unparseable
	Headers       []Header  `json:"Headers"`
	Text          string    `json:"Text"`
	HTML          string    `json:"HTML"`
	Root          Part      `json:"Root"`     // the MIME tree
	Inline        []Part    `json:"Inline"`   // inline parts with content (cid images …)
	Attached      []Part    `json:"Attached"` // attachments
	Findings      []Finding `json:"Findings"` // never nil
	Envelope      Envelope  `json:"Envelope"`
	ListUnsub     string    `json:"ListUnsubscribe"`     // raw List-Unsubscribe header
	ListUnsubPost string    `json:"ListUnsubscribePost"` // raw List-Unsubscribe-Post header
}

// Event is a change notification, published after the change committed.
// Type uses Mailpit's websocket names: "new" (Data *Summary), "update"
// (Data map[string]any: "IDs" and "Read" from SetRead; "IDs" and "Tags"
// from SetTags; only "IDs", the messages whose tags changed, from
// RenameTag and DeleteTag), "delete" (Data map with "IDs"), "truncate"
// (Data nil).
type Event struct {
	Type string `json:"Type"`
	Data any    `json:"Data"`
}

// Stats are the counters the API's info and list envelopes report.
type Stats struct {
	Total  int            `json:"Total"`
	Unread int            `json:"Unread"`
	DBSize int64          `json:"DatabaseSize"`
	Tags   map[string]int `json:"Tags"` // tag → number of messages; never nil
}

// summaryCols are the messages columns scanSummary reads, in order.
const summaryCols = `seq, id, created, size, read, subject, from_addr, to_addrs, cc_addrs,
	bcc_addrs, reply_to, message_id, snippet, attachments, tags, username, return_path, inbox`

// Insert parses raw (the full message as stored, including any trace
// headers the SMTP server prepended) and stores it with env in one
// transaction; it returns only after COMMIT. An empty id means "generate
// one". Parsing problems never fail the insert: they become Findings. Errors
// mean I/O or database trouble (or a duplicate id). The message is routed to
// an inbox (see inbox.go) and tagged from its X-Tags header fields
// (comma-separated) and, with Options.PlusTags, the +tags of its recipients
// (see tags.go). MaxMessages retention is enforced in the same
// transaction (see pruneInBatch). After the commit, Notify gets a "new"
// event, and a "delete" event for the messages it pushed out.
//
// An error wrapping ErrStorageFull means there was no room on disk: the
// message was not stored, and a later attempt may succeed.
func (db *DB) Insert(ctx context.Context, id string, env Envelope, raw []byte) (*Summary, error) {
	if id == "" {
		id = rand.Text()
	}
	created := env.ReceivedAt
	if created.IsZero() {
		created = db.now()
	}
	created = time.Unix(0, created.UnixNano()).UTC() // what the database gives back
	if env.ReceivedAt.IsZero() {
		env.ReceivedAt = created
	}
	env = normalizeEnvelope(env)

	m := db.parse(env, raw)
	m.ID = id
	m.Created = created
	m.Size = int64(len(raw))
	m.Envelope = env
	hdr := header{fields: m.Headers}
	m.Inbox = db.routeInbox(env, hdr, &m.Summary)
	m.Tags = ingestTags(hdr, env, &m.Summary, db.opts.PlusTags)

	rv, err := encodeRow(m, raw)
	if err != nil {
		return nil, fmt.Errorf("insert message: %w", err)
	}
	var sum Summary
	err = db.updateAppendOnly(ctx, func(ctx context.Context, tx *sql.Tx) ([]Event, error) {
		seq, err := insertMessage(ctx, tx, db.stmts, m, rv)
		if err != nil {
			return nil, err
		}
		m.Seq = seq
		sum = m.Summary
		ev := sum
		return []Event{{Type: "new", Data: &ev}}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert message: %w", err)
	}
	db.log.Debug("message stored", "id", sum.ID, "seq", sum.Seq, "size", sum.Size, "findings", len(m.Findings))
	return &sum, nil
}

// rowValues are the column values of a new message, encoded before the
// write transaction: JSON, the text of the HTML body for the index and the
// compressed raw bytes cost CPU that the one writer goroutine should not
// spend while every other insert waits for it.
type rowValues struct {
	messages []any // INSERT INTO messages values; [tagsCol] is set in the transaction
	fts      []any // messages_fts values after the rowid
	raw      []byte
	codec    int
}

// tagsCol is the index of the tags value in rowValues.messages: tags get
// their canonical spelling inside the transaction (see canonicalTags).
const tagsCol = 14

// The statements of insertMessage, prepared once (see stmtCache).
const (
	sqlInsertMessage = `INSERT INTO messages (
		id,
		created,
		size,
		read,
		subject,
		from_addr,
		to_addrs,
		cc_addrs,
		bcc_addrs,
		reply_to,
		message_id,
		date,
		snippet,
		attachments,
		tags,
		username,
		return_path,
		envelope,
		headers,
		text,
		html,
		root,
		inline_parts,
		attached,
		findings,
		list_unsub,
		list_unsub_post,
		inbox,
		inlines
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlInsertRaw = `INSERT INTO raw (seq, data, codec) VALUES (?, ?, ?)`
)

// encodeRow encodes m's columns; it runs on the caller's goroutine.
func encodeRow(m *Message, raw []byte) (*rowValues, error) {
	date := ""
	if !m.Date.IsZero() {
		date = m.Date.Format(time.RFC3339Nano)
	}
	js := jsonCols{}
	rv := &rowValues{messages: []any{
		m.ID,
		m.Created.UnixNano(),
		m.Size,
		m.Read,
		m.Subject,
		js.marshal(m.From),
		js.marshal(m.To),
		js.marshal(m.Cc),
		js.marshal(m.Bcc),
		js.marshal(m.ReplyTo),
		m.MessageID,
		date,
		m.Snippet,
		m.Attachments,
		nil, // tagsCol
		m.Username,
		m.ReturnPath,
		js.marshal(m.Envelope),
		js.marshal(m.Headers),
		m.Text,
		m.HTML,
		js.marshal(m.Root),
		js.marshal(m.Inline),
		js.marshal(m.Attached),
		js.marshal(m.Findings),
		m.ListUnsub,
		m.ListUnsubPost,
		m.Inbox,
		len(m.Inline),
	}}
	if js.err != nil {
		return nil, js.err
	}
	rv.fts = ftsValues(m)
	rv.raw, rv.codec = compressRaw(raw)
	return rv, nil
}

// insertMessage writes the messages, raw, tag and FTS rows of m from its
// encoded values and returns the new seq.
func insertMessage(ctx context.Context, tx *sql.Tx, stmts *stmtCache, m *Message, rv *rowValues) (int64, error) {
	tags, err := canonicalTags(ctx, tx, m.Tags)
	if err != nil {
		return 0, err
	}
	m.Tags = tags
	js := jsonCols{}
	vals := slices.Clone(rv.messages)
	vals[tagsCol] = js.marshal(m.Tags)
	if js.err != nil {
		return 0, js.err
	}
	res, err := stmts.exec(ctx, tx, sqlInsertMessage, vals...)
	if err != nil {
		return 0, fmt.Errorf("insert messages row: %w", err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("last insert id: %w", err)
	}
	if _, err := stmts.exec(ctx, tx, sqlInsertRaw, seq, rv.raw, rv.codec); err != nil {
		return 0, fmt.Errorf("insert raw: %w", err)
	}
	if err := insertTagRows(ctx, tx, seq, m.Tags); err != nil {
		return 0, err
	}
	err = atBatchEnd(ctx, tx, func(ctx context.Context, tx *sql.Tx) error {
		return insertFTS(ctx, tx, stmts, seq, rv.fts)
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// List returns up to limit messages (limit <= 0: all) newest first, skipping
// the first start. The result is never nil.
func (db *DB) List(ctx context.Context, start, limit int) ([]Summary, error) {
	start, limit = page(start, limit)
	out, err := db.querySummaries(ctx,
		`SELECT `+summaryCols+` FROM messages ORDER BY seq DESC LIMIT ? OFFSET ?`, limit, start)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return out, nil
}

// page normalises paging arguments for LIMIT ? OFFSET ? (-1 = no limit).
func page(start, limit int) (int, int) {
	if start < 0 {
		start = 0
	}
	if limit <= 0 {
		limit = -1
	}
	return start, limit
}

// querySummaries runs a query selecting summaryCols on the reader pool.
func (db *DB) querySummaries(ctx context.Context, query string, args ...any) ([]Summary, error) {
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close() //nolint:errcheck // read path; rows.Err is checked
	out := []Summary{}
	for rows.Next() {
		var s Summary
		if err := scanSummary(rows, &s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanSummary scans summaryCols (plus any extra destinations) into s.
func scanSummary(sc scanner, s *Summary, extra ...any) error {
	var created int64
	var from, to, cc, bcc, replyTo, tags string
	dest := append([]any{&s.Seq, &s.ID, &created, &s.Size, &s.Read, &s.Subject, &from, &to, &cc,
		&bcc, &replyTo, &s.MessageID, &s.Snippet, &s.Attachments, &tags, &s.Username, &s.ReturnPath, &s.Inbox}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	s.Created = time.Unix(0, created).UTC()
	js := jsonCols{}
	js.unmarshal(from, &s.From)
	js.unmarshal(to, &s.To)
	js.unmarshal(cc, &s.Cc)
	js.unmarshal(bcc, &s.Bcc)
	js.unmarshal(replyTo, &s.ReplyTo)
	js.unmarshal(tags, &s.Tags)
	s.To, s.Cc, s.Bcc, s.ReplyTo = nonNil(s.To), nonNil(s.Cc), nonNil(s.Bcc), nonNil(s.ReplyTo)
	s.Tags = nonNil(s.Tags)
	return js.err
}

// statsSQL is the query of Stats: the counts kept per inbox by triggers
// (migrations/0003_counts.sql), summed, and the database size.
const statsSQL = `SELECT coalesce(sum(total), 0), coalesce(sum(unread), 0),
	(SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size())
	FROM inbox_counts`

// Stats returns message counts, the tags in use with their message
// counts, and the database size.
func (db *DB) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Tags: map[string]int{}}
	tx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // one snapshot for all counts
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	err = tx.QueryRowContext(ctx, statsSQL).Scan(&st.Total, &st.Unread, &st.DBSize)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	if err := tagCounts(ctx, tx, st.Tags); err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}

// LatestID returns the id of the newest message, or ErrNotFound.
func (db *DB) LatestID(ctx context.Context) (string, error) {
	var id string
	err := db.reader.QueryRowContext(ctx, `SELECT id FROM messages ORDER BY seq DESC LIMIT 1`).Scan(&id)
	if err != nil {
		return "", notFound("latest id", err)
	}
	return id, nil
}

// notFound wraps err with context, mapping sql.ErrNoRows to ErrNotFound.
func notFound(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Get returns the full parsed message, or ErrNotFound.
func (db *DB) Get(ctx context.Context, id string) (*Message, error) {
	m := &Message{}
	var date, env, headers, root, inline, attached, findings string
	row := db.reader.QueryRowContext(ctx, `SELECT `+summaryCols+`,
		date, envelope, headers, text, html, root, inline_parts, attached, findings,
		list_unsub, list_unsub_post
		FROM messages WHERE id = ?`, id)
	err := scanSummary(row, &m.Summary, &date, &env, &headers, &m.Text, &m.HTML, &root, &inline,
		&attached, &findings, &m.ListUnsub, &m.ListUnsubPost)
	if err != nil {
		return nil, notFound("get message "+id, err)
	}
	if date != "" {
		if m.Date, err = time.Parse(time.RFC3339Nano, date); err != nil {
			return nil, fmt.Errorf("get message %s: date: %w", id, err)
		}
	}
	js := jsonCols{}
	js.unmarshal(env, &m.Envelope)
	js.unmarshal(headers, &m.Headers)
	js.unmarshal(root, &m.Root)
	js.unmarshal(inline, &m.Inline)
	js.unmarshal(attached, &m.Attached)
	js.unmarshal(findings, &m.Findings)
	if js.err != nil {
		return nil, fmt.Errorf("get message %s: %w", id, js.err)
	}
	m.Envelope = normalizeEnvelope(m.Envelope)
	m.Headers, m.Findings = nonNil(m.Headers), nonNil(m.Findings)
	m.Inline, m.Attached = nonNil(m.Inline), nonNil(m.Attached)
	m.Root = normalizePart(m.Root)
	return m, nil
}

// Raw returns the message exactly as received (decompressed when stored
// compressed, see raw.go), or ErrNotFound.
func (db *DB) Raw(ctx context.Context, id string) ([]byte, error) {
	var (
		data  []byte
		codec int
		size  int64
	)
	err := db.reader.QueryRowContext(ctx,
		`SELECT r.data, r.codec, m.size FROM messages m JOIN raw r ON r.seq = m.seq WHERE m.id = ?`,
		id).Scan(&data, &codec, &size)
	if err != nil {
		return nil, notFound("raw message "+id, err)
	}
	raw, err := decompressRaw(data, codec, size)
	if err != nil {
		return nil, fmt.Errorf("raw message %s: %w", id, err)
	}
	return raw, nil
}

// Part returns one node of the MIME tree of message id and its decoded
// content (transfer encoding removed; text converted to UTF-8). The content
// of a multipart node is empty. It re-parses the stored raw message, so
// nothing is stored twice. ErrNotFound for an unknown message or part.
func (db *DB) Part(ctx context.Context, id, partID string) (*Part, []byte, error) {
	raw, err := db.Raw(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	p, content, ok := db.findPart(raw, partID)
	if !ok {
		return nil, nil, fmt.Errorf("message %s part %q: %w", id, partID, ErrNotFound)
	}
	return p, content, nil
}

// PartContents returns the decoded content of each of the parts partIDs
// of message id (unknown parts are left out), parsing the message once:
// for callers that need several parts, e.g. to checksum every attachment.
func (db *DB) PartContents(ctx context.Context, id string, partIDs []string) (map[string][]byte, error) {
	raw, err := db.Raw(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(partIDs))
	if len(partIDs) == 0 {
		return out, nil
	}
	e, _, err := db.readEnvelope(raw, nil, nil)
	if err != nil || e.Root == nil {
		for _, pid := range partIDs {
			if _, content, ok := db.findPart(raw, pid); ok {
				out[pid] = content
			}
		}
		return out, nil
	}
	want := make(map[string]bool, len(partIDs))
	for _, pid := range partIDs {
		want[pid] = true
	}
	for p := range walkParts(e.Root) {
		if want[p.PartID] {
			out[p.PartID] = nonNil(p.Content)
		}
	}
	return out, nil
}

// SetRead marks the messages ids (all messages when ids is empty) read or
// unread and sends an "update" event with the IDs as given.
func (db *DB) SetRead(ctx context.Context, ids []string, read bool) error {
	ids = slices.Clone(nonNil(ids)) // the event must not share the caller's array
	err := db.update(ctx, func(ctx context.Context, tx *sql.Tx) ([]Event, error) {
		var err error
		if len(ids) == 0 {
			_, err = tx.ExecContext(ctx, `UPDATE messages SET read = ? WHERE read <> ?`, read, read)
		} else {
			_, err = tx.ExecContext(ctx,
				`UPDATE messages SET read = ? WHERE id IN (SELECT value FROM json_each(?))`, read, jsonIDs(ids))
		}
		if err != nil {
			return nil, err
		}
		return []Event{{Type: "update", Data: map[string]any{"IDs": ids, "Read": read}}}, nil
	})
	if err != nil {
		return fmt.Errorf("set read: %w", err)
	}
	return nil
}

// Delete deletes the messages ids (unknown ids are ignored) and returns how
// many were deleted. A "delete" event lists the deleted IDs.
func (db *DB) Delete(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n, err := db.deleteWhere(ctx, `id IN (SELECT value FROM json_each(?))`, jsonIDs(ids))
	if err != nil {
		return 0, fmt.Errorf("delete messages: %w", err)
	}
	return n, nil
}

// deleteWhere deletes the messages matching cond in one transaction and
// sends one "delete" event listing them.
func (db *DB) deleteWhere(ctx context.Context, cond string, args ...any) (int, error) {
	var n int
	err := db.update(ctx, func(ctx context.Context, tx *sql.Tx) ([]Event, error) {
		deleted, err := deleteReturning(ctx, tx, `DELETE FROM messages WHERE `+cond+` RETURNING seq, id`, args...)
		if err != nil {
			return nil, err
		}
		n = len(deleted)
		if n == 0 {
			return nil, nil
		}
		return []Event{{Type: "delete", Data: map[string]any{"IDs": deleted}}}, nil
	})
	return n, err
}

// deleteReturning runs a DELETE FROM messages … RETURNING seq, id and
// removes the matching FTS rows (raw rows go by ON DELETE CASCADE). It
// returns the deleted ids, oldest first.
func deleteReturning(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var seqs []int64
	ids := []string{}
	for rows.Next() {
		var seq int64
		var id string
		if err := rows.Scan(&seq, &id); err != nil {
			_ = rows.Close() // the scan error is the one to report
			return nil, err
		}
		seqs = append(seqs, seq)
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if len(seqs) == 0 {
		return ids, nil
	}
	stmt, err := tx.PrepareContext(ctx, `DELETE FROM messages_fts WHERE rowid = ?`)
	if err != nil {
		return nil, err
	}
	defer stmt.Close() //nolint:errcheck // statement of a tx; the tx outcome decides
	for _, seq := range seqs {
		if _, err := stmt.ExecContext(ctx, seq); err != nil {
			return nil, fmt.Errorf("delete fts row: %w", err)
		}
	}
	return ids, nil
}

// DeleteAll deletes every message and sends a "truncate" event.
func (db *DB) DeleteAll(ctx context.Context) error {
	err := db.update(ctx, func(ctx context.Context, tx *sql.Tx) ([]Event, error) {
		if err := truncateMessages(ctx, tx); err != nil {
			return nil, err
		}
		return []Event{{Type: "truncate", Data: nil}}, nil
	})
	if err != nil {
		return fmt.Errorf("delete all: %w", err)
	}
	db.reclaim(ctx)
	return nil
}

// truncateMessages empties messages, the tables whose rows belong to a
// message and the counts, in time in proportion to the pages rather than
// the rows.
//
// A plain DELETE FROM messages goes row by row, because of the foreign
// keys of its child tables (raw, message_tags: ON DELETE CASCADE) and its
// count triggers; at 100,000 messages that takes seconds. SQLite empties
// a table in one step (its truncate optimisation) only when no foreign
// key refers to it and it has no triggers. So, inside the transaction,
// truncateMessages drops the child tables (all their rows would go
// anyway) and the triggers on messages, empties messages and its
// full-text index, and re-creates what it dropped from the SQL kept in
// sqlite_schema: the schema afterwards is exactly the one before,
// whatever migrations made it. The count tables, whose triggers did not
// run, are emptied last.
func truncateMessages(ctx context.Context, tx *sql.Tx) error {
	var children, ddl, drops []string
	err := eachRow(ctx, tx, `SELECT DISTINCT s.name FROM sqlite_schema s, pragma_foreign_key_list(s.name) f
		WHERE s.type = 'table' AND f."table" = 'messages' AND f.on_delete = 'CASCADE'`,
		func(rows *sql.Rows) error {
			var name string
			err := rows.Scan(&name)
			children = append(children, name)
			drops = append(drops, "DROP TABLE "+quoteIdent(name))
			return err
		})
	if err != nil {
		return fmt.Errorf("child tables: %w", err)
	}
	// The child tables with their indexes and triggers (tables first), and
	// the triggers on messages, in the order they were created.
	err = eachRow(ctx, tx, `SELECT name, tbl_name = 'messages', sql FROM sqlite_schema
		WHERE sql IS NOT NULL AND (tbl_name IN (SELECT value FROM json_each(?))
			OR type = 'trigger' AND tbl_name = 'messages')
		ORDER BY type = 'table' DESC, rowid`,
		func(rows *sql.Rows) error {
			var name, sql string
			var onMessages bool
			err := rows.Scan(&name, &onMessages, &sql)
			ddl = append(ddl, sql)
			if onMessages { // the others go with their table
				drops = append(drops, "DROP TRIGGER "+quoteIdent(name))
			}
			return err
		}, jsonIDs(children))
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	steps := slices.Concat(drops, []string{
		`INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')`,
		`DELETE FROM messages`,
	}, ddl, []string{
		`DELETE FROM inbox_counts`,
		`DELETE FROM tag_counts`,
	})
	for _, q := range steps {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%.40s: %w", q, err)
		}
	}
	return nil
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// reclaim hands the free pages back to the file system after DeleteAll.
// Nearly every page is free then, and VACUUM rebuilds the nearly empty
// file in milliseconds, where PRAGMA incremental_vacuum (auto_vacuum is
// INCREMENTAL) moves pages off a long free list one at a time: 30 s and a
// 1 GB WAL after 100,000 messages. Failure only costs disk space, so it
// is logged.
func (db *DB) reclaim(ctx context.Context) {
	if _, err := db.writer.ExecContext(ctx, `VACUUM`); err != nil {
		db.log.Warn("vacuum", "err", err)
	}
}

// jsonCols marshals and unmarshals JSON columns, keeping the first error.
type jsonCols struct{ err error }

func (j *jsonCols) marshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil && j.err == nil {
		j.err = fmt.Errorf("encode column: %w", err)
	}
	return string(b)
}

func (j *jsonCols) unmarshal(s string, v any) {
	if err := json.Unmarshal([]byte(s), v); err != nil && j.err == nil {
		j.err = fmt.Errorf("decode column: %w", err)
	}
}

// jsonIDs encodes ids as a JSON array for json_each(?).
func jsonIDs(ids []string) string {
	b, _ := json.Marshal(ids) // a []string always encodes
	return string(b)
}

// nonNil returns s, or an empty slice when s is nil, so JSON says [] not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// normalizeEnvelope replaces nil slices in e with empty ones.
func normalizeEnvelope(e Envelope) Envelope {
	e.MailParams = nonNil(e.MailParams)
	rcpts := make([]Recipient, len(e.Rcpts)) // a copy: never write to the caller's array
	for i, r := range e.Rcpts {
		r.Params = nonNil(r.Params)
		rcpts[i] = r
	}
	e.Rcpts = rcpts
	e.Transcript = nonNil(e.Transcript)
	return e
}

// normalizePart replaces nil Children in the tree with empty slices.
func normalizePart(p Part) Part {
	p.Children = nonNil(p.Children)
	for i := range p.Children {
		p.Children[i] = normalizePart(p.Children[i])
	}
	return p
}
