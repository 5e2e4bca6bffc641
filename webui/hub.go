package webui

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"mailsink/store"
)

// subscriberBuffer is how many encoded events a websocket client may lag
// behind before it is dropped; it then reconnects and resyncs.
const subscriberBuffer = 256

// Hub fans the store's change events out to websocket clients and wakes
// waiters (GET /api/v1/wait). Publish never blocks: the SMTP ingest path
// calls it, and one slow browser must not stall anyone.
type Hub struct {
	log *slog.Logger

	mu      sync.Mutex
	subs    map[*subscriber]struct{}
	changed chan struct{} // closed (and replaced) when new mail arrived
	closed  bool

	// Wake-ups of waiters are throttled: the first new message wakes them
	// at once, further ones within wakeEvery are folded into one wake-up at
	// the end of that window. A burst of thousands of messages a second
	// then costs each waiter at most 1/wakeEvery re-checks a second.
	lastWake  time.Time
	wakeTimer *time.Timer

	// Stats events are coalesced: at most one per statsEvery.
	stats      func(ctx context.Context) (store.Stats, error)
	statsTimer *time.Timer
	statsEvery time.Duration
}

type subscriber struct {
	c    chan []byte // encoded events; closed when the subscriber is dropped
	once sync.Once
}

func (s *subscriber) close() { s.once.Do(func() { close(s.c) }) }

// NewHub returns an empty Hub. log may be nil.
func NewHub(log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		log:        log,
		subs:       map[*subscriber]struct{}{},
		changed:    make(chan struct{}),
		statsEvery: 250 * time.Millisecond,
	}
}

// wireEvent is the websocket frame, Mailpit's shape: {"Type":…,"Data":…}.
type wireEvent struct {
	Type string `json:"Type"`
	Data any    `json:"Data"`
}

// Publish sends e to every subscriber (dropping those whose buffer is
// full) and, for a new message, wakes every waiter. It never blocks.
func (h *Hub) Publish(e store.Event) {
	data := e.Data
	if sum, ok := data.(*store.Summary); ok && e.Type == "new" {
		data = toMessageSummary(sum) // the list item shape clients already know
	}
	h.broadcast(wireEvent{Type: e.Type, Data: data})
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if e.Type == "new" {
		h.wake()
	}
	h.scheduleStats()
}

// wakeEvery is the shortest interval between two wake-ups of waiters.
const wakeEvery = 10 * time.Millisecond

// wake releases the waiters now, or at the end of the current window if
// they were released less than wakeEvery ago; h.mu must be held.
func (h *Hub) wake() {
	if h.wakeTimer != nil {
		return // a wake-up is already due
	}
	since := time.Since(h.lastWake)
	if since >= wakeEvery {
		h.fire()
		return
	}
	h.wakeTimer = time.AfterFunc(wakeEvery-since, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.wakeTimer = nil
		if !h.closed {
			h.fire()
		}
	})
}

// fire closes the current wake-up channel; h.mu must be held.
func (h *Hub) fire() {
	close(h.changed)
	h.changed = make(chan struct{})
	h.lastWake = time.Now()
}

// broadcast encodes ev once and offers it to every subscriber.
func (h *Hub) broadcast(ev wireEvent) {
	b, err := json.Marshal(ev)
	if err != nil {
		h.log.Error("encode event", "type", ev.Type, "err", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.c <- b:
		default:
			h.log.Warn("websocket client too slow, dropping it")
			delete(h.subs, s)
			s.close()
		}
	}
}

// scheduleStats arranges one "stats" event soon; h.mu must be held.
func (h *Hub) scheduleStats() {
	if h.stats == nil || h.statsTimer != nil || len(h.subs) == 0 {
		return
	}
	h.statsTimer = time.AfterFunc(h.statsEvery, func() {
		h.mu.Lock()
		h.statsTimer = nil
		h.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := h.stats(ctx)
		if err != nil {
			h.log.Warn("stats for event", "err", err)
			return
		}
		h.broadcast(wireEvent{Type: "stats", Data: statsEvent{Total: st.Total, Unread: st.Unread}})
	})
}

// statsEvent is Mailpit's "stats" event payload.
type statsEvent struct {
	Total   int    `json:"Total"`
	Unread  int    `json:"Unread"`
	Version string `json:"Version"`
}

// ChaosChanged tells browsers that the chaos configuration changed, with
// a {"Type":"chaos","Data":{"Active":…}} event; they refetch
// /api/v1/chaos for the details. Like Publish it never blocks: main calls
// it from chaos.Options.Changed, which runs in the API handler that made
// the change.
func (h *Hub) ChaosChanged(active bool) {
	h.broadcast(wireEvent{Type: "chaos", Data: chaosEvent{Active: active}})
}

// chaosEvent is the payload of a "chaos" event.
type chaosEvent struct {
	Active bool `json:"Active"` // anything can fire
}

// Changed returns a channel that is closed when the next message arrives.
// Take it before checking for mail, then wait on it: no arrival is missed.
func (h *Hub) Changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

// subscribe registers a websocket client; nil when the hub is closed.
func (h *Hub) subscribe() *subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	s := &subscriber{c: make(chan []byte, subscriberBuffer)}
	h.subs[s] = struct{}{}
	return s
}

func (h *Hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
	s.close()
}

// Close disconnects every websocket client and releases every waiter.
// main registers it with http.Server.RegisterOnShutdown, since Shutdown
// does not close hijacked connections.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for s := range h.subs {
		s.close()
	}
	clear(h.subs)
	close(h.changed)
	if h.statsTimer != nil {
		h.statsTimer.Stop()
	}
	if h.wakeTimer != nil {
		h.wakeTimer.Stop()
	}
}

// isClosed reports whether Close was called.
func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}
