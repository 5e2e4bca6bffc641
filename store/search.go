package store

import (
	"context"
	"fmt"
	"strings"
	"unicode"
)

// Search returns the page [start, start+limit) (limit <= 0: all) of the
// messages matching query, newest first, and the total number of matches.
//
// The query is a list of words and "quoted phrases", all of which must
// occur (AND) in the subject, the addresses or the text body. A word
// matches as a prefix ("inv" finds "invoice"); a phrase matches its words
// in sequence. User input never reaches FTS5 syntax: each term is quoted,
// so operators (AND, OR, NOT, NEAR, *, -, ^, :) are plain text. Terms with
// no letters or digits are ignored; a query without any term matches all
// messages.
func (db *DB) Search(ctx context.Context, query string, start, limit int) ([]Summary, int, error) {
	match := ftsQuery(query)
	if match == "" {
		st, err := db.Stats(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("search: %w", err)
		}
		list, err := db.List(ctx, start, limit)
		if err != nil {
			return nil, 0, fmt.Errorf("search: %w", err)
		}
		return list, st.Total, nil
	}
	var total int
	err := db.reader.QueryRowContext(ctx,
		`SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?`, match).Scan(&total)
	if err != nil {
		return nil, 0, fmt.Errorf("search count: %w", err)
	}
	start, limit = page(start, limit)
	out, err := db.querySummaries(ctx, `SELECT `+summaryCols+` FROM messages
		WHERE seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)
		ORDER BY seq DESC LIMIT ? OFFSET ?`, match, limit, start)
	if err != nil {
		return nil, 0, fmt.Errorf("search: %w", err)
	}
	return out, total, nil
}

// ftsQuery turns user input into an FTS5 MATCH expression that cannot be
// a syntax error: every word becomes a quoted prefix query "word"*, every
// "quoted phrase" a quoted phrase, joined by spaces (FTS5's implicit AND).
// An unbalanced quote runs to the end of the input. It returns "" when the
// input has no searchable term.
func ftsQuery(q string) string {
	var terms []string
	add := func(term string, prefix bool) {
		if !strings.ContainsFunc(term, isTokenRune) {
			return // FTS5 would see an empty phrase
		}
		quoted := `"` + strings.ReplaceAll(term, `"`, `""`) + `"`
		if prefix {
			quoted += "*"
		}
		terms = append(terms, quoted)
	}
	for q != "" {
		q = strings.TrimLeftFunc(q, unicode.IsSpace)
		if q == "" {
			break
		}
		if q[0] == '"' {
			phrase, rest, _ := strings.Cut(q[1:], `"`)
			add(phrase, false)
			q = rest
			continue
		}
		end := strings.IndexFunc(q, func(r rune) bool { return unicode.IsSpace(r) || r == '"' })
		if end < 0 {
			end = len(q)
		}
		add(q[:end], true)
		q = q[end:]
	}
	return strings.Join(terms, " ")
}

// isTokenRune reports whether FTS5's unicode61 tokenizer keeps r in a token.
func isTokenRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r)
}
