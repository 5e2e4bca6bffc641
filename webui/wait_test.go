package webui_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitCall starts GET /api/v1/wait in the background and returns a channel
// with its response.
func waitCall(t *testing.T, s *testServer, params url.Values) <-chan response {
	t.Helper()
	out := make(chan response, 1)
	go func() { out <- s.get(t, "/api/v1/wait?"+params.Encode()) }()
	return out
}

func TestWaitReturnsWhenMailArrives(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	var list messagesSummary
	s.getJSON(t, "/api/v1/messages", &list)
	cursor := list.Cursor

	res := waitCall(t, s, url.Values{"query": {"subject:Welcome"}, "timeout": {"20s"}, "after": {fmt.Sprint(cursor)}})
	s.insert(t, "noise", "Subject: unrelated\n\nx\n")
	s.insert(t, "w1", "Subject: Welcome aboard\nTo: bob@example.test\n\nhi\n")
	select {
	case r := <-res:
		if r.status != http.StatusOK {
			t.Fatalf("wait = %d %s", r.status, r.body)
		}
		var got messagesSummary
		wantJSON(t, r, &got)
		if got.MessagesCount != 1 || len(got.Messages) != 1 || got.Messages[0].ID != "w1" || got.Cursor < 2 {
			t.Errorf("wait reply = %+v", got)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("wait did not return after a matching message arrived")
	}
}

func TestWaitCountsAndCursor(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.insert(t, "old", "Subject: report\n\nold\n")
	var list messagesSummary
	s.getJSON(t, "/api/v1/messages", &list)

	// Without after= the old message counts at once.
	r := s.get(t, "/api/v1/wait?query=report&timeout=5s")
	if r.status != http.StatusOK {
		t.Fatalf("wait for existing mail = %d %s", r.status, r.body)
	}
	// With the cursor, only newer mail counts: two are needed.
	res := waitCall(t, s, url.Values{"query": {"report"}, "count": {"2"}, "timeout": {"20s"}, "after": {fmt.Sprint(list.Cursor)}})
	s.insert(t, "new1", "Subject: report one\n\nx\n")
	s.insert(t, "new2", "Subject: report two\n\nx\n")
	select {
	case r := <-res:
		var got messagesSummary
		wantJSON(t, r, &got)
		if r.status != http.StatusOK || got.MessagesCount != 2 || strings.Join(ids(got.Messages), ",") != "new2,new1" {
			t.Errorf("wait count=2 = %d %+v", r.status, got)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("wait for two messages did not return")
	}
}

func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.insert(t, "one", "Subject: partial\n\nx\n")
	start := time.Now()
	r := s.get(t, "/api/v1/wait?query=partial&count=2&timeout=300ms")
	if r.status != http.StatusRequestTimeout {
		t.Fatalf("wait = %d %s, want 408", r.status, r.body)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("408 after %v, before the timeout", el)
	}
	var got messagesSummary
	wantJSON(t, r, &got)
	if got.MessagesCount != 1 || len(got.Messages) != 1 {
		t.Errorf("408 body should hold what matched: %+v", got)
	}
}

func TestWaitBadParams(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for _, q := range []string{
		"count=0", "count=x", "timeout=soon", "timeout=-1s", "after=-3", "after=x", "tz=Mars/Base",
		"query=" + url.QueryEscape("from:"), "query=" + url.QueryEscape("larger:lots"),
	} {
		r := s.get(t, "/api/v1/wait?"+q)
		if msg := wantError(t, r, http.StatusBadRequest); msg == "" {
			t.Errorf("%s: empty error message", q)
		}
	}
}

// TestWaitManyWaiters parks many concurrent waiters on different queries
// and checks each gets exactly its own message.
func TestWaitManyWaiters(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.get(t, fmt.Sprintf("/api/v1/wait?query=%s&timeout=30s", url.QueryEscape(fmt.Sprintf("subject:job%03d", i))))
			if r.status != http.StatusOK || !strings.Contains(string(r.body), fmt.Sprintf(`"ID":"m%03d"`, i)) {
				errs <- fmt.Sprintf("waiter %d: %d %.200s", i, r.status, r.body)
			}
		}()
	}
	for i := range n {
		s.insert(t, fmt.Sprintf("m%03d", i), fmt.Sprintf("Subject: job%03d\n\nx\n", i))
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		t.Logf("server log:\n%.3000s", s.log.String())
	}
}

func TestWaitEndsOnHubClose(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	res := waitCall(t, s, url.Values{"query": {"never"}, "timeout": {"60s"}})
	// Shutdown closes the hub; the waiter must not hang until its timeout,
	// whether it was parked before the close or arrives after it.
	s.hub.Close()
	select {
	case r := <-res:
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("wait after hub close = %d %s, want 503", r.status, r.body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("wait hung after the hub closed")
	}
}
