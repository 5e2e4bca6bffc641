package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"mailsink/store"
)

func TestInboxRouting(t *testing.T) {
	t.Parallel()
	rcpts := func(addrs ...string) []store.Recipient {
		var out []store.Recipient
		for _, a := range addrs {
			out = append(out, store.Recipient{Address: a})
		}
		return out
	}
	tests := []struct {
		name   string
		header string // InboxHeader option
		env    store.Envelope
		head   string // header fields of the message
		want   string
	}{
		{"default", "", store.Envelope{Rcpts: rcpts("bob@x.test")}, "To: bob@x.test\r\n", ""},
		{"auth user wins", "", store.Envelope{AuthUser: "Alice@Example.COM", Rcpts: rcpts("qa+plus@x.test")},
			"X-Mailsink-Inbox: header\r\n", "alice-example.com"},
		{"blank auth user skipped", "", store.Envelope{AuthUser: "  "}, "X-Mailsink-Inbox: header\r\n", "header"},
		{"header beats plus", "", store.Envelope{Rcpts: rcpts("qa+plus@x.test")}, "x-mailsink-inbox:  Staging \r\n", "staging"},
		{"encoded header", "", store.Envelope{}, "X-Mailsink-Inbox: =?utf-8?q?Prod?=\r\n", "prod"},
		{"custom header", "X-Env", store.Envelope{}, "X-Mailsink-Inbox: ignored\r\nX-Env: qa\r\n", "qa"},
		{"blank header skipped", "", store.Envelope{Rcpts: rcpts("qa+plus@x.test")}, "X-Mailsink-Inbox:   \r\n", "plus"},
		{"first recipient with a plus tag", "", store.Envelope{Rcpts: rcpts("plain@x.test", "qa+Job42@x.test", "qa+later@x.test")},
			"", "job42"},
		{"first plus part", "", store.Envelope{Rcpts: rcpts("u+a+b@x.test")}, "", "a"},
		{"envelope without plus: headers not used", "", store.Envelope{Rcpts: rcpts("bob@x.test")},
			"To: bob+hdr@x.test\r\n", ""},
		{"no envelope: To header", "", store.Envelope{}, "To: Bob <bob+fromto@x.test>\r\nCc: c+fromcc@x.test\r\n", "fromto"},
		{"no envelope: Cc header", "", store.Envelope{}, "To: bob@x.test\r\nCc: c+fromcc@x.test\r\n", "fromcc"},
		{"normalised", "", store.Envelope{}, "X-Mailsink-Inbox: Team Ä/B_1.x\r\n", "team---b_1.x"},
		{"cut to 64", "", store.Envelope{}, "X-Mailsink-Inbox: " + strings.Repeat("ab", 40) + "\r\n", strings.Repeat("ab", 32)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := newTestDB(t, store.Options{InboxHeader: tt.header})
			ctx := context.Background()
			s, err := db.Insert(ctx, "m", tt.env, []byte(tt.head+"Subject: s\r\n\r\nbody\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			if s.Inbox != tt.want {
				t.Errorf("Inbox = %q, want %q", s.Inbox, tt.want)
			}
			if m, err := db.Get(ctx, "m"); err != nil || m.Inbox != tt.want {
				t.Errorf("Get Inbox = %q, %v", m.Inbox, err)
			}
			if got, err := db.FindIDs(ctx, store.Filter{Query: fmt.Sprintf("inbox:%q", tt.want)}); err != nil || len(got) != 1 {
				t.Errorf("inbox:%q = %v, %v", tt.want, got, err)
			}
		})
	}
}

func TestInboxes(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	ctx := context.Background()
	list, err := db.Inboxes(ctx)
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("Inboxes on empty = %#v, %v", list, err)
	}
	inboxMail := func(id, inbox string) {
		raw := []byte("X-Mailsink-Inbox: " + inbox + "\r\nSubject: " + id + "\r\n\r\nb\r\n")
		if _, err := db.Insert(ctx, id, store.Envelope{}, raw); err != nil {
			t.Fatal(err)
		}
	}
	inboxMail("s1", "staging")
	inboxMail("s2", "Staging")
	inboxMail("p1", "prod")
	inboxMail("d1", "")
	inboxMail("z1", "zz")
	if err := db.SetRead(ctx, []string{"s1", "z1"}, true); err != nil {
		t.Fatal(err)
	}
	want := []store.Inbox{{Name: "", Total: 1, Unread: 1}, {Name: "prod", Total: 1, Unread: 1},
		{Name: "staging", Total: 2, Unread: 1}, {Name: "zz", Total: 1, Unread: 0}}
	if list, err := db.Inboxes(ctx); err != nil || !slices.Equal(list, want) {
		t.Errorf("Inboxes = %+v, %v; want %+v", list, err, want)
	}
	if p, err := db.Find(ctx, store.Filter{Query: "inbox:staging"}); err != nil || p.Total != 2 || p.Unread != 1 {
		t.Errorf("Find(inbox:staging) = total %d unread %d, %v", p.Total, p.Unread, err)
	}
	db.rec.take()

	n, err := db.DeleteInbox(ctx, " STAGING ")
	if err != nil || n != 2 {
		t.Fatalf("DeleteInbox = %d, %v; want 2", n, err)
	}
	ev := db.rec.take()
	if len(ev) != 1 || fmt.Sprint(ev[0].Type, ev[0].Data) != "deletemap[IDs:[s1 s2]]" {
		t.Errorf("events = %+v", ev)
	}
	want = []store.Inbox{{Name: "", Total: 1, Unread: 1}, {Name: "prod", Total: 1, Unread: 1}, {Name: "zz", Total: 1}}
	if list, err := db.Inboxes(ctx); err != nil || !slices.Equal(list, want) {
		t.Errorf("Inboxes after delete = %+v, %v; want %+v", list, err, want)
	}
	if n, err := db.DeleteInbox(ctx, "staging"); n != 0 || err != nil {
		t.Errorf("second DeleteInbox = %d, %v", n, err)
	}
	if n, err := db.DeleteInbox(ctx, ""); n != 1 || err != nil {
		t.Errorf("DeleteInbox(default) = %d, %v", n, err)
	}
	if ev := db.rec.take(); len(ev) != 1 {
		t.Errorf("events = %+v, want one delete", ev)
	}
	if list, _ := db.List(ctx, 0, 0); !slices.Equal(ids(list), []string{"z1", "p1"}) {
		t.Errorf("left = %v", ids(list))
	}
}
