// Package webui serves mailsink's HTTP side: the JSON API (Mailpit API v1
// compatible paths and shapes), the sandboxed message views under /view/,
// health probes and the browser UI from an fs.FS.
//
// The handlers read messages through Messages, a small interface that
// *store.DB satisfies; webui translates store types to the Mailpit wire
// shapes in one place (mailpit.go) and maps errors to responses in one
// place (json.go).
package webui

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"mailsink/store"
)

// Messages is the subset of *store.DB the handlers use. It is defined here,
// by its consumer, so that another backend (or a test fake) can stand in.
type Messages interface {
	Ping(ctx context.Context) error
	List(ctx context.Context, start, limit int) ([]store.Summary, error)
	Find(ctx context.Context, f store.Filter) (store.Page, error)
	FindIDs(ctx context.Context, f store.Filter) ([]string, error)
	Stats(ctx context.Context) (store.Stats, error)
	LatestID(ctx context.Context) (string, error)
	Get(ctx context.Context, id string) (*store.Message, error)
	Raw(ctx context.Context, id string) ([]byte, error)
	Part(ctx context.Context, id, partID string) (*store.Part, []byte, error)
	PartContents(ctx context.Context, id string, partIDs []string) (map[string][]byte, error)
	SetRead(ctx context.Context, ids []string, read bool) error
	Delete(ctx context.Context, ids []string) (int, error)
	DeleteAll(ctx context.Context) error
	Insert(ctx context.Context, id string, env store.Envelope, raw []byte) (*store.Summary, error)
	Tags(ctx context.Context) ([]string, error)
	SetTags(ctx context.Context, ids []string, tags []string) error
	RenameTag(ctx context.Context, from, to string) error
	DeleteTag(ctx context.Context, tag string) error
	Inboxes(ctx context.Context) ([]store.Inbox, error)
}

// Config is what the API reports about the running instance.
type Config struct {
	Version  string    // reported by /api/v1/info
	Database string    // path reported by /api/v1/info
	Started  time.Time // for uptime; zero means the time New was called
	Label    string    // optional instance label shown by UIs (/api/v1/webui)
	// Chaos is the chaos engine the SMTP server consults, controlled by
	// /api/v1/chaos and /api/v2/jim; nil: those routes answer 404.
	Chaos Chaos

	// LoopbackOnly says the server listens on loopback only: then the
	// Host header is checked even without AllowedHosts (see checkHost).
	LoopbackOnly bool
	// AllowedHosts are the names the Host header may carry besides
	// localhost and loopback IPs ("*" any, ".example.test" a domain and
	// its subdomains). Set, they are enforced whatever the listen address.
	AllowedHosts []string
	// CORSOrigins may make cross-origin requests, reads and writes ("*"
	// any origin, without credentials). Empty: no CORS headers at all.
	CORSOrigins []string
	// Auth, when not nil, requires a login for everything but the probes.
	Auth *Auth

	// Root is the path prefix everything is served under, for a reverse
	// proxy that forwards /mail/ unchanged: "/mail/" serves the UI at
	// /mail/, the API at /mail/api/v1/… and so on. "" or "/" is the root.
	// The probes also answer at /livez and /readyz, where container and
	// Kubernetes probes look without knowing the prefix.
	Root string

	// Observer, when set, is told about every request and websocket
	// client, for metrics.
	Observer Observer
	// Metrics, when set, is served at GET /metrics (e.g. Prometheus's
	// text format) behind the same guards as the API: Host check and
	// login, so a scraper of a server started with --ui-auth sends the
	// bearer token. nil: /metrics is the UI's 404 like any unknown path.
	Metrics http.Handler
}

// Server is the HTTP handler for the API, the message views and the UI.
// It is safe for concurrent use.
type Server struct {
	cfg  Config
	msgs Messages
	log  *slog.Logger
	api  *routeMux    // every route under /api/ and /view/, plus the probes
	ui   http.Handler // everything else

	hub      *Hub // change events for websockets and waiters
	upgrader *websocket.Upgrader
	auth     *authenticator // nil: no login required

	// cie parses the embedded caniemail data on first use (about 8 ms) and
	// keeps it: only html-check needs it, start-up should not pay for it.
	cie func() (*cieData, error)

	// chaosMu serialises the chaos routes that read, then change, the
	// engine (PUT keeps the seed, POST /api/v2/jim checks Jim is off).
	chaosMu sync.Mutex
}

// New returns a Server that reads messages from msgs, streams hub's events
// and serves the browser UI from ui. hub must receive the store's events
// (store.Options.Notify = hub.Publish). log receives request failures
// (never sent to clients); nil discards them.
func New(cfg Config, msgs Messages, hub *Hub, ui fs.FS, log *slog.Logger) *Server {
	if cfg.Started.IsZero() {
		cfg.Started = time.Now()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Root = "/" + strings.Trim(cfg.Root, "/") + "/"
	if cfg.Root == "//" {
		cfg.Root = "/"
	}
	s := &Server{
		cfg:  cfg,
		msgs: msgs,
		log:  log,
		api:  &routeMux{ServeMux: http.NewServeMux()},

		hub:  hub,
		auth: newAuthenticator(cfg.Auth),
		cie:  sync.OnceValues(func() (*cieData, error) { return parseCaniemail(caniemailJSON) }),
	}
	s.upgrader = s.newUpgrader()
	if hub.stats == nil {
		hub.stats = msgs.Stats
	}
	s.routes(ui)
	return s
}

// ServeHTTP sets the headers every response carries, runs the request
// guards (guard.go, auth.go), normalises the path and dispatches to the
// API mux or the UI. Requests no API route matches get a JSON 404 or 405
// instead of net/http's text replies.
//
// With Config.Observer set, every request but a websocket's is reported
// with its route pattern, status and duration.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Observer == nil {
		s.serve(w, r)
		return
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	route := s.serve(sw, r)
	if sw.hijacked {
		return
	}
	s.cfg.Observer.Request(route, cmp.Or(sw.status, http.StatusOK), time.Since(start))
}

// serve is ServeHTTP without the Observer; it returns the route label
// (see Observer.Request).
func (s *Server) serve(w http.ResponseWriter, r *http.Request) string {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if s.cfg.Root != "/" {
		var ok bool
		if r, ok = s.stripRoot(w, r); !ok {
			return RouteOutside
		}
	}
	if p := cleanPath(r.URL.Path); isAPIPath(p) || isProbePath(p) || p == "/metrics" {
		// JSON, metrics and downloads opened in a tab run nothing and
		// cannot be framed; /view/ and the part routes set their own policy.
		h.Set("Content-Security-Policy", apiCSP)
	}
	if !s.guard(w, r) {
		return RouteRefused
	}

	// Clients such as cypress-mailpit ask for //view/{id}.html; answer with
	// a 307 to the clean path, as Mailpit does. url.URL.String escapes the
	// path, so the Location can never become protocol-relative.
	if p := cleanPath(r.URL.Path); p != r.URL.Path && r.Method != http.MethodConnect {
		u := url.URL{Path: s.cfg.Root + p[1:], RawQuery: r.URL.RawQuery}
		http.Redirect(w, r, u.String(), http.StatusTemporaryRedirect)
		return RouteRedirect
	}

	if _, pattern := s.api.Handler(r); pattern != "" {
		s.api.ServeHTTP(w, r) // ServeHTTP (not the returned handler) sets r.PathValue
		return pattern
	}
	if !isAPIPath(r.URL.Path) {
		s.ui.ServeHTTP(w, r)
		return RouteUI
	}
	s.noRoute(w, r)
	return RouteNoRoute
}

// stripRoot maps a request under Config.Root to the path the routes know
// (/mail/api/v1/info → /api/v1/info) and reports whether it goes on; when
// not, it has answered. The root without its slash and "/" redirect to
// the root, so that the UI's relative URLs resolve under it; the probes
// answer at the root as well; any other path outside the root is a 404.
func (s *Server) stripRoot(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, s.cfg.Root); ok {
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path = "/" + rest
		// The root is plain ASCII (see normalizeWebroot in main), so an
		// escaped path starts with it too; drop RawPath if it does not.
		u.RawPath = ""
		if rest, ok := strings.CutPrefix(r.URL.RawPath, s.cfg.Root); ok {
			u.RawPath = "/" + rest
		}
		r2.URL = &u
		return r2, true
	}
	if isProbePath(p) {
		return r, true
	}
	if (p == "/" || p == strings.TrimSuffix(s.cfg.Root, "/")) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		u := url.URL{Path: s.cfg.Root, RawQuery: r.URL.RawQuery}
		http.Redirect(w, r, u.String(), http.StatusTemporaryRedirect)
		return nil, false
	}
	w.Header().Set("Content-Security-Policy", apiCSP)
	s.writeError(w, r, fmt.Errorf("%w: everything is served under %s", errNoRoute, s.cfg.Root))
	return nil, false
}

// apiCSP is the Content-Security-Policy of API replies.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; sandbox"

// guard runs the request guards and reports whether r may go on; when not,
// it has answered. The probes skip them (see isProbePath).
func (s *Server) guard(w http.ResponseWriter, r *http.Request) bool {
	if isProbePath(r.URL.Path) {
		return true
	}
	if err := s.checkHost(r); err != nil {
		s.writeError(w, r, err)
		return false
	}
	if s.corsHeaders(w, r) {
		return false // a preflight, answered
	}
	if err := s.checkCrossSite(r); err != nil {
		s.writeError(w, r, err)
		return false
	}
	if s.auth != nil {
		if err := s.auth.check(r); err != nil {
			s.auth.challenge(w.Header())
			s.writeError(w, r, err)
			return false
		}
	}
	return true
}

// noRoute answers an API request that matched no route with the status the
// mux would have used (404, or 405 with its Allow header), as JSON.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	h, _ := s.api.Handler(r)
	rec := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		s.writeError(w, r, errMethodNotAllowed)
		return
	}
	s.writeError(w, r, errNoRoute)
}

// isAPIPath reports whether p belongs to the API's namespace, where every
// reply is JSON, rather than to the UI.
func isAPIPath(p string) bool {
	return p == "/api" || strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/view/")
}

// cleanPath is path.Clean that keeps a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// uiHandler serves the browser UI from ui: GET and HEAD only.
func (s *Server) uiHandler(ui fs.FS) http.Handler {
	files := http.FileServerFS(ui)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			s.writeError(w, r, errMethodNotAllowed)
			return
		}
		// The app's own pages: scripts, styles and frames from our origin
		// only (no inline script or style), connections (fetch and the
		// live websocket: CSP Level 3 'self' covers ws: and wss: of our
		// host) only to us, and email HTML only ever inside the sandboxed
		// /view/ iframe.
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; "+
			"script-src 'self'; connect-src 'self'; frame-src 'self'; object-src 'none'; "+
			"base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// statusRecorder captures the status and headers a handler writes and
// discards its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (rec *statusRecorder) Header() http.Header { return rec.header }

func (rec *statusRecorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return len(b), nil
}

func (rec *statusRecorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
}
