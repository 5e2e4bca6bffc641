package webui

import (
	"cmp"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The request guards of ServeHTTP, in the order they run: Host (DNS
// rebinding), CORS preflight, authentication (auth.go), cross-site writes.
//
// A mail catcher holds password resets and sign-up links, and by default
// listens on every interface without a password; these guards keep other
// web pages the developer visits from reading or deleting that mail.

// Errors of the guards; writeError maps them to 403, 415 and 401.
var (
	errHostNotAllowed   = errors.New("host not allowed")
	errCrossSite        = errors.New("cross-origin request refused")
	errSimpleBody       = errors.New("unsupported content type")
	errUnauthenticated  = errors.New("authentication required")
	errOriginNotAllowed = errors.New("origin not allowed")
)

// isProbePath reports whether p is a health probe. Probes answer whatever
// the Host and without credentials: container and Kubernetes probes use
// the pod or container IP as Host and carry no credentials, and a probe's
// reply ("ok" or "not ready") holds nothing a DNS-rebinding page or a
// stranger could use.
func isProbePath(p string) bool { return p == "/livez" || p == "/readyz" }

// checkHost refuses a Host the server does not answer to (DNS rebinding:
// evil.test re-pointed at 127.0.0.1 makes the browser treat our API as
// evil.test's own origin; only the Host header still tells).
//
// The check runs when Config.AllowedHosts is set, or when the server
// listens on loopback only (Config.LoopbackOnly), where every legitimate
// browser uses localhost or a loopback IP. Allowed: localhost and its
// subdomains (browsers resolve *.localhost to loopback themselves, RFC 6761
// §6.3, so no DNS answer can re-point them), loopback IPs, and the names
// of AllowedHosts ("*" = any host; ".example.test" = that domain and its
// subdomains). A request without Host (HTTP/1.0 tools) is not a browser's
// and passes.
func (s *Server) checkHost(r *http.Request) error {
	if !s.cfg.LoopbackOnly && len(s.cfg.AllowedHosts) == 0 {
		return nil
	}
	if r.Host == "" {
		return nil
	}
	host := hostOnly(r.Host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	for _, a := range s.cfg.AllowedHosts {
		a = strings.ToLower(strings.TrimSpace(a))
		switch {
		case a == "*", a == host:
			return nil
		case strings.HasPrefix(a, ".") && (host == a[1:] || strings.HasSuffix(host, a)):
			return nil
		}
	}
	return fmt.Errorf("%w: %q is not localhost, a loopback address or a name in --allowed-hosts; "+
		"to reach mailsink under this name, start it with --allowed-hosts=%s (MAILSINK_ALLOWED_HOSTS)",
		errHostNotAllowed, host, host)
}

// hostOnly is the lower-cased host of a Host header or URL authority,
// without port and IPv6 brackets.
func hostOnly(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// isWrite reports whether r may change state or open the event stream:
// any method but GET, HEAD and OPTIONS, and every websocket handshake.
func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return isWebsocket(r)
	case http.MethodOptions:
		return false
	}
	return true
}

// isWebsocket reports whether r asks for a websocket upgrade.
func isWebsocket(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// checkCrossSite refuses a write a browser sends on behalf of another
// site's page. Browsers label every request with Origin (all non-GET
// requests and websocket handshakes) and, since 2020-2023 depending on the
// browser, Sec-Fetch-Site; a request with neither is not from a browser
// page (curl, CI client libraries, Node's fetch) and passes, as does one
// whose Origin --cors-origin allows.
//
// A POST with a body must also carry a type a form or a no-cors fetch
// cannot send (application/json rather than text/plain, form-urlencoded or
// multipart/form-data): such a request needs a CORS preflight, which we
// answer only for allowed origins. This covers browsers that send neither
// header.
func (s *Server) checkCrossSite(r *http.Request) error {
	if !isWrite(r) {
		return nil
	}
	// First, for every origin: an allowed one sends JSON anyway, and with
	// --cors-origin=* a form could otherwise post with the login the
	// browser keeps for us.
	if r.Method == http.MethodPost && r.ContentLength != 0 {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && isSimpleType(mt) {
			return fmt.Errorf("%w: %s; send the body as Content-Type: application/json", errSimpleBody, mt)
		}
	}
	origin := r.Header.Get("Origin")
	if origin != "" && s.corsAllowed(origin) {
		return nil
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default: // cross-site, same-site (another port or subdomain)
		return fmt.Errorf("%w: a page of another site (Sec-Fetch-Site: %s, Origin: %s) may not change mail here; "+
			"allow its origin with --cors-origin (MAILSINK_CORS_ORIGIN)", errCrossSite, site, cmp.Or(origin, "none"))
	}
	if origin != "" && !sameOrigin(origin, r) {
		return fmt.Errorf("%w: Origin %s is not this server's; allow it with --cors-origin (MAILSINK_CORS_ORIGIN)", errCrossSite, origin)
	}
	return nil
}

// isSimpleType reports whether a request body type is one a cross-origin
// form or no-cors fetch may send without a preflight.
func isSimpleType(mediaType string) bool {
	switch strings.ToLower(mediaType) {
	case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		return true
	}
	return false
}

// sameOrigin reports whether the Origin header names the host the request
// was sent to. Only host and port are compared: behind a TLS-terminating
// proxy the scheme we see is not the browser's, and no other site can
// serve on the same host and port. "null" (sandboxed frames, file: pages)
// is never the same origin.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(stripDefaultPort(u.Host, u.Scheme), stripDefaultPort(r.Host, u.Scheme))
}

func stripDefaultPort(hostport, scheme string) string {
	switch {
	case scheme == "http" && strings.HasSuffix(hostport, ":80"):
		return strings.TrimSuffix(hostport, ":80")
	case scheme == "https" && strings.HasSuffix(hostport, ":443"):
		return strings.TrimSuffix(hostport, ":443")
	}
	return hostport
}

// corsAllowed reports whether --cors-origin lets origin make cross-origin
// requests. "null" is never allowed, not even by "*".
func (s *Server) corsAllowed(origin string) bool {
	if origin == "" || origin == "null" {
		return false
	}
	origin = strings.TrimSuffix(origin, "/")
	return slices.ContainsFunc(s.cfg.CORSOrigins, func(o string) bool {
		return o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin)
	})
}

// corsHeaders adds the CORS response headers when --cors-origin allows the
// request's Origin, and reports whether r was a preflight it answered
// (then nothing more is to be done). Without an allowed Origin no CORS
// header is sent at all, so browsers keep other pages from reading replies.
//
// A named origin gets its own origin echoed with credentials allowed (the
// browser's basic-auth login is sent along); "*" answers "*" without
// credentials, so arbitrary sites can use only what needs no login.
func (s *Server) corsHeaders(w http.ResponseWriter, r *http.Request) (preflight bool) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	isPreflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	h.Add("Vary", "Origin")
	if !s.corsAllowed(origin) {
		if isPreflight && origin != "" {
			s.writeError(w, r, fmt.Errorf("%w: %s; allow it with --cors-origin (MAILSINK_CORS_ORIGIN)", errOriginNotAllowed, origin))
			return true
		}
		return false
	}
	if slices.Contains(s.cfg.CORSOrigins, "*") && !slices.ContainsFunc(s.cfg.CORSOrigins, func(o string) bool {
		return strings.EqualFold(strings.TrimSuffix(o, "/"), strings.TrimSuffix(origin, "/"))
	}) {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if !isPreflight {
		return false
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	h.Set("Access-Control-Max-Age", "600")
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return true
}
