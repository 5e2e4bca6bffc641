package store_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"mailsink/store"
)

// crlf turns the \n line ends of a readable literal into CRLF.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// base64Lines encodes b as base64 in lines of 76 characters.
func base64Lines(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	return strings.Join(append(lines, enc), "\n")
}

// utc is a receive time in UTC.
func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fixtureMail is one message of the search fixture.
type fixtureMail struct {
	id   string
	env  store.Envelope
	at   time.Time
	read bool
	raw  []byte
}

// searchFixture is a set of small messages that differ in every field the
// search syntax looks at. The comments say what each is there for.
func searchFixture() []fixtureMail {
	pdf := make([]byte, 3000)
	for i := range pdf {
		pdf[i] = byte(i * 7)
	}
	return []fixtureMail{
		{id: "m01", at: utc("2026-11-20T10:00:00Z"), raw: crlf(`From: Alice Anders <alice@example.com>
To: Bob Brown <bob@example.org>
Subject: Quarterly invoice 42
Message-ID: <inv-42@billing.example>
X-Tags: Billing, Urgent, billing

Please pay the amount due. Greetings from the Köln office.
`)},
		{id: "m02", at: utc("2026-11-26T00:30:00Z"), read: true, raw: crlf(`From: bob@example.org
To: alice@example.com
Cc: Carol Cruz <carol@example.net>
Subject: Party on Friday
Message-ID: <party@example.org>

Bring snacks and the invoice from last time.
`)},
		// The HTML differs from the text part: its words are only in the
		// html column; script and style contents are not indexed.
		{id: "m03", at: utc("2026-11-21T08:00:00Z"), raw: crlf(`From: News <news@shop.example>
To: dave@example.com
Subject: Weekly newsletter
Message-ID: <news-1@shop.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=ALT

--ALT
Content-Type: text/plain; charset=utf-8

Plain version only.
--ALT
Content-Type: text/html; charset=utf-8

<html><head><style>.secretstyle{color:red}</style></head><body><p>Exclusive <b>htmlonlyword</b> deals &amp; more</p><script>var secretword = 1;</script></body></html>
--ALT--
`)},
		// The only message above 2 KB; the only attachment; a Bcc header.
		{id: "m04", at: utc("2026-11-22T09:00:00Z"), raw: crlf(`From: carol@example.net
To: bob@example.org
Bcc: eve@example.org
Subject: Report with attachment
Message-ID: <report@example.net>
X-Tags: urgent
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=MIX

--MIX
Content-Type: text/plain; charset=utf-8

See the attached report.
--MIX
Content-Type: application/pdf
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

` + base64Lines(pdf) + `
--MIX--
`)},
		// The only inline part; the only Reply-To.
		{id: "m05", at: utc("2026-11-23T09:00:00Z"), read: true, raw: crlf(`From: dave@example.com
Reply-To: Support Desk <support@example.com>
To: bob@example.org
Subject: Logo inside
Message-ID: <logo@example.com>
MIME-Version: 1.0
Content-Type: multipart/related; boundary=REL

--REL
Content-Type: text/html; charset=utf-8

<p>Our logo: <img src="cid:logo@x"></p>
--REL
Content-Type: image/png
Content-ID: <logo@x>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--REL--
`)},
		{id: "m06", at: utc("2026-11-24T09:00:00Z"), raw: crlf(`From: 山田 <yamada@example.jp>
To: bob@example.org
Subject: 日本語の件名
Message-ID: <jp@example.jp>
Content-Type: text/plain; charset=utf-8

こんにちは 世界
`)},
		// Inbox from the AUTH user.
		{id: "m07", at: utc("2026-11-25T12:00:00Z"), env: store.Envelope{AuthUser: "Team-A"}, raw: crlf(`From: ci@build.example
To: dev@example.com
Subject: Deploy finished
Message-ID: <deploy-7@ci.build.example>

Build 7 deployed.
`)},
		// Inbox and tag from plus-addressing; one second before midnight.
		{id: "m08", at: utc("2026-11-25T23:59:59Z"),
			env: store.Envelope{Rcpts: []store.Recipient{{Address: "qa+job42@example.com"}}}, raw: crlf(`From: robot@example.com
To: qa+job42@example.com
Subject: Nightly run
Message-ID: <nightly@example.com>

All green.
`)},
		// Inbox from the header; a tag with a space; a URL; FTS operators.
		{id: "m09", at: utc("2026-11-26T12:00:00Z"), raw: crlf(`From: ops@example.com
To: dev@example.com
Subject: Staging check
X-Mailsink-Inbox: Staging
X-Tags: Deploy Team
Message-ID: <staging@example.com>

See http://example.test/path?q=1 for the AND OR NOT words.
`)},
		// Quotes, SQL.
		{id: "m10", at: utc("2026-11-27T09:00:00Z"), read: true, raw: crlf(`From: "O'Reilly, Tim" <tim@oreilly.example>
To: bob@example.org
Subject: He said "hello world" loudly
Message-ID: <quote@oreilly.example>

it's O'Reilly's; DROP TABLE messages; -- 100% done
`)},
		// An envelope recipient in no header (Bcc), the envelope sender.
		{id: "m11", at: utc("2026-11-28T09:00:00Z"), env: store.Envelope{MailFrom: "bounce@mailer.example",
			Rcpts: []store.Recipient{{Address: "bob@example.org"}, {Address: "hidden@example.net"}}}, raw: crlf(`From: list@mailer.example
To: bob@example.org
Subject: Hidden recipient
Message-ID: <hidden@mailer.example>

Short.
`)},
	}
}

// newSearchDB stores searchFixture (with PlusTags) and returns the store
// and the ids of the unread messages.
func newSearchDB(tb testing.TB) (*testDB, map[string]bool) {
	tb.Helper()
	db := newTestDB(tb, store.Options{PlusTags: true})
	ctx := context.Background()
	unread := map[string]bool{}
	var read []string
	for _, m := range searchFixture() {
		env := m.env
		env.ReceivedAt = m.at
		s, err := db.Insert(ctx, m.id, env, m.raw)
		if err != nil {
			tb.Fatalf("Insert(%s): %v", m.id, err)
		}
		// Guard the size bands the larger:/smaller: cases rely on.
		if big := m.id == "m04"; big != (s.Size > 2048) || !big && s.Size >= 1024 {
			tb.Fatalf("fixture %s is %d bytes: m04 must be > 2 KB, the others < 1 KB", m.id, s.Size)
		}
		if m.read {
			read = append(read, m.id)
		} else {
			unread[m.id] = true
		}
	}
	if err := db.SetRead(ctx, read, true); err != nil {
		tb.Fatal(err)
	}
	return db, unread
}

// fixtureIDs returns the ids m01…m11 except those listed.
func allBut(except ...string) []string {
	var out []string
	for i := 1; i <= 11; i++ {
		if id := fmt.Sprintf("m%02d", i); !slices.Contains(except, id) {
			out = append(out, id)
		}
	}
	return out
}

func TestFindGrammar(t *testing.T) {
	t.Parallel()
	db, unread := newSearchDB(t)
	ctx := context.Background()
	minus5 := time.FixedZone("UTC-5", -5*3600)
	none := []string{}
	tests := []struct {
		name  string
		query string
		tz    *time.Location
		want  []string
	}{
		// Free words and phrases.
		{"empty", "", nil, allBut()},
		{"blank", " \t ", nil, allBut()},
		{"word in subject and body", "invoice", nil, []string{"m01", "m02"}},
		{"prefix, any case", "INV", nil, []string{"m01", "m02"}},
		{"AND", "invoice friday", nil, []string{"m02"}},
		{"diacritics folded", "koln", nil, []string{"m01"}},
		{"diacritics in query", "KÖLN", nil, []string{"m01"}},
		{"phrase", `"pay the amount"`, nil, []string{"m01"}},
		{"phrase order", `"amount the pay"`, nil, none},
		{"address", "alice", nil, []string{"m01", "m02"}},
		{"display name", "anders", nil, []string{"m01"}},
		{"html text", "htmlonlyword", nil, []string{"m03"}},
		{"html entity decoded", `"deals more"`, nil, []string{"m03"}},
		{"script not indexed", "secretword", nil, none},
		{"style not indexed", "secretstyle", nil, none},
		{"reply-to name", "support", nil, []string{"m05"}},
		{"envelope sender", "bounce", nil, []string{"m11"}},
		{"CJK subject by prefix", "日本語", nil, []string{"m06"}},
		{"CJK body", "こんにちは", nil, []string{"m06"}},
		{"URL is a free word", "http://example.test/path", nil, []string{"m09"}},
		{"unknown filter is a free word", "frmo:bob", nil, none},
		{"negated word", "-invoice", nil, allBut("m01", "m02")},
		{"negated word with !", "!invoice", nil, allBut("m01", "m02")},
		{"negated phrase", `-"pay the amount"`, nil, allBut("m01")},
		{"two negations", "-invoice -bob", nil, []string{"m03", "m07", "m08", "m09"}},
		{"lone dash and bang ignored", "- ! invoice", nil, []string{"m01", "m02"}},

		// Address, subject and Message-ID filters.
		{"from", "from:bob", nil, []string{"m02"}},
		{"from email", "from:alice@example.com", nil, []string{"m01"}},
		{"from quoted name", `from:"Alice Anders"`, nil, []string{"m01"}},
		{"from domain", "from:example.com", nil, []string{"m01", "m05", "m08", "m09"}},
		{"from UTF-8 name", "from:山田", nil, []string{"m06"}},
		{"filter name any case", "FROM:Bob", nil, []string{"m02"}},
		{"to", "to:bob", nil, []string{"m01", "m04", "m05", "m06", "m10", "m11"}},
		{"negated to", "-to:bob", nil, []string{"m02", "m03", "m07", "m08", "m09"}},
		{"cc", "cc:carol", nil, []string{"m02"}},
		{"bcc header", "bcc:eve", nil, []string{"m04"}},
		{"bcc from envelope", "bcc:hidden", nil, []string{"m11"}},
		{"reply-to", "reply-to:support", nil, []string{"m05"}},
		{"reply-to quoted", `reply-to:"Support Desk"`, nil, []string{"m05"}},
		{"addressed", "addressed:carol", nil, []string{"m02", "m04"}},
		{"addressed to", "addressed:dev", nil, []string{"m07", "m09"}},
		{"negated addressed", "!addressed:carol", nil, allBut("m02", "m04")},
		{"subject", "subject:invoice", nil, []string{"m01"}},
		{"subject quoted prefix", `subject:"party on"`, nil, []string{"m02"}},
		{"subject CJK", "subject:日本語", nil, []string{"m06"}},
		{"subject with quotes", `subject:"hello world"`, nil, []string{"m10"}},
		{"escaped quote in value", `subject:"said \"hello"`, nil, []string{"m10"}},
		{"message-id", "message-id:inv-42@billing.example", nil, []string{"m01"}},
		{"message-id with <>", "message-id:<inv-42@billing.example>", nil, []string{"m01"}},
		{"message-id part", "message-id:deploy", nil, []string{"m07"}},
		{"value without letters ignored", "from:*", nil, allBut()},

		// Tags and inboxes.
		{"tag", "tag:urgent", nil, []string{"m01", "m04"}},
		{"tag any case", "tag:URGENT", nil, []string{"m01", "m04"}},
		{"tag with space", `tag:"deploy team"`, nil, []string{"m09"}},
		{"tag is exact", "tag:deploy", nil, none},
		{"plus tag", "tag:job42", nil, []string{"m08"}},
		{"negated tag", "-tag:urgent", nil, allBut("m01", "m04")},
		{"is:tagged", "is:tagged", nil, []string{"m01", "m04", "m08", "m09"}},
		{"not tagged", "!is:tagged", nil, allBut("m01", "m04", "m08", "m09")},
		{"inbox from auth", "inbox:team-a", nil, []string{"m07"}},
		{"inbox normalised", `inbox:"Team A"`, nil, []string{"m07"}},
		{"inbox from plus", "inbox:job42", nil, []string{"m08"}},
		{"inbox from header", "inbox:STAGING", nil, []string{"m09"}},
		{"default inbox", `inbox:""`, nil, allBut("m07", "m08", "m09")},
		{"not default inbox", `-inbox:""`, nil, []string{"m07", "m08", "m09"}},

		// is:, has:, sizes.
		{"is:read", "is:read", nil, []string{"m02", "m05", "m10"}},
		{"is:unread", "is:unread", nil, allBut("m02", "m05", "m10")},
		{"-is:read", "-is:read", nil, allBut("m02", "m05", "m10")},
		{"!is:unread", "!is:unread", nil, []string{"m02", "m05", "m10"}},
		{"is value any case", "is:READ", nil, []string{"m02", "m05", "m10"}},
		{"has:attachment", "has:attachment", nil, []string{"m04"}},
		{"has:attachments", "HAS:Attachments", nil, []string{"m04"}},
		{"no attachment", "-has:attachment", nil, allBut("m04")},
		{"has:inline", "has:inline", nil, []string{"m05"}},
		{"has:inlines", "has:inlines", nil, []string{"m05"}},
		{"larger K fraction", "larger:1.5k", nil, []string{"m04"}},
		{"larger bytes", "larger:1536B", nil, []string{"m04"}},
		{"smaller KB", "smaller:1KB", nil, allBut("m04")},
		{"smaller quoted with space", `smaller:"1 kb"`, nil, allBut("m04")},
		{"not larger", "-larger:1536", nil, allBut("m04")},
		{"larger MB", "larger:1MB", nil, none},
		{"smaller M", "smaller:1m", nil, allBut()},

		// Dates: before: the start of the day, after: the end of the day.
		{"before day", "before:2026-11-26", nil, []string{"m01", "m03", "m04", "m05", "m06", "m07", "m08"}},
		{"before day in TZ", "before:2026-11-26", minus5, []string{"m01", "m02", "m03", "m04", "m05", "m06", "m07", "m08"}},
		{"before day slashes", "before:2026/11/22", nil, []string{"m01", "m03"}},
		{"after day", "after:2026-11-25", nil, []string{"m02", "m09", "m10", "m11"}},
		{"after day in TZ", "after:2026-11-25", minus5, []string{"m09", "m10", "m11"}},
		{"negated before", "-before:2026-11-26", nil, []string{"m02", "m09", "m10", "m11"}},
		{"before time", "before:2026-11-25T12:00:00Z", nil, []string{"m01", "m03", "m04", "m05", "m06"}},
		{"after time is strict", "after:2026-11-25T12:00:00Z", nil, []string{"m02", "m08", "m09", "m10", "m11"}},
		{"after time with offset", "after:2026-11-25T07:00:00-05:00", nil, []string{"m02", "m08", "m09", "m10", "m11"}},
		{"after local time", `after:"2026-11-25 19:00"`, nil, []string{"m02", "m08", "m09", "m10", "m11"}},
		{"after local time in TZ", `after:"2026-11-25 19:00"`, minus5, []string{"m02", "m09", "m10", "m11"}},
		{"between", "after:2026-11-21 before:2026-11-24", nil, []string{"m04", "m05"}},

		// Combinations.
		{"mailpit example", "subject:invoice !from:admin is:unread", nil, []string{"m01"}},
		{"word and status", "invoice -is:read", nil, []string{"m01"}},
		{"three filters", "from:bob is:read cc:carol", nil, []string{"m02"}},
		{"tagged but not urgent", "is:tagged -tag:urgent", nil, []string{"m08", "m09"}},
		{"default inbox with attachment", `inbox:"" has:attachment`, nil, []string{"m04"}},
		{"to, no attachment, unread", "to:bob -has:attachment is:unread", nil, []string{"m01", "m06", "m11"}},
		{"contradiction", "invoice -alice", nil, none},

		// Hostile input: plain text, never SQL or FTS5 syntax.
		{"lone quote", `"`, nil, allBut()},
		{"SQL injection", `'; DROP TABLE messages; --`, nil, []string{"m10"}},
		{"SQL quote in word", `O'Reilly`, nil, []string{"m10"}},
		{"percent", `100%`, nil, []string{"m10"}},
		{"FTS AND is a word", `AND`, nil, []string{"m01", "m02", "m09"}}, // Anders, and, AND
		{"FTS column syntax", `subject : invoice`, nil, none},
		{"FTS NEAR is a word", `NEAR(snacks invoice)`, nil, none}, // as FTS5 syntax: m02
		{"FTS star and caret", `^invoice*`, nil, []string{"m01", "m02"}},
		{"unterminated phrase", `"pay the`, nil, []string{"m01"}},
		{"unterminated filter value", `from:"alice`, nil, []string{"m01"}},
		{"FTS column set is a word", `{subject}:invoice`, nil, none}, // as FTS5 syntax: m01
		{"NUL separates words", "party\x00on", nil, []string{"m02"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := store.Filter{Query: tt.query, TZ: tt.tz}
			p, err := db.Find(ctx, f)
			if err != nil {
				t.Fatalf("Find(%q): %v", tt.query, err)
			}
			got := ids(p.Messages)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Find(%q) = %v, want %v", tt.query, got, tt.want)
			}
			wantUnread := 0
			for _, id := range tt.want {
				if unread[id] {
					wantUnread++
				}
			}
			if p.Total != len(tt.want) || p.Unread != wantUnread {
				t.Errorf("Find(%q): Total %d, Unread %d; want %d, %d", tt.query, p.Total, p.Unread, len(tt.want), wantUnread)
			}
			all, err := db.FindIDs(ctx, f)
			if err != nil {
				t.Fatalf("FindIDs(%q): %v", tt.query, err)
			}
			if !slices.Equal(all, ids(p.Messages)) {
				t.Errorf("FindIDs(%q) = %v, Find gave %v", tt.query, all, ids(p.Messages))
			}
		})
	}
}

// TestFindHostile runs input meant to break FTS5 or SQL: none may fail.
func TestFindHostile(t *testing.T) {
	t.Parallel()
	db, _ := newSearchDB(t)
	ctx := context.Background()
	for _, q := range []string{`"`, `""`, `"""`, `*`, `**`, `^`, `-`, `!`, `--`, `!!`, `-!x`, `AND`, `OR`, `NOT`,
		`NEAR(`, `NEAR(a b, 3)`, `a OR b`, `a NOT b`, `(a`, `a)`, `{a b}:c`, `a:b:c`, `:`, `::`, `:x`, `x:`,
		`' OR 1=1 --`, `"; DELETE FROM messages; --`, `%`, `_`, `\`, `\"`, `"\`, `"a\"`, "\x00", "a\x00b",
		`subject:'x'`, `from:@`, `tag:!!!`, `tag:" "`, `inbox:"!!"`, `message-id:<>`, `is:read"`, `to:"a"b"`,
		"\xff\xfe", strings.Repeat("zz ", 100), strings.Repeat(`"`, 99), `col:"x`, `-"`, `!"`, `-""`} {
		if _, err := db.Find(ctx, store.Filter{Query: q, Limit: 5}); err != nil {
			t.Errorf("Find(%q): %v", q, err)
		}
	}
	// The database is untouched.
	if st, err := db.Stats(ctx); err != nil || st.Total != 11 {
		t.Errorf("Stats after hostile queries = %+v, %v", st, err)
	}
}

func TestQueryError(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	ctx := context.Background()
	insert(t, db, "x", msg("x"))
	tests := []struct {
		query string
		pos   int
		msg   string // substring of Msg
	}{
		{"from:", 5, `empty value for "from:"`},
		{"is:unread from:", 15, `empty value for "from:"`},
		{`subject:""`, 8, `empty value for "subject:"`},
		{`subject:"`, 8, `empty value for "subject:"`},
		{"-to:", 4, `empty value for "to:"`},
		{"inbox:", 6, `empty value for "inbox:"`},
		{"x TAG:", 6, `empty value for "tag:"`},
		{"is:foo", 3, `bad value "foo" for "is:"`},
		{`!is:"read it"`, 4, `bad value "read it" for "is:"`},
		{"has:pdf", 4, `bad value "pdf" for "has:"`},
		{"x IS:maybe", 5, `bad value "maybe" for "is:"`},
		{"larger:abc", 7, `bad size "abc" for "larger:"`},
		{"larger:1e3", 7, `bad size "1e3"`},
		{"smaller:-5", 8, `bad size "-5"`},
		{"larger:5GB", 7, `bad size "5GB"`},
		{"larger:1.2.3", 7, `bad size "1.2.3"`},
		{"larger:K", 7, `bad size "K"`},
		{"before:yesterday", 7, `bad date "yesterday" for "before:"`},
		{"after:2026-13-01", 6, `bad date "2026-13-01" for "after:"`},
		{"before:26-11-2026", 7, `bad date "26-11-2026"`},
		{"Köln after:x", 12, `bad date "x"`}, // Pos counts bytes
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			_, err := db.Find(ctx, store.Filter{Query: tt.query})
			var qe *store.QueryError
			if !errors.As(err, &qe) || !errors.Is(err, store.ErrBadQuery) {
				t.Fatalf("Find(%q) = %v, want a *QueryError wrapping ErrBadQuery", tt.query, err)
			}
			if qe.Pos != tt.pos || !strings.Contains(qe.Msg, tt.msg) {
				t.Errorf("Find(%q): Pos %d, Msg %q; want %d, %q", tt.query, qe.Pos, qe.Msg, tt.pos, tt.msg)
			}
			if _, err := db.FindIDs(ctx, store.Filter{Query: tt.query}); !errors.Is(err, store.ErrBadQuery) {
				t.Errorf("FindIDs(%q) = %v, want ErrBadQuery", tt.query, err)
			}
			if _, _, err := db.Search(ctx, tt.query, 0, 0); !errors.Is(err, store.ErrBadQuery) {
				t.Errorf("Search(%q) = %v, want ErrBadQuery", tt.query, err)
			}
		})
	}
	qe := &store.QueryError{Pos: 7, Msg: `empty value for "from:"`}
	if got, want := qe.Error(), `bad search query at 7: empty value for "from:"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestFindPagingCursor(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	ctx := context.Background()

	p, err := db.Find(ctx, store.Filter{})
	if err != nil || p.Messages == nil || len(p.Messages) != 0 || p.Total != 0 || p.Unread != 0 || p.Cursor != 0 {
		t.Fatalf("Find on empty = %#v, %v", p, err)
	}
	var seqs []int64
	for i := range 5 {
		seqs = append(seqs, insert(t, db, fmt.Sprintf("p%d", i), msg(fmt.Sprintf("page%d", i))).Seq)
	}
	if err := db.SetRead(ctx, []string{"p1", "p3"}, true); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		f      store.Filter
		want   []string
		total  int
		unread int
	}{
		{"first page", store.Filter{Limit: 2}, []string{"p4", "p3"}, 5, 3},
		{"second page", store.Filter{Start: 2, Limit: 2}, []string{"p2", "p1"}, 5, 3},
		{"last page", store.Filter{Start: 4, Limit: 2}, []string{"p0"}, 5, 3},
		{"beyond", store.Filter{Start: 9, Limit: 2}, []string{}, 5, 3},
		{"negative start", store.Filter{Start: -1, Limit: 1}, []string{"p4"}, 5, 3},
		{"all", store.Filter{}, []string{"p4", "p3", "p2", "p1", "p0"}, 5, 3},
		{"query page", store.Filter{Query: "is:unread", Limit: 2}, []string{"p4", "p2"}, 3, 3},
		{"after cursor", store.Filter{AfterSeq: seqs[2]}, []string{"p4", "p3"}, 2, 1},
		{"after cursor and query", store.Filter{AfterSeq: seqs[2], Query: "is:read"}, []string{"p3"}, 1, 0},
		{"after the newest", store.Filter{AfterSeq: seqs[4]}, []string{}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := db.Find(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(p.Messages), tt.want) || p.Total != tt.total || p.Unread != tt.unread || p.Cursor != seqs[4] {
				t.Errorf("Find(%+v) = %v total %d unread %d cursor %d; want %v, %d, %d, %d",
					tt.f, ids(p.Messages), p.Total, p.Unread, p.Cursor, tt.want, tt.total, tt.unread, seqs[4])
			}
			all, err := db.FindIDs(ctx, tt.f)
			if err != nil || len(all) != tt.total {
				t.Errorf("FindIDs(%+v) = %v, %v; want all %d matches", tt.f, all, err, tt.total)
			}
		})
	}

	// The cursor shows only mail that arrived after it, even when the
	// newest message was deleted in between (seqs are never reused).
	cursor := seqs[4]
	if _, err := db.Delete(ctx, []string{"p4"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := db.Find(ctx, store.Filter{}); p.Cursor != seqs[3] {
		t.Errorf("Cursor after deleting the newest = %d, want %d", p.Cursor, seqs[3])
	}
	insert(t, db, "n1", msg("new one"))
	insert(t, db, "n2", msg("new two"))
	p, err = db.Find(ctx, store.Filter{AfterSeq: cursor})
	if err != nil || !slices.Equal(ids(p.Messages), []string{"n2", "n1"}) || p.Total != 2 || p.Cursor <= cursor {
		t.Errorf("Find(after %d) = %v total %d cursor %d, %v; want [n2 n1]", cursor, ids(p.Messages), p.Total, p.Cursor, err)
	}
	// Summaries carry Inbox and Tags.
	if s := p.Messages[0]; s.Inbox != "" || s.Tags == nil {
		t.Errorf("summary Inbox %q Tags %#v", s.Inbox, s.Tags)
	}
}
