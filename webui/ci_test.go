package webui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailsink/store"
)

func TestTagsEndpoints(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.insert(t, "a", "Subject: a\nX-Tags: red, blue\n\nx\n")
	s.insert(t, "b", "Subject: b\n\nx\n")

	var tags []string
	wantJSON(t, s.get(t, "/api/v1/tags"), &tags)
	if !slices.Equal(tags, []string{"blue", "red"}) {
		t.Errorf("tags = %v, want [blue red]", tags)
	}
	wantOK(t, s.do(t, http.MethodPut, "/api/v1/tags", strings.NewReader(`{"IDs":["b"],"Tags":["green","red"]}`)))
	var list messagesSummary
	s.getJSON(t, "/api/v1/search?query=tag:red", &list)
	if !slices.Equal(ids(list.Messages), []string{"b", "a"}) {
		t.Errorf("tag:red = %v", ids(list.Messages))
	}
	if !slices.Equal(list.Tags, []string{"blue", "green", "red"}) {
		t.Errorf("list tags = %v", list.Tags)
	}

	wantOK(t, s.do(t, http.MethodPut, "/api/v1/tags/red", strings.NewReader(`{"Name":"crimson"}`)))
	wantJSON(t, s.get(t, "/api/v1/tags"), &tags)
	if !slices.Equal(tags, []string{"blue", "crimson", "green"}) {
		t.Errorf("after rename: %v", tags)
	}
	wantError(t, s.do(t, http.MethodPut, "/api/v1/tags/nosuch", strings.NewReader(`{"Name":"x"}`)), http.StatusBadRequest)
	wantError(t, s.do(t, http.MethodPut, "/api/v1/tags/blue", strings.NewReader(`{"Name":" "}`)), http.StatusBadRequest)
	wantError(t, s.do(t, http.MethodPut, "/api/v1/tags", strings.NewReader(`{"Tags":["x"]}`)), http.StatusBadRequest)

	// Tags with spaces travel URL-encoded, as mailpit-api sends them.
	wantOK(t, s.do(t, http.MethodPut, "/api/v1/tags", strings.NewReader(`{"IDs":["a"],"Tags":["two words"]}`)))
	wantOK(t, s.do(t, http.MethodDelete, "/api/v1/tags/"+url.PathEscape("two words"), nil))
	wantJSON(t, s.get(t, "/api/v1/tags"), &tags)
	if !slices.Equal(tags, []string{"crimson", "green"}) {
		t.Errorf("after delete: %v", tags)
	}
	s.getJSON(t, "/api/v1/messages", &list)
	if list.Total != 2 {
		t.Errorf("deleting a tag deleted messages: %d left", list.Total)
	}

	// PUT with empty Tags clears them.
	wantOK(t, s.do(t, http.MethodPut, "/api/v1/tags", strings.NewReader(`{"IDs":["b"],"Tags":[]}`)))
	wantJSON(t, s.get(t, "/api/v1/tags"), &tags)
	if len(tags) != 0 || tags == nil {
		t.Errorf("after clearing: %#v, want []", tags)
	}
}

func TestInboxesEndpoint(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	var inboxes []store.Inbox
	if res := s.get(t, "/api/v1/inboxes"); strings.TrimSpace(string(res.body)) != "[]" {
		t.Errorf("empty store: %s, want []", res.body)
	}
	s.insert(t, "j1", "Subject: one\nX-Mailsink-Inbox: job-1\n\nx\n")
	s.insert(t, "j2", "Subject: two\nX-Mailsink-Inbox: job-1\n\nx\n")
	s.insert(t, "d", "Subject: default\n\nx\n")
	wantJSON(t, s.get(t, "/api/v1/inboxes"), &inboxes)
	if len(inboxes) != 2 || inboxes[0] != (store.Inbox{Name: "", Total: 1, Unread: 1}) || inboxes[1] != (store.Inbox{Name: "job-1", Total: 2, Unread: 2}) {
		t.Errorf("inboxes = %+v", inboxes)
	}
	var m message
	s.getJSON(t, "/api/v1/message/j1", &m)
	if m.Inbox != "job-1" {
		t.Errorf("message Inbox = %q", m.Inbox)
	}
}

func TestSearchSyntaxErrorsName400AndPosition(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct{ query, wantIn string }{
		{"from:", "at 5"},
		{"subject:hi larger:huge", "at 18"},
		{"is:maybe", "at 3"},
		{"before:yesterday", "at 7"},
	}
	for _, tt := range tests {
		msg := wantError(t, s.get(t, "/api/v1/search?query="+url.QueryEscape(tt.query)), http.StatusBadRequest)
		if !strings.Contains(msg, tt.wantIn) {
			t.Errorf("%q: error %q does not give the position (%s)", tt.query, msg, tt.wantIn)
		}
	}
	// Delete and set-read by search refuse bad queries too, changing nothing.
	s.insert(t, "keep", "Subject: keep\n\nx\n")
	wantError(t, s.do(t, http.MethodDelete, "/api/v1/search?query="+url.QueryEscape("from:"), nil), http.StatusBadRequest)
	wantError(t, s.do(t, http.MethodPut, "/api/v1/messages", strings.NewReader(`{"Search":"has:wings","Read":true}`)), http.StatusBadRequest)
	var list messagesSummary
	s.getJSON(t, "/api/v1/messages", &list)
	if list.Total != 1 || list.Unread != 1 {
		t.Errorf("a refused query changed the store: %+v", list)
	}
	wantError(t, s.get(t, "/api/v1/search?query=x&tz=Not/AZone"), http.StatusBadRequest)
}

func TestSearchListCursorAndTZ(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.insert(t, "one", "Subject: first\n\nx\n")
	var list messagesSummary
	s.getJSON(t, "/api/v1/messages", &list)
	cursor := list.Cursor
	s.insert(t, "two", "Subject: second\n\nx\n")
	s.getJSON(t, "/api/v1/messages?after="+itoa(cursor), &list)
	if !slices.Equal(ids(list.Messages), []string{"two"}) || list.MessagesCount != 1 || list.Total != 2 || list.Cursor <= cursor {
		t.Errorf("after=%d: %+v", cursor, list)
	}
	// Received today, in any zone: after: the day before matches both.
	yesterday := time.Now().UTC().AddDate(0, 0, -2).Format("2006-01-02")
	s.getJSON(t, "/api/v1/search?query=after:"+yesterday+"&tz=Pacific/Kiritimati", &list)
	if list.MessagesCount != 2 {
		t.Errorf("after:%s in a far zone: %d matches", yesterday, list.MessagesCount)
	}
}

func TestLatestWithQueryTranscriptReceivedExtraction(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	env := store.Envelope{
		RemoteAddr: "192.0.2.7:5000",
		Helo:       "app.test",
		MailFrom:   "app@app.test",
		Rcpts:      []store.Recipient{{Address: "bob@example.test"}},
		Protocol:   "ESMTP",
		Transcript: []store.TranscriptLine{
			{Time: time.Now(), Dir: "S", Text: "220 mx.test ESMTP mailsink"},
			{Time: time.Now(), Dir: "C", Text: "EHLO app.test"},
		},
	}
	raw := crlf(`Received: from relay.test (relay.test [192.0.2.9])
	by mx.test (mailsink) with ESMTPS (TLS1.3 TLS_AES_128_GCM_SHA256) id X2;
	Thu, 26 Nov 2026 10:00:05 +0000
Received: from app.test (app.test [192.0.2.7])
	by relay.test with ESMTP id X1; Thu, 26 Nov 2026 10:00:00 +0000
Subject: Reset your password
Content-Type: text/html; charset=utf-8

<p>Your verification code is <b>493817</b>.</p>
<p><a href="https://app.test/reset?token=abc&amp;u=1">Reset password</a></p>
`)
	if _, err := s.db.Insert(context.Background(), "reset", env, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	s.insert(t, "newer", "Subject: unrelated\n\nx\n")

	var m message
	s.getJSON(t, "/api/v1/message/latest?query="+url.QueryEscape("subject:reset"), &m)
	if m.ID != "reset" {
		t.Fatalf("latest?query=subject:reset = %s", m.ID)
	}
	if len(m.Links) != 1 || m.Links[0].URL != "https://app.test/reset?token=abc&u=1" || m.Links[0].Text != "Reset password" {
		t.Errorf("Links = %+v", m.Links)
	}
	if !slices.Equal(m.Codes, []string{"493817"}) {
		t.Errorf("Codes = %v", m.Codes)
	}
	wantError(t, s.get(t, "/api/v1/message/latest?query="+url.QueryEscape("subject:nothing")), http.StatusNotFound)

	var tr []store.TranscriptLine
	wantJSON(t, s.get(t, "/api/v1/message/reset/transcript"), &tr)
	if len(tr) != 2 || tr[1].Text != "EHLO app.test" || tr[1].Dir != "C" {
		t.Errorf("transcript = %+v", tr)
	}
	var hops []store.Hop
	res := s.get(t, "/api/v1/message/reset/received")
	if err := json.Unmarshal(res.body, &hops); err != nil || res.status != 200 {
		t.Fatalf("received = %d %s", res.status, res.body)
	}
	if len(hops) != 2 || hops[0].By != "relay.test" || hops[1].By != "mx.test" || !hops[1].Secure ||
		hops[1].Delay == nil || *hops[1].Delay != 5 {
		t.Errorf("hops = %+v", hops)
	}
	wantError(t, s.get(t, "/api/v1/message/nosuch/received"), http.StatusNotFound)
	wantError(t, s.get(t, "/api/v1/message/nosuch/transcript"), http.StatusNotFound)
}

func TestWebUIConfig(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	var cfg struct {
		Label        string
		MessageRelay struct {
			Enabled            bool
			SMTPServer         string
			ReturnPath         string
			AllowedRecipients  string
			BlockedRecipients  string
			OverrideFrom       string
			PreserveMessageIDs bool
			RecipientAllowlist string
		}
		SpamAssassin, Rspamd, ChaosEnabled, DuplicatesIgnored, HideDeleteAllButton bool
	}
	wantJSON(t, s.get(t, "/api/v1/webui"), &cfg)
	// ChaosEnabled: the chaos API is available (as with Mailpit's --enable-chaos).
	if cfg.MessageRelay.Enabled || cfg.SpamAssassin || !cfg.ChaosEnabled {
		t.Errorf("webui config = %+v", cfg)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
