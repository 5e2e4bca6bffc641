package webui

import (
	"bufio"
	"net"
	"net/http"
	"time"
)

// Observer is told about requests and websocket clients, for metrics;
// webui knows no metrics library (main adapts one). Methods are called
// concurrently and must be quick.
type Observer interface {
	// Request is called when a request is done. route is the pattern of
	// the API route that served it ("GET /api/v1/message/{id}"), never the
	// raw path, so its values are few; else one of RouteUI, RouteNoRoute,
	// RouteRefused, RouteRedirect, RouteOutside. Websocket requests are
	// not reported here (they last as long as the client stays): see
	// WebsocketOpened.
	Request(route string, status int, d time.Duration)
	// WebsocketOpened and WebsocketClosed bracket every event stream
	// client (/api/events, /api/v2/websocket) once upgraded.
	WebsocketOpened()
	WebsocketClosed()
}

// Route labels of requests that no API route served.
const (
	RouteUI       = "ui"       // the browser UI's files
	RouteNoRoute  = "no route" // under /api/ or /view/, matching no route: 404 or 405
	RouteRefused  = "refused"  // stopped by a guard: Host, CORS preflight, cross-site, login
	RouteRedirect = "redirect" // a non-canonical path redirected to the clean one
	RouteOutside  = "outside"  // outside Config.Root: redirected to it, or 404
	metricsRoute  = "GET /metrics"
)

// statusWriter remembers the status a handler sent, for Observer.Request.
// It passes Flush and Hijack through (the event streams hijack, downloads
// flush) and Unwrap for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	w.hijacked = err == nil
	return nc, rw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
