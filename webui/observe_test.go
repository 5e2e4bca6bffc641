package webui_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"mailsink/webui"
)

// requests records Observer calls.
type requests struct {
	mu     sync.Mutex
	seen   []string // "route status"
	ws     int      // websocket clients open now
	wsSeen int
	ch     chan struct{} // a signal per websocket open or close
}

func (o *requests) Request(route string, status int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d <= 0 {
		status = -1 // shows up as a mismatch
	}
	o.seen = append(o.seen, fmt.Sprintf("%s %d", route, status))
}

func (o *requests) WebsocketOpened() {
	o.mu.Lock()
	o.ws++
	o.wsSeen++
	o.mu.Unlock()
	o.ch <- struct{}{}
}

func (o *requests) WebsocketClosed() {
	o.mu.Lock()
	o.ws--
	o.mu.Unlock()
	o.ch <- struct{}{}
}

func (o *requests) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.seen)
}

// TestObserverRequests checks the route label of each kind of request
// (the pattern, never the path), the websocket hooks, and that /metrics
// is mounted behind the same login as the API.
func TestObserverRequests(t *testing.T) {
	t.Parallel()
	obs := &requests{ch: make(chan struct{}, 4)}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "up 1")
	})
	s := newGuardedServer(t, webui.Config{
		LoopbackOnly: true,
		Auth:         &webui.Auth{Tokens: []string{"tok"}},
		Observer:     obs,
		Metrics:      metrics,
	})
	bearer := map[string]string{"Authorization": "Bearer tok"}
	tests := []struct {
		method, path string
		header       map[string]string
		wantStatus   int
		wantRoute    string
	}{
		{"GET", "/api/v1/message/m1", bearer, 200, "GET /api/v1/message/{id}"},
		{"GET", "/api/v1/message/nope", bearer, 404, "GET /api/v1/message/{id}"},
		{"GET", "/api/v1/messages", bearer, 200, "GET /api/v1/messages"},
		{"GET", "/api/v1/nothing-here", bearer, 404, webui.RouteNoRoute},
		{"GET", "/", bearer, 200, webui.RouteUI},
		{"GET", "//api/v1/messages", bearer, 307, webui.RouteRedirect},
		{"GET", "/api/v1/messages", nil, 401, webui.RouteRefused},
		{"GET", "/metrics", map[string]string{"Host": "evil.test", "Authorization": "Bearer tok"}, 403, webui.RouteRefused},
		{"GET", "/metrics", nil, 401, webui.RouteRefused},
		{"GET", "/metrics", bearer, 200, "GET /metrics"},
		{"GET", "/livez", nil, 200, "GET /livez"},
	}
	var want []string
	for _, tt := range tests {
		res := s.send(t, tt.method, tt.path, tt.header, "")
		if res.status != tt.wantStatus {
			t.Errorf("%s %s = %d, want %d: %s", tt.method, tt.path, res.status, tt.wantStatus, res.body)
		}
		want = append(want, fmt.Sprintf("%s %d", tt.wantRoute, tt.wantStatus))
	}
	if got := obs.requests(); !slices.Equal(got, want) {
		t.Errorf("observed\n%q\nwant\n%q", got, want)
	}
	if res := s.send(t, "GET", "/metrics", bearer, ""); !strings.Contains(string(res.body), "up 1") {
		t.Errorf("/metrics body = %q", res.body)
	}

	// A websocket is reported open and closed, and not as a request.
	before := len(obs.requests())
	url := "ws" + strings.TrimPrefix(s.ts.URL, "http") + "/api/events"
	c, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer tok"}})
	if err != nil {
		t.Fatal(err)
	}
	<-obs.ch
	c.Close()
	<-obs.ch
	obs.mu.Lock()
	ws, seen := obs.ws, obs.wsSeen
	obs.mu.Unlock()
	if ws != 0 || seen != 1 {
		t.Errorf("websocket clients open %d, seen %d; want 0, 1", ws, seen)
	}
	if got := obs.requests()[before:]; len(got) != 0 {
		t.Errorf("websocket reported as request(s) %q", got)
	}
}
