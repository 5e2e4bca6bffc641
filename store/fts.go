package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"golang.org/x/net/html"
)

// insertFTS writes a full-text row (rowid seq; vals from ftsValues). One column
// per searchable field lets the search filters (from:, subject: …) use
// FTS5 column filters; see migrations/0002_search.sql.
func insertFTS(ctx context.Context, tx *sql.Tx, stmts *stmtCache, seq int64, vals []any) error {
	if _, err := stmts.exec(ctx, tx, sqlInsertFTS, append([]any{seq}, vals...)...); err != nil {
		return fmt.Errorf("insert fts: %w", err)
	}
	return nil
}

// sqlInsertFTS writes a full-text row (see insertFTS).
const sqlInsertFTS = `INSERT INTO messages_fts (rowid, subject, from_addr, to_addr,
	cc_addr, bcc_addr, reply_to, return_path, message_id, text, html)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// ftsValues are m's full-text index columns after the rowid, computed
// before the write transaction (htmlText tokenizes the whole body).
func ftsValues(m *Message) []any {
	from := ""
	if m.From != nil {
		from = addressText([]Address{*m.From})
	}
	return []any{m.Subject, from, addressText(m.To), addressText(m.Cc), addressText(m.Bcc),
		addressText(m.ReplyTo), m.ReturnPath, m.MessageID, m.Text, htmlText(m.HTML)}
}

// addressText is an address column of the full-text index: every name and
// address of list, space separated (the same shape 0002 backfills).
func addressText(list []Address) string {
	var b strings.Builder
	for i, a := range list {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.Name)
		b.WriteByte(' ')
		b.WriteString(a.Address)
	}
	return strings.TrimSpace(b.String())
}

// htmlText returns the text of an HTML document for the full-text index:
// text nodes with entities decoded, without markup, attribute values or
// the contents of script and style elements.
func htmlText(doc string) string {
	if doc == "" {
		return ""
	}
	z := html.NewTokenizer(strings.NewReader(doc))
	var b strings.Builder
	skip := "" // inside this raw-text element
	for {
		switch z.Next() {
		case html.ErrorToken: // io.EOF or a tokenizer error: keep what we have
			return strings.TrimSpace(b.String())
		case html.StartTagToken:
			if name, _ := z.TagName(); skip == "" && isHiddenElement(string(name)) {
				skip = string(name)
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == skip {
				skip = ""
			}
		case html.TextToken:
			if skip == "" {
				b.Write(z.Text())
				b.WriteByte(' ')
			}
		}
	}
}

// isHiddenElement reports whether name is a raw-text element whose content
// is not shown to the reader. (The tokenizer reads their content as one
// text token up to the matching end tag, so skipping cannot run away.)
func isHiddenElement(name string) bool {
	return name == "script" || name == "style"
}
