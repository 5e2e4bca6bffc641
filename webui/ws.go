package webui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

const (
	writeWait  = 10 * time.Second  // a write must finish within this
	pongWait   = 60 * time.Second  // the client must answer pings within this
	pingPeriod = pongWait * 9 / 10 // how often we ping
	maxInbound = 4096              // clients send nothing we read; cap what they may
	wsBuffer   = 4096              // read/write buffer sizes
	eventsPath = "GET /api/events" // Mailpit's event stream
	mailhogWS  = "GET /api/v2/websocket"
)

// newUpgrader builds the websocket upgrader. Another site's page must not
// read our mail: a handshake from a browser (it always sends Origin) must
// come from our own origin or one --cors-origin allows. ServeHTTP's guard
// has already refused others with a JSON 403 (checkCrossSite treats every
// handshake as a write); CheckOrigin repeats the rule where gorilla wants
// it. Handshake errors are JSON like every other API error.
func (s *Server) newUpgrader() *websocket.Upgrader {
	return &websocket.Upgrader{
		ReadBufferSize:  wsBuffer,
		WriteBufferSize: wsBuffer,
		CheckOrigin: func(r *http.Request) bool {
			origin := r.Header.Get("Origin")
			return origin == "" || sameOrigin(origin, r) || s.corsAllowed(origin)
		},
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			s.writeJSON(w, r, status, errorBody{"websocket: " + reason.Error()})
		},
	}
}

// handleEvents streams change events as {"Type","Data"} JSON frames:
// new, update, delete, truncate and stats (Mailpit's /api/events).
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	s.serveSocket(w, r, func(ev []byte) ([]byte, bool) { return ev, true })
}

// handleMailhogEvents is MailHog's /api/v2/websocket: each new message,
// as a MailHog message object; nothing else.
func (s *Server) handleMailhogEvents(w http.ResponseWriter, r *http.Request) {
	s.serveSocket(w, r, func(ev []byte) ([]byte, bool) {
		var e struct {
			Type string
			Data struct{ ID string }
		}
		if json.Unmarshal(ev, &e) != nil || e.Type != "new" {
			return nil, false
		}
		m, err := s.mailhogMessage(r.Context(), e.Data.ID)
		if err != nil {
			return nil, false // deleted meanwhile, or the store failed: skip it
		}
		b, err := json.Marshal(m)
		return b, err == nil
	})
}

// serveSocket upgrades to a websocket and sends each hub event through
// frame (which may drop it). One goroutine reads (and discards, keeping
// the pong deadline fresh); this one owns every write.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request, frame func([]byte) ([]byte, bool)) {
	sub := s.hub.subscribe()
	if sub == nil {
		s.writeError(w, r, fmt.Errorf("%w: shutting down", errUnavailable))
		return
	}
	defer s.hub.unsubscribe(sub)
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has already answered the client
	}
	defer conn.Close()
	if o := s.cfg.Observer; o != nil {
		o.WebsocketOpened()
		defer o.WebsocketClosed()
	}

	conn.SetReadLimit(maxInbound)
	conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()

	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	for {
		select {
		case ev, ok := <-sub.c:
			if !ok {
				// Dropped as too slow, or the hub closed: say goodbye; the
				// client reconnects and resyncs.
				conn.SetWriteDeadline(time.Now().Add(writeWait))
				conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""))
				return
			}
			b, send := frame(ev)
			if !send {
				continue
			}
			conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
				return
			}
		case <-ping.C:
			conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		case <-readerDone:
			return
		}
	}
}
