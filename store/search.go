package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Search syntax
//
// Find takes Mailpit's search syntax plus inbox:. A query is a list of
// terms separated by white space; a message matches when it matches every
// term (AND). An empty query (or one with no term left, see below)
// matches every message. A term is one of:
//
//	word          a word of the subject, of an address (display name or
//	              email, any address field, the envelope sender too), of
//	              the text body or of the text of the HTML body; the word
//	              matches as a prefix ("inv" finds "invoice"); case and
//	              diacritics are ignored ("koln" finds "Köln")
//	"a phrase"    those words in sequence in one of the fields above;
//	              inside quotes \" is a quote and \\ a backslash
//	from:V  to:V  cc:V  bcc:V  reply-to:V
//	              V in that address field (names and emails); bcc: also
//	              sees envelope recipients that are in no header
//	addressed:V   V in From, To, Cc, Bcc or Reply-To
//	subject:V     V in the subject
//	message-id:V  V in the Message-ID (angle brackets optional)
//	tag:V         tagged V: the whole tag, case-insensitive
//	inbox:V       in inbox V (normalised like inbox names, see inbox.go);
//	              inbox:"" is the default inbox
//	is:read  is:unread  is:tagged (has at least one tag)
//	has:attachment  has:inline (an inline part: cid image …); the
//	              plurals has:attachments and has:inlines work too
//	larger:N  smaller:N
//	              raw size above / below N bytes; N is a number (a
//	              fraction is allowed) with an optional unit B, K, KB, M
//	              or MB, any case; 1 K = 1024 B
//	before:D  after:D
//	              D a day (YYYY-MM-DD or YYYY/MM/DD): received before the
//	              start of that day / after the end of that day ("after
//	              1 April" is 2 April or later); D a time (RFC 3339, or
//	              YYYY-MM-DDTHH:MM[:SS] and YYYY-MM-DD HH:MM[:SS] quoted):
//	              received before / after that instant. Days and times
//	              without a zone are in Filter.TZ (default UTC). (This
//	              follows Mailpit's documentation; Mailpit's code compares
//	              after: with the start of the day.)
//
// V is a word or a "quoted value" (which may contain spaces). A bare word
// or value ends at white space or a double quote. Filter names are
// case-insensitive. The address, subject and Message-ID filters
// match like phrases: the words of V in sequence in that field, the last
// one as a prefix, so from:bob, from:bob@example, from:example.com and
// from:"Bob Smith" all find "Bob Smith <bob@example.com>". (CJK text
// without spaces is one word to the tokenizer: subject:日本語 finds
// "日本語の件名" by prefix, not a word in its middle.)
//
// Any term is negated by a leading "-" or "!": -is:read, !from:bob,
// -"some phrase", -word.
//
// A word with a colon whose part before the first colon is not one of the
// filter names above (http://x.test, re:, 10:30, frmo:bob) is a free word.
// Words, phrases and values of the address, subject and Message-ID
// filters that contain no letter or digit are ignored, as FTS5's tokenizer
// would see nothing in them (a lone "-" or "!" is such a word; from:*
// matches every message). An unterminated quote runs to the end of the query.
// Only these are errors (a *QueryError whose Pos is the byte offset just
// after the filter's colon): an empty filter value (from: or from:""
// except inbox:""), an is: or has: value not listed above, a bad size
// and a bad date.
//
// User input never becomes SQL or FTS5 syntax: values are bound as
// parameters and every FTS5 phrase is a quoted string, so FTS5 operators
// (AND, OR, NOT, NEAR, *, ^, :, parentheses) are plain text.

// ErrBadQuery is wrapped by every error about a query that does not parse.
var ErrBadQuery = errors.New("store: bad search query")

// QueryError is returned (wrapped so errors.Is(err, ErrBadQuery) holds)
// for a query that does not parse.
type QueryError struct {
	Pos int    // byte offset in the query
	Msg string // what is wrong
}

// Error returns e.g. `bad search query at 5: empty value for "from:"`.
func (e *QueryError) Error() string {
	return fmt.Sprintf("bad search query at %d: %s", e.Pos, e.Msg)
}

// Unwrap returns ErrBadQuery.
func (e *QueryError) Unwrap() error { return ErrBadQuery }

// Filter selects messages. Query uses Mailpit's search syntax (see the
// "Search syntax" comment in search.go) plus inbox:NAME.
type Filter struct {
	Query    string         // "" = all messages
	AfterSeq int64          // only messages with Seq > AfterSeq (the cursor); 0 = no bound
	Start    int            // offset into the matches, newest first
	Limit    int            // <= 0: all matches
	TZ       *time.Location // zone for before:/after: dates; nil = UTC
}

// Page is one page of matches.
type Page struct {
	Messages []Summary // newest first, never nil
	Total    int       // all matches (ignores Start/Limit)
	Unread   int       // unread among all matches
	// Cursor is the highest Seq in the whole store when the query ran (0
	// when empty): pass it as AfterSeq later to see only newer mail.
	Cursor int64
}

// Find returns the page of messages matching f, newest first (by Seq, the
// order of arrival), with the match counts and the store's cursor, all
// from one consistent snapshot.
// A query that does not parse is an error wrapping a *QueryError.
func (db *DB) Find(ctx context.Context, f Filter) (Page, error) {
	w, err := filterWhere(f)
	if err != nil {
		return Page{}, fmt.Errorf("find: %w", err)
	}
	tx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Page{}, fmt.Errorf("find: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only

	p := Page{Messages: []Summary{}}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM messages`).Scan(&p.Cursor); err != nil {
		return Page{}, fmt.Errorf("find cursor: %w", err)
	}
	query, args, counted := pageQuery(w, f.Start, f.Limit)
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return Page{}, fmt.Errorf("find: %w", err)
	}
	defer rows.Close() //nolint:errcheck // read path; rows.Err is checked
	var counts []any
	if counted {
		counts = []any{&p.Total, &p.Unread}
	}
	for rows.Next() {
		var s Summary
		if err := scanSummary(rows, &s, counts...); err != nil {
			return Page{}, fmt.Errorf("find: %w", err)
		}
		p.Messages = append(p.Messages, s)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return Page{}, fmt.Errorf("find: %w", err)
	}
	if !counted || len(p.Messages) == 0 {
		query, args := countQuery(w)
		if err := tx.QueryRowContext(ctx, query, args...).Scan(&p.Total, &p.Unread); err != nil {
			return Page{}, fmt.Errorf("find count: %w", err)
		}
	}
	return p, nil
}

// countQuery is the statement that counts the matches of w and the
// unread ones. It reads as little as w allows (see countPlan):
//
//   - inbox and read state only (a plain list, inbox:X, is:unread …): the
//     counts kept in inbox_counts (migrations/0003_counts.sql), a few rows
//     whatever the number of messages;
//   - one set of messages (a full-text match, a tag), perhaps with a read
//     state: see setCounts;
//   - anything else: count(*) of the matching rows, each count one the
//     planner can answer from an index where there is one.
func countQuery(w where) (string, []any) {
	c := w.count
	switch {
	case !c.other && c.set == "":
		total, unread := "sum(total)", "sum(unread)"
		switch c.read {
		case readOnly:
			total, unread = "sum(total - unread)", "0"
		case unreadOnly:
			total = "sum(unread)"
		}
		q := `SELECT coalesce(` + total + `, 0), coalesce(` + unread + `, 0) FROM inbox_counts`
		if c.inbox != nil {
			return q + ` WHERE inbox = ?`, []any{*c.inbox}
		}
		return q, nil
	case c.isSet():
		with, args := setCounts(c)
		return with + ` SELECT total, unread FROM c`, args
	}
	unread := w.and("read = 0")
	return `SELECT (SELECT count(*) FROM messages` + w.sql() + `),
		(SELECT count(*) FROM messages` + unread.sql() + `)`,
		append(append([]any{}, w.args...), unread.args...)
}

// How many matches of a set plan setCounts keeps in its table m (see
// countPlan.keep). A set that fits is read once; a larger one is read
// again to count it, which is cheaper than keeping it whole when reading
// costs little per match. Measured at 100,000 messages (issue 6):
// keeping a match costs about 0.2 µs and counting its read state there
// 0.3 µs more. Reading one word costs about 0.05 µs a match (plus about
// 3 ms for a prefix with a long doclist), a tag less: keepCheap keeps the
// small sets whole and adds under 0.5 ms to the large ones (Find of a
// word in 69 % of the messages takes about 22 ms instead of 50). Reading
// a phrase, an address (bob@example.com is the phrase "bob example com")
// or several words costs as much as reading all their words, whatever
// the matches: 10 ms and more when one of them, such as "example", is in
// every message, so keepDear keeps those sets whole up to a larger size.
const (
	keepCheap = 2000
	keepDear  = 20000
)

// keep returns how many matches of its set setCounts keeps in m.
func (c countPlan) keep() int {
	if c.dear {
		return keepDear
	}
	return keepCheap
}

// setCounts returns a WITH clause whose table c(total, unread) is the
// counts of the set plan c, and its arguments. It also defines, for
// pageQuery, m: the seqs of the first c.keep()+1 matches in seq order,
// and matched(n): the number of matches. m is in descending order (the
// newest matches, which hold the first pages), but ascending for a dear
// set: such a set is seldom larger than m, and FTS5 reads a phrase about
// 15 % slower backwards. Either way the planner knows the order: reading
// m newest first sorts nothing.
//
// The set is read once into m. When it has more than c.keep() matches it
// is not kept whole: it is counted where it is made (count(*) of FTS5
// rows is a walk of a doclist), and the matches in a read state are
// counted by setInState, which reads only the partial index of that
// state, never the table.
func setCounts(c countPlan) (string, []any) {
	var args []any
	set := func() string { // each use of the set's text needs its args
		args = append(args, c.setArgs...)
		return c.set
	}
	keep := strconv.Itoa(c.keep())
	order := "DESC"
	if c.dear {
		order = "ASC"
	}
	with := `WITH m(seq) AS MATERIALIZED (SELECT seq FROM (` + set() + `) ORDER BY seq ` + order + ` LIMIT ` + keep + ` + 1),
		matched(n) AS MATERIALIZED (SELECT CASE WHEN count(*) <= ` + keep + ` THEN count(*)
			ELSE (SELECT count(*) FROM (` + set() + `)) END FROM m),
		sizes(unread, read) AS MATERIALIZED (SELECT coalesce(sum(unread), 0),
			coalesce(sum(total - unread), 0) FROM inbox_counts),`
	// The matches in a read state are counted in the smaller state (its
	// merge is the shorter): the rest are in the other, as read is 0 or
	// 1 (Go writes a bool).
	in := func(r readState) string {
		other := readOnly
		if r == readOnly {
			other = unreadOnly
		}
		_, _, size := stateIndex(r)
		_, _, otherSize := stateIndex(other)
		return `CASE WHEN ` + size + ` <= ` + otherSize + ` THEN ` + setInState(c, r, set) +
			` ELSE matched.n - ` + setInState(c, other, set) + ` END`
	}
	var total, unread string
	switch c.read {
	case readOnly:
		total, unread = in(readOnly), "0"
	case unreadOnly:
		total, unread = in(unreadOnly), "t.total"
	default:
		total, unread = "matched.n", in(unreadOnly)
	}
	// t and c are materialized so that each count is computed once: unread
	// may use total, and pageQuery reads c twice (a flattened table would
	// copy its subqueries).
	with += ` t(total) AS MATERIALIZED (SELECT ` + total + ` FROM matched, sizes),
		c(total, unread) AS MATERIALIZED (SELECT t.total, ` + unread + ` FROM t, matched, sizes)`
	return with, args
}

// setInState returns the expression that counts the matches of the set
// plan c (set returns its text) in read state r. It refers to the tables
// m, matched and sizes of setCounts. Each way reads the partial index of
// the state, not the table:
//
//   - the set is all in m: each seq of m is looked up in the index;
//   - probe: each seq of the set, read again, is looked up in the index,
//     about 0.3 µs a seq;
//   - merge: the set, read again, and the index, both in seq order, are
//     intersected by a merge (INTERSECT with ORDER BY), about 0.05 µs a
//     row of either side; newest first it ends at the oldest message in
//     the state, early when that is recent mail.
//
// The merge is the cheaper once the set is a third of the state's size
// or more (measured at 100,000 messages); the kept counts give that size.
// (So the merge is shortest in the smaller state, which setCounts picks.)
// The sizes only choose the way: the count is exact whatever they are.
func setInState(c countPlan, r readState, set func() string) string {
	index, cond, size := stateIndex(r)
	keep := strconv.Itoa(c.keep())
	return `CASE WHEN ` + size + ` = 0 THEN 0
		WHEN matched.n <= ` + keep + ` THEN (SELECT count(*) FROM m
			CROSS JOIN messages AS u INDEXED BY ` + index + ` ON u.seq = m.seq AND u.` + cond + `)
		WHEN matched.n * 3 < ` + size + ` THEN (SELECT count(*) FROM (` + set() + `) AS s
			CROSS JOIN messages AS u INDEXED BY ` + index + ` ON u.seq = s.seq AND u.` + cond + `)
		ELSE (SELECT count(*) FROM (` + set() + ` INTERSECT SELECT seq FROM messages WHERE ` + cond + `
			ORDER BY 1 DESC)) END`
}

// stateIndex returns the partial index of the messages in read state r
// (readOnly or unreadOnly), its condition, and the column of the table
// sizes of setCounts that is their number.
func stateIndex(r readState) (index, cond, size string) {
	if r == readOnly {
		return "messages_read", "read = 1", "sizes.read"
	}
	return "messages_unread", "read = 0", "sizes.unread"
}

// pageQuery is the statement that selects one page of the matches of w.
//
// For a set plan (a full-text match or a tag, perhaps with a read state)
// each row also carries the two counts of setCounts (counted is true), and
// the page is read from its table m when m holds it: when the set is all
// in m, or, m holding the newest matches (the set is not dear), when m
// has at least start+limit matches in the read state, as it holds every
// match newer than its oldest.
// Otherwise the set is read again newest first, as far as the page: FTS5
// walks its doclist backwards (it takes ORDER BY rowid DESC) and the
// tags' primary key is (key, seq). A read state is looked up in its
// partial index on the way.
func pageQuery(w where, start, limit int) (query string, args []any, counted bool) {
	start, limit = page(start, limit)
	c := w.count
	if !c.isSet() {
		return `SELECT ` + summaryCols + ` FROM messages` + w.sql() + ` ORDER BY seq DESC LIMIT ? OFFSET ?`,
			append(append([]any{}, w.args...), limit, start), false
	}
	inState := func(t string) string { // joins the table t to the read state
		if c.read == anyRead {
			return ""
		}
		index, cond, _ := stateIndex(c.read)
		return ` CROSS JOIN messages AS u INDEXED BY ` + index + ` ON u.seq = ` + t + `.seq AND u.` + cond
	}
	with, args := setCounts(c)
	// inm tells whether m holds the page; LIMIT 0 reads nothing of the
	// way not taken. (m has at most keep()+1 rows.)
	inm := `matched.n <= ` + strconv.Itoa(c.keep())
	if n := c.keep() + 1; !c.dear && limit > 0 && limit <= n && start <= n-limit {
		inm += ` OR (SELECT count(*) FROM (SELECT 1 FROM m` + inState("m") + ` LIMIT ?)) >= ?`
		args = append(args, start+limit, start+limit)
	}
	with += `, pg(inm) AS MATERIALIZED (SELECT ` + inm + ` FROM matched)`
	seqs := `SELECT seq FROM (SELECT m.seq FROM m` + inState("m") + ` ORDER BY m.seq DESC
			LIMIT (SELECT CASE WHEN inm THEN ? ELSE 0 END FROM pg) OFFSET ?)
		UNION ALL
		SELECT seq FROM (SELECT s.seq FROM (` + c.set + `) AS s` + inState("s") + ` ORDER BY s.seq DESC
			LIMIT (SELECT CASE WHEN inm THEN 0 ELSE ? END FROM pg) OFFSET ?)`
	args = append(args, limit, start)
	args = append(args, c.setArgs...)
	args = append(args, limit, start)
	return with + ` SELECT ` + summaryCols + `, (SELECT total FROM c), (SELECT unread FROM c)
		FROM messages WHERE seq IN (` + seqs + `) ORDER BY seq DESC`, args, true
}

// FindIDs returns the IDs of all messages matching f.Query and f.AfterSeq,
// newest first (Start and Limit are ignored), e.g. to mark read or delete
// by search. The result is never nil.
func (db *DB) FindIDs(ctx context.Context, f Filter) ([]string, error) {
	w, err := filterWhere(f)
	if err != nil {
		return nil, fmt.Errorf("find ids: %w", err)
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT id FROM messages`+w.sql()+` ORDER BY seq DESC`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("find ids: %w", err)
	}
	defer rows.Close() //nolint:errcheck // read path; rows.Err is checked
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find ids: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find ids: %w", err)
	}
	return ids, nil
}

// Search returns the page [start, start+limit) (limit <= 0: all) of the
// messages matching query, newest first, and the total number of matches.
// It is Find without the extras; see there for the query syntax and
// errors.
func (db *DB) Search(ctx context.Context, query string, start, limit int) ([]Summary, int, error) {
	p, err := db.Find(ctx, Filter{Query: query, Start: start, Limit: limit})
	if err != nil {
		return nil, 0, err
	}
	return p.Messages, p.Total, nil
}

// where is a conjunction of SQL conditions over messages with their
// arguments. Conditions are fixed SQL text; user input is only in args.
type where struct {
	conds []string
	args  []any
	count countPlan // how countQuery may count the matches
}

// countPlan describes the conditions of a where in the terms countQuery
// can count without visiting every match: an inbox, a read state and one
// set of seqs. other is set by any condition it cannot describe (and by
// a second inbox, read state or set: rare, and the general count is right).
type countPlan struct {
	other bool
	inbox *string   // inbox = ?
	read  readState // read = 1 / read = 0
	// set is a subquery of distinct seqs, all of messages; the condition
	// is seq IN (set). Its column is named seq, and it can produce its
	// rows in seq order, either way, without sorting (setCounts and
	// pageQuery merge it and read it newest first).
	set     string
	setArgs []any
	// dear is set when reading the set costs more than its matches (see
	// keepDear).
	dear bool
}

// readState is a read condition of a countPlan.
type readState int

const (
	anyRead readState = iota
	readOnly
	unreadOnly
)

// add folds the condition of t (already added to the where) into c.
func (c *countPlan) add(t term) {
	switch {
	case t.read != anyRead:
		r := t.read
		if t.neg && r == readOnly {
			r = unreadOnly
		} else if t.neg {
			r = readOnly
		}
		if c.read != anyRead && c.read != r {
			c.other = true
		}
		c.read = r
	case t.inbox != nil && !t.neg && c.inbox == nil:
		c.inbox = t.inbox
	case t.set != "" && !t.neg:
		c.addSet(t.set, t.args, false)
	default:
		c.other = true
	}
}

// isSet reports whether c is one set, perhaps with a read state.
func (c countPlan) isSet() bool {
	return !c.other && c.inbox == nil && c.set != ""
}

// addSet adds the condition seq IN (set), dear to read or not.
func (c *countPlan) addSet(set string, args []any, dear bool) {
	if c.set != "" {
		c.other = true
		return
	}
	c.set, c.setArgs, c.dear = set, args, dear
}

// and returns w with one more condition (not described in w.count).
func (w where) and(cond string, args ...any) where {
	return where{
		conds: append(w.conds[:len(w.conds):len(w.conds)], cond),
		args:  append(w.args[:len(w.args):len(w.args)], args...),
		count: w.count,
	}
}

// sql returns " WHERE …" or "" when there is no condition.
func (w where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// filterWhere parses f.Query and builds the conditions of f: the SQL
// terms as they are, all positive FTS terms in one MATCH, all negated FTS
// terms in one NOT IN (a message is out when it matches any of them).
func filterWhere(f Filter) (where, error) {
	loc := f.TZ
	if loc == nil {
		loc = time.UTC
	}
	terms, err := parseQuery(f.Query, loc)
	if err != nil {
		return where{}, err
	}
	w := where{}
	if f.AfterSeq > 0 {
		w = w.and("seq > ?", f.AfterSeq)
		w.count.other = true
	}
	var pos, neg []string
	dear := false
	for _, t := range terms {
		switch {
		case t.fts != "" && t.neg:
			neg = append(neg, "("+t.fts+")")
		case t.fts != "":
			pos = append(pos, "("+t.fts+")")
			dear = dear || t.dear || len(pos) > 1
		case t.neg && t.negCond != "":
			w = w.and(t.negCond, t.args...)
		case t.neg:
			w = w.and("NOT ("+t.cond+")", t.args...)
		default:
			w = w.and(t.cond, t.args...)
		}
		if t.fts == "" {
			w.count.add(t)
		}
	}
	// The seqs are named seq and come in seq order (see countPlan.set).
	const fts = `SELECT rowid AS seq FROM messages_fts WHERE messages_fts MATCH ?`
	if len(pos) > 0 {
		match := strings.Join(pos, " AND ")
		w = w.and("seq IN ("+fts+")", match)
		w.count.addSet(fts, []any{match}, dear)
	}
	if len(neg) > 0 {
		w = w.and("seq NOT IN ("+fts+")", strings.Join(neg, " OR "))
		w.count.other = true
	}
	return w, nil
}

// term is one parsed search term: either an FTS5 expression or an SQL
// condition over messages.
type term struct {
	neg     bool
	fts     string // FTS5 expression (column filter + quoted phrase); "" for an SQL term
	dear    bool   // fts is a phrase of more than one token (see keepDear)
	cond    string // SQL condition (fixed text)
	negCond string // the negation of cond when simpler than NOT (cond)
	args    []any  // arguments of cond / negCond

	// What cond is, for countPlan: read = 1 / read = 0, inbox = *inbox,
	// or seq IN (set) with args.
	read  readState
	inbox *string
	set   string
}

// tagSet is the seqs of the messages tagged with the key given as its
// argument, from the primary key of message_tags.
const tagSet = `SELECT seq FROM message_tags WHERE key = ?`

// FTS5 column sets (see migrations/0002_search.sql).
const (
	ftsFreeCols      = "{subject from_addr to_addr cc_addr bcc_addr reply_to return_path text html}"
	ftsAddressedCols = "{from_addr to_addr cc_addr bcc_addr reply_to}"
)

// isFilter reports whether name (lower case) is a filter name.
func isFilter(name string) bool {
	switch name {
	case "from", "to", "cc", "bcc", "reply-to", "addressed", "subject", "message-id",
		"tag", "inbox", "is", "has", "larger", "smaller", "before", "after":
		return true
	}
	return false
}

// parseQuery splits q into terms (see "Search syntax"). Terms that would
// match on nothing searchable are left out.
func parseQuery(q string, loc *time.Location) ([]term, error) {
	var out []term
	i := 0
	for i < len(q) {
		r, n := utf8.DecodeRuneInString(q[i:])
		if unicode.IsSpace(r) {
			i += n
			continue
		}
		neg := false
		if (q[i] == '-' || q[i] == '!') && i+1 < len(q) {
			if r, _ := utf8.DecodeRuneInString(q[i+1:]); !unicode.IsSpace(r) {
				neg = true
				i++
			}
		}
		if q[i] == '"' {
			var phrase string
			phrase, i = readQuoted(q, i)
			if p, ok := ftsPhrase(phrase, false); ok {
				out = append(out, term{neg: neg, fts: ftsFreeCols + " : " + p, dear: !oneToken(phrase)})
			}
			continue
		}
		end := wordEnd(q, i)
		word := q[i:end]
		name, value, colon := strings.Cut(word, ":")
		name = strings.ToLower(name)
		if !colon || !isFilter(name) {
			if p, ok := ftsPhrase(word, true); ok {
				out = append(out, term{neg: neg, fts: ftsFreeCols + " : " + p, dear: !oneToken(word)})
			}
			i = end
			continue
		}
		valPos := i + len(name) + 1
		quoted := false
		if value == "" && end < len(q) && q[end] == '"' {
			value, end = readQuoted(q, end)
			quoted = true
		}
		i = end
		t, ok, err := filterTerm(name, value, quoted, valPos, loc)
		if err != nil {
			return nil, err
		}
		if ok {
			t.neg = neg
			out = append(out, t)
		}
	}
	return out, nil
}

// wordEnd returns the end of the bare word at q[i:]: the next white space
// or quote, or len(q).
func wordEnd(q string, i int) int {
	if j := strings.IndexFunc(q[i:], func(r rune) bool { return unicode.IsSpace(r) || r == '"' }); j >= 0 {
		return i + j
	}
	return len(q)
}

// readQuoted reads the quoted string starting at q[i] == '"' and returns
// its value (\" and \\ unescaped) and the offset after the closing quote
// (len(q) when it is missing).
func readQuoted(q string, i int) (string, int) {
	var b strings.Builder
	for j := i + 1; j < len(q); j++ {
		switch c := q[j]; {
		case c == '"':
			return b.String(), j + 1
		case c == '\\' && j+1 < len(q) && (q[j+1] == '"' || q[j+1] == '\\'):
			b.WriteByte(q[j+1])
			j++
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), len(q)
}

// filterTerm builds the term of filter name with value v, which starts at
// byte pos of the query. ok is false for a value that matches on nothing
// searchable (no letter or digit).
func filterTerm(name, v string, quoted bool, pos int, loc *time.Location) (t term, ok bool, err error) {
	bad := func(format string, args ...any) (term, bool, error) {
		return term{}, false, &QueryError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
	}
	if v == "" && !(name == "inbox" && quoted) {
		return bad("empty value for %q", name+":")
	}
	fts := func(cols, v string) (term, bool, error) {
		p, ok := ftsPhrase(v, true)
		return term{fts: cols + " : " + p, dear: !oneToken(v)}, ok, nil
	}
	switch name {
	case "from":
		return fts("from_addr", v)
	case "to":
		return fts("to_addr", v)
	case "cc":
		return fts("cc_addr", v)
	case "bcc":
		return fts("bcc_addr", v)
	case "reply-to":
		return fts("reply_to", v)
	case "addressed":
		return fts(ftsAddressedCols, v)
	case "subject":
		return fts("subject", v)
	case "message-id":
		return fts("message_id", strings.Trim(strings.TrimSpace(v), "<>"))
	case "tag":
		return term{cond: "seq IN (" + tagSet + ")", set: tagSet, args: []any{tagKey(cleanTag(v))}}, true, nil
	case "inbox":
		name := normalizeInbox(v)
		return term{cond: "inbox = ?", inbox: &name, args: []any{name}}, true, nil
	case "is":
		switch strings.ToLower(v) {
		case "read":
			return term{cond: "read = 1", negCond: "read = 0", read: readOnly}, true, nil
		case "unread":
			return term{cond: "read = 0", negCond: "read = 1", read: unreadOnly}, true, nil
		case "tagged":
			return term{cond: "seq IN (SELECT seq FROM message_tags)"}, true, nil
		}
		return bad("bad value %q for \"is:\" (want read, unread or tagged)", v)
	case "has":
		switch strings.ToLower(v) {
		case "attachment", "attachments":
			return term{cond: "attachments > 0"}, true, nil
		case "inline", "inlines":
			return term{cond: "inlines > 0"}, true, nil
		}
		return bad("bad value %q for \"has:\" (want attachment or inline)", v)
	case "larger", "smaller":
		n, ok := parseSize(v)
		if !ok {
			return bad("bad size %q for %q (want a number with an optional unit B, K, KB, M or MB)", v, name+":")
		}
		if name == "larger" {
			return term{cond: "size > ?", args: []any{n}}, true, nil
		}
		return term{cond: "size < ?", args: []any{n}}, true, nil
	case "before", "after":
		bound, ok := parseDateBound(v, loc, name == "after")
		if !ok {
			return bad("bad date %q for %q (want YYYY-MM-DD or an RFC 3339 time)", v, name+":")
		}
		if name == "before" {
			return term{cond: "created < ?", args: []any{bound.UnixNano()}}, true, nil
		}
		return term{cond: "created > ?", args: []any{bound.UnixNano()}}, true, nil
	}
	return bad("unknown filter %q", name+":") // unreachable: isFilter lists the names above
}

// ftsPhrase quotes v as an FTS5 phrase (with prefix, the last token
// matches as a prefix). ok is false when v has no token characters: FTS5
// would see an empty phrase.
func ftsPhrase(v string, prefix bool) (string, bool) {
	if !strings.ContainsFunc(v, isTokenRune) {
		return "", false
	}
	// FTS5 reads a NUL as the end of the query: make it a separator.
	v = strings.ReplaceAll(v, "\x00", " ")
	p := `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
	if prefix {
		p += "*"
	}
	return p, true
}

// oneToken reports whether FTS5's tokenizer sees v as one token (at most:
// v may have none).
func oneToken(v string) bool {
	return !strings.ContainsFunc(v, func(r rune) bool { return !isTokenRune(r) })
}

// isTokenRune reports whether FTS5's unicode61 tokenizer keeps r in a token.
func isTokenRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r)
}

// parseSize parses a size such as 100, 1.5K, 2mb or "10 KB" into bytes
// (1 K = 1024 B).
func parseSize(v string) (int64, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	// Digits with at most one dot: no sign, exponent, hex, Inf or NaN.
	digits, dots := 0, 0
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return 0, false
		}
	}
	if digits == 0 || dots > 1 {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f*mult > 1<<53 {
		return 0, false
	}
	return int64(f * mult), true
}

// parseDateBound returns the instant that before: (after false) or
// after: (after true) compares the receive time with: for a day, its
// start (before:) or the start of the next day (after:); for a time,
// that time.
func parseDateBound(v string, loc *time.Location, after bool) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{"2006-01-02", "2006/01/02"} {
		if d, err := time.ParseInLocation(layout, v, loc); err == nil {
			if after {
				// The end of the day: created > last instant of the day is
				// created >= the start of the next one.
				return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc).Add(-time.Nanosecond), true
			}
			return d, true
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
