package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tags
//
// A tag is cleaned before it is stored: letters, digits, space, "-", "."
// and "_" are kept (Mailpit's set, plus non-ASCII letters and digits),
// anything else is dropped, runs of white space become one space, and the
// result is trimmed and cut to maxTagRunes. Tags are case-insensitive
// (Unicode lower case): a message has a tag at most once, and every
// message with a tag shares one spelling, the one first stored (RenameTag
// can change it). Tags are kept in message_tags (one row per message and
// tag, keyed by the folded tag) and mirrored, sorted by the folded tag, in
// the JSON column messages.tags that the list view reads; triggers keep
// the number of messages per tag in tag_counts (migrations/0003_counts.sql).

// maxTagRunes is the longest tag kept.
const maxTagRunes = 100

// cleanTag returns tag cleaned as described above ("" when nothing is left).
func cleanTag(tag string) string {
	var b strings.Builder
	space := false
	for _, r := range tag {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '.' || r == '_':
		default:
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	s := b.String()
	if utf8.RuneCountInString(s) > maxTagRunes {
		s = strings.TrimSpace(string([]rune(s)[:maxTagRunes]))
	}
	return s
}

// tagKey is the case-folded form of a cleaned tag: the identity of a tag.
func tagKey(tag string) string { return strings.ToLower(tag) }

// normalizeTags cleans tags, drops empty ones and case-insensitive
// duplicates (the first spelling wins) and sorts them by key. The result
// is never nil.
func normalizeTags(tags []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, t := range tags {
		t = cleanTag(t)
		if k := tagKey(t); t != "" && !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	sortTags(out)
	return out
}

// sortTags sorts cleaned tags by key, the order of messages.tags.
func sortTags(tags []string) {
	slices.SortFunc(tags, func(a, b string) int { return strings.Compare(tagKey(a), tagKey(b)) })
}

// ingestTags returns the tags a new message gets: the comma-separated
// values of its X-Tags header fields and, with plus, the +tags of its
// recipients (envelope and To/Cc/Bcc headers), normalised.
func ingestTags(hdr header, env Envelope, s *Summary, plus bool) []string {
	var tags []string
	for _, v := range hdr.all("X-Tags") {
		tags = append(tags, strings.Split(DecodeHeader(v), ",")...)
	}
	if plus {
		for _, r := range env.Rcpts {
			tags = append(tags, plusTags(r.Address)...)
		}
		for _, list := range [][]Address{s.To, s.Cc, s.Bcc} {
			for _, a := range list {
				tags = append(tags, plusTags(a.Address)...)
			}
		}
	}
	return normalizeTags(tags)
}

// plusTags returns the +tags of an address's local part:
// "user+a+b@host" → ["a", "b"]; nil when there is none.
func plusTags(addr string) []string {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	local := addr
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		local = addr[:i]
	}
	_, tags, ok := strings.Cut(local, "+")
	if !ok {
		return nil
	}
	var out []string
	for t := range strings.SplitSeq(tags, "+") {
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

// canonicalTags normalises tags and replaces each with the spelling
// already stored for its key, if any.
func canonicalTags(ctx context.Context, tx *sql.Tx, tags []string) ([]string, error) {
	tags = normalizeTags(tags)
	for i, t := range tags {
		var stored string
		err := tx.QueryRowContext(ctx, `SELECT tag FROM message_tags WHERE key = ? LIMIT 1`, tagKey(t)).Scan(&stored)
		switch {
		case err == nil:
			tags[i] = stored
		case !errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("look up tag: %w", err)
		}
	}
	return tags, nil
}

// insertTagRows adds the message_tags rows of message seq.
func insertTagRows(ctx context.Context, tx *sql.Tx, seq int64, tags []string) error {
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO message_tags (key, seq, tag) VALUES (?, ?, ?)`, tagKey(t), seq, t); err != nil {
			return fmt.Errorf("insert tag: %w", err)
		}
	}
	return nil
}

// refreshTagsJSON rewrites messages.tags from message_tags for the
// messages whose seq is in the JSON array seqs.
func refreshTagsJSON(ctx context.Context, tx *sql.Tx, seqs string) error {
	_, err := tx.ExecContext(ctx, `UPDATE messages SET tags =
		(SELECT json_group_array(tag ORDER BY key) FROM message_tags WHERE seq = messages.seq)
		WHERE seq IN (SELECT value FROM json_each(?))`, seqs)
	if err != nil {
		return fmt.Errorf("update tags column: %w", err)
	}
	return nil
}

// tagCountsSQL lists every tag in use with its number of messages, kept
// by triggers in tag_counts (migrations/0003_counts.sql).
const tagCountsSQL = `SELECT tag, n FROM tag_counts`

// tagsSQL lists the tags in use in the order of Tags.
const tagsSQL = `SELECT tag FROM tag_counts ORDER BY key`

// tagCounts adds every tag in use with its number of messages to counts.
func tagCounts(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, counts map[string]int) error {
	rows, err := q.QueryContext(ctx, tagCountsSQL)
	if err != nil {
		return fmt.Errorf("tag counts: %w", err)
	}
	defer rows.Close() //nolint:errcheck // read path; rows.Err is checked
	for rows.Next() {
		var tag string
		var n int
		if err := rows.Scan(&tag, &n); err != nil {
			return fmt.Errorf("tag counts: %w", err)
		}
		counts[tag] = n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("tag counts: %w", err)
	}
	return nil
}

// Tags returns the tags in use, sorted case-insensitively. The result is
// never nil.
func (db *DB) Tags(ctx context.Context) ([]string, error) {
	rows, err := db.reader.QueryContext(ctx, tagsSQL)
	if err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	defer rows.Close() //nolint:errcheck // read path; rows.Err is checked
	out := []string{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("tags: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	return out, nil
}

// SetTags replaces the tags of the messages ids (unknown ids are ignored)
// with tags, cleaned and deduplicated as described in tags.go; nil or
// empty tags clears them. A tag that is already in use keeps its stored
// spelling. It sends an "update" event with the IDs as given and the Tags
// as stored.
func (db *DB) SetTags(ctx context.Context, ids []string, tags []string) error {
	if len(ids) == 0 {
		return nil
	}
	ids = slices.Clone(ids) // the event must not share the caller's array
	err := db.update(ctx, func(ctx context.Context, tx *sql.Tx) ([]Event, error) {
		canon, err := canonicalTags(ctx, tx, tags)
		if err != nil {
			return nil, err
		}
		js := jsonCols{}
		idList, tagsJSON := jsonIDs(ids), js.marshal(canon)
		if js.err != nil {
			return nil, js.err
		}
		const inIDs = `SELECT seq FROM messages WHERE id IN (SELECT value FROM json_each(?))`
		if _, err := tx.ExecContext(ctx, `DELETE FROM message_tags WHERE seq IN (`+inIDs+`)`, idList); err != nil {
			return nil, fmt.Errorf("clear tags: %w", err)
		}
		for _, t := range canon {
			if _, err := tx.ExecContext(ctx, `INSERT INTO message_tags (key, seq, tag)
				SELECT ?, seq, ? FROM messages WHERE id IN (SELECT value FROM json_each(?))`,
				tagKey(t), t, idList); err != nil {
				return nil, fmt.Errorf("insert tag: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET tags = ?
			WHERE id IN (SELECT value FROM json_each(?))`, tagsJSON, idList); err != nil {
			return nil, fmt.Errorf("update tags column: %w", err)
		}
		return []Event{{Type: "update", Data: map[string]any{"IDs": ids, "Tags": slices.Clone(canon)}}}, nil
	})
	if err != nil {
		return fmt.Errorf("set tags: %w", err)
	}
	return nil
}

// RenameTag renames the tag from (case-insensitive) to to on every
// message that has it; messages that already have to keep one copy
// (merge), and every message with to gets its new spelling. It returns
// ErrNotFound when no message has from, and an error when to cleans to
// nothing. An "update" event lists the IDs of the messages changed.
func (db *DB) RenameTag(ctx context.Context, from, to string) error {
	fromKey := tagKey(cleanTag(from))
	to = cleanTag(to)
	if to == "" {
		return fmt.Errorf("rename tag %q: empty new name", from)
	}
	toKey := tagKey(to)
	err := db.update(ctx, func(ctx context.Context, tx *sql.Tx) ([]Event, error) {
		seqs, ids, err := taggedMessages(ctx, tx, `key = ?`, fromKey)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("tag %q: %w", from, ErrNotFound)
		}
		if toKey != fromKey {
			// The messages that have both tags keep the target row only.
			if _, err := tx.ExecContext(ctx, `DELETE FROM message_tags WHERE key = ?
				AND seq IN (SELECT seq FROM message_tags WHERE key = ?)`, fromKey, toKey); err != nil {
				return nil, fmt.Errorf("merge tag: %w", err)
			}
			// The target's other messages change spelling too.
			toSeqs, toIDs, err := taggedMessages(ctx, tx, `key = ?`, toKey)
			if err != nil {
				return nil, err
			}
			seqs, ids = mergeSeqIDs(seqs, ids, toSeqs, toIDs)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE message_tags SET key = ?, tag = ? WHERE key IN (?, ?)`,
			toKey, to, fromKey, toKey); err != nil {
			return nil, fmt.Errorf("rename tag: %w", err)
		}
		if err := refreshTagsJSON(ctx, tx, jsonSeqs(seqs)); err != nil {
			return nil, err
		}
		return []Event{{Type: "update", Data: map[string]any{"IDs": ids}}}, nil
	})
	if err != nil {
		return fmt.Errorf("rename tag: %w", err)
	}
	return nil
}

// DeleteTag removes the tag (case-insensitive) from every message; the
// messages are kept. An "update" event lists the IDs of the messages
// changed; an unknown tag changes nothing and sends no event.
func (db *DB) DeleteTag(ctx context.Context, tag string) error {
	key := tagKey(cleanTag(tag))
	err := db.update(ctx, func(ctx context.Context, tx *sql.Tx) ([]Event, error) {
		seqs, ids, err := taggedMessages(ctx, tx, `key = ?`, key)
		if err != nil || len(ids) == 0 {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM message_tags WHERE key = ?`, key); err != nil {
			return nil, fmt.Errorf("delete tag rows: %w", err)
		}
		if err := refreshTagsJSON(ctx, tx, jsonSeqs(seqs)); err != nil {
			return nil, err
		}
		return []Event{{Type: "update", Data: map[string]any{"IDs": ids}}}, nil
	})
	if err != nil {
		return fmt.Errorf("delete tag: %w", err)
	}
	return nil
}

// taggedMessages returns the seqs and ids of the messages with a
// message_tags row matching cond, oldest first.
func taggedMessages(ctx context.Context, tx *sql.Tx, cond string, args ...any) ([]int64, []string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, id FROM messages
		WHERE seq IN (SELECT seq FROM message_tags WHERE `+cond+`) ORDER BY seq`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("tagged messages: %w", err)
	}
	defer rows.Close() //nolint:errcheck // rows.Err is checked
	var seqs []int64
	ids := []string{}
	for rows.Next() {
		var seq int64
		var id string
		if err := rows.Scan(&seq, &id); err != nil {
			return nil, nil, fmt.Errorf("tagged messages: %w", err)
		}
		seqs, ids = append(seqs, seq), append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("tagged messages: %w", err)
	}
	return seqs, ids, nil
}

// mergeSeqIDs merges two seq-ordered lists of (seq, id) without duplicates.
func mergeSeqIDs(seqs []int64, ids []string, seqs2 []int64, ids2 []string) ([]int64, []string) {
	type pair struct {
		seq int64
		id  string
	}
	all := map[int64]string{}
	for i, s := range seqs {
		all[s] = ids[i]
	}
	for i, s := range seqs2 {
		all[s] = ids2[i]
	}
	ps := make([]pair, 0, len(all))
	for s, id := range all {
		ps = append(ps, pair{s, id})
	}
	slices.SortFunc(ps, func(a, b pair) int { return cmp.Compare(a.seq, b.seq) })
	outSeqs, outIDs := make([]int64, len(ps)), make([]string, len(ps))
	for i, p := range ps {
		outSeqs[i], outIDs[i] = p.seq, p.id
	}
	return outSeqs, outIDs
}

// jsonSeqs encodes seqs as a JSON array for json_each(?).
func jsonSeqs(seqs []int64) string {
	js := jsonCols{}
	return js.marshal(nonNil(seqs)) // an []int64 always encodes
}
