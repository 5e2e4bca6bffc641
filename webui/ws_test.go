package webui_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"mailsink/store"
	"mailsink/webui"
)

type wsEvent struct {
	Type string
	Data json.RawMessage
}

// dialEvents opens the event stream of s.
func dialEvents(t *testing.T, s *testServer) *websocket.Conn {
	t.Helper()
	url := "ws" + strings.TrimPrefix(s.ts.URL, "http") + "/api/events"
	c, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {s.ts.URL}})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// nextEvent reads events until one of type typ arrives (stats events
// interleave), failing after 5 s.
func nextEvent(t *testing.T, c *websocket.Conn, typ string) wsEvent {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var ev wsEvent
		if err := c.ReadJSON(&ev); err != nil {
			t.Fatalf("waiting for %q event: %v", typ, err)
		}
		if ev.Type == typ {
			return ev
		}
	}
}

func TestEventsStream(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	c := dialEvents(t, s)

	s.insert(t, "ev1", "From: Ann <ann@example.test>\nTo: bob@example.test\nSubject: live\n\nhello\n")
	ev := nextEvent(t, c, "new")
	var sum messageSummary
	if err := json.Unmarshal(ev.Data, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.ID != "ev1" || sum.Subject != "live" || sum.From.Address != "ann@example.test" || sum.Read {
		t.Errorf("new event data = %+v", sum)
	}
	if !strings.Contains(string(ev.Data), `"MessageID"`) || strings.Contains(string(ev.Data), `"Seq"`) {
		t.Errorf("new event is not the Mailpit summary shape: %s", ev.Data)
	}

	s.do(t, http.MethodPut, "/api/v1/messages", strings.NewReader(`{"IDs":["ev1"],"Read":true}`))
	if ev := nextEvent(t, c, "update"); !strings.Contains(string(ev.Data), `"ev1"`) || !strings.Contains(string(ev.Data), `"Read":true`) {
		t.Errorf("update event = %s", ev.Data)
	}
	ev = nextEvent(t, c, "stats")
	var st struct{ Total, Unread int }
	if err := json.Unmarshal(ev.Data, &st); err != nil || st.Total != 1 {
		t.Errorf("stats event = %s (%v)", ev.Data, err)
	}

	s.do(t, http.MethodDelete, "/api/v1/messages", strings.NewReader(`{"IDs":["ev1"]}`))
	if ev := nextEvent(t, c, "delete"); !strings.Contains(string(ev.Data), `"ev1"`) {
		t.Errorf("delete event = %s", ev.Data)
	}
	s.do(t, http.MethodDelete, "/api/v1/messages", nil)
	nextEvent(t, c, "truncate")
}

func TestEventsRefuseForeignOrigin(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	url := "ws" + strings.TrimPrefix(s.ts.URL, "http") + "/api/events"
	_, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"http://evil.example"}})
	if err == nil {
		t.Fatal("a page from another origin opened the event stream")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: response %v, want 403", resp)
	}
}

// TestHubDropsSlowSubscriber checks that a client that stops reading is
// disconnected instead of blocking Publish, and that Publish stays fast.
func TestHubDropsSlowSubscriber(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	c := dialEvents(t, s)
	// Never read from c: its buffers and the hub's queue fill up.
	big := strings.Repeat("x", 8000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 3000 {
			s.hub.Publish(storeEvent(i, big))
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Publish blocked on a client that does not read")
	}
	// The server closed the connection: reading eventually fails.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			if websocket.IsCloseError(err, websocket.CloseGoingAway) || !strings.Contains(err.Error(), "timeout") {
				return
			}
			t.Fatalf("slow client was not dropped: %v", err)
		}
	}
}

func TestHubChangedWakesOnNewOnly(t *testing.T) {
	t.Parallel()
	h := webui.NewHub(nil)
	defer h.Close()
	ch := h.Changed()
	h.Publish(storeEventOfType("delete"))
	select {
	case <-ch:
		t.Fatal("a delete woke waiters")
	default:
	}
	h.Publish(storeEvent(1, "x"))
	select {
	case <-ch:
	default:
		t.Fatal("a new message did not wake waiters")
	}
	if h.Changed() == ch {
		t.Error("Changed did not move on to a fresh channel")
	}
	h.Close()
	select {
	case <-h.Changed():
	default:
		t.Error("Close does not release waiters")
	}
}

func storeEvent(i int, subject string) store.Event {
	return store.Event{Type: "new", Data: &store.Summary{ID: fmt.Sprint("m", i), Subject: subject}}
}

func storeEventOfType(typ string) store.Event {
	return store.Event{Type: typ, Data: map[string]any{"IDs": []string{"x"}}}
}

func TestMailhogWebsocket(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	url := "ws" + strings.TrimPrefix(s.ts.URL, "http") + "/api/v2/websocket"
	c, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {s.ts.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.insert(t, "hog", "From: a@example.test\nTo: b@example.test\nSubject: oink\n\nmud\n")
	s.do(t, http.MethodPut, "/api/v1/messages", strings.NewReader(`{"IDs":["hog"],"Read":true}`)) // not sent on this socket
	s.insert(t, "hog2", "Subject: second\n\nx\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []string{"hog", "hog2"} {
		var m struct {
			ID      string
			Content struct{ Headers map[string][]string }
			Raw     struct{ From string }
		}
		if err := c.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		if m.ID != want || m.Raw.From != "bounce@example.test" {
			t.Errorf("frame = %+v, want message %s in MailHog shape", m, want)
		}
	}
}
