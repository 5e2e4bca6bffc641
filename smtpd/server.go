// Package smtpd is mailsink's RFC 5321 SMTP server: strict about the
// protocol where it matters for safety (paths, STARTTLS, DATA framing),
// lenient where real clients are sloppy, and it hands every accepted
// message to a Backend.
//
// Supported: EHLO/HELO, MAIL, RCPT, DATA, BDAT (CHUNKING, BINARYMIME),
// RSET, NOOP, QUIT, HELP, VRFY/EXPN (never revealing anything), STARTTLS,
// implicit TLS, AUTH PLAIN/LOGIN/CRAM-MD5, PIPELINING, SIZE, 8BITMIME,
// SMTPUTF8, ENHANCEDSTATUSCODES and DSN parameters (recorded, not acted on).
package smtpd

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown or Close, and by a
// second Shutdown or Close.
var ErrServerClosed = errors.New("smtpd: server closed")

// AuthMode says whether and how clients authenticate.
type AuthMode int

const (
	AuthAny     AuthMode = iota // default: AUTH offered (PLAIN LOGIN CRAM-MD5), any credentials accepted, not required
	AuthNone                    // AUTH not advertised; AUTH command → 502 5.5.1
	AuthRequire                 // any credentials accepted, but AUTH needed before MAIL (530 5.7.0)
	AuthUsers                   // only Config.Users credentials (user→password), required
)

// Config configures a Server. Zero fields mean the documented defaults.
type Config struct {
	Hostname       string        // greeting / EHLO / Received "by"; default "localhost"
	MaxMessageSize int64         // bytes, advertised in SIZE; 0 = unlimited (SIZE advertised without number)
	MaxRecipients  int           // 0 = unlimited; beyond it 452 4.5.3
	MaxConnections int           // 0 = unlimited; beyond it the new client gets 421 4.7.0 and is closed
	MaxConnsPerIP  int           // concurrent connections from one client IP; 0 = unlimited; beyond it 421 4.7.0 and close
	CommandTimeout time.Duration // idle wait for a command line; default 5m; expiry → 421 4.4.2 + close
	DataTimeout    time.Duration // wait for each chunk of DATA/BDAT content; default 10m
	// MinDataRate bounds a whole DATA or BDAT transfer, not just each
	// read: it must end within DataTimeout plus one second per
	// MinDataRate octets received, so a client trickling a byte at a
	// time cannot hold a session forever. Octets per second; default
	// 500 (Postfix's smtpd_min_data_rate); negative: no such bound.
	MinDataRate int
	TLS         *tls.Config // nil: STARTTLS not advertised and ServeTLS fails
	Auth        AuthMode
	Users       map[string]string
	// LookupAddr does the reverse DNS lookup for the Received header; nil
	// means net.DefaultResolver.LookupAddr. It gets a 300 ms budget and
	// failures just mean no name.
	LookupAddr func(ctx context.Context, ip string) ([]string, error)
	// Chaos, when set, is consulted at every stage of every session (see
	// Stage) and can make the server reply differently, wait, slow down or
	// hang up. nil: no chaos.
	Chaos Chaos
	// Observer, when set, is told about sessions, handshakes, replies and
	// messages, for metrics. nil: nobody is told.
	Observer Observer
}

const (
	defaultCommandTimeout = 5 * time.Minute
	defaultDataTimeout    = 10 * time.Minute
	defaultMinDataRate    = 500
	lookupBudget          = 300 * time.Millisecond
	rejectWriteTimeout    = 5 * time.Second
)

// Server is an SMTP server. Create it with New; it is safe for
// concurrent use and may serve several listeners at once.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger

	baseCtx context.Context // parent of every delivery context; Close cancels it
	cancel  context.CancelFunc

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perIP     map[netip.Addr]int // open sessions per client IP, kept when MaxConnsPerIP > 0
	closed    bool               // Shutdown or Close called: no new listeners or conns
	done      chan struct{}      // closed with closed=true; wakes accept back-off
	wg        sync.WaitGroup     // one per connection goroutine (including rejections)

	shutting atomic.Bool // Shutdown in progress: idle sessions get 421 4.3.2
}

// New returns a Server that delivers accepted messages to b.
func New(cfg Config, b Backend, log *slog.Logger) *Server {
	cfg.Hostname = cmp.Or(cfg.Hostname, "localhost")
	cfg.CommandTimeout = cmp.Or(cfg.CommandTimeout, defaultCommandTimeout)
	cfg.DataTimeout = cmp.Or(cfg.DataTimeout, defaultDataTimeout)
	cfg.MinDataRate = cmp.Or(cfg.MinDataRate, defaultMinDataRate)
	if cfg.LookupAddr == nil {
		cfg.LookupAddr = net.DefaultResolver.LookupAddr
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:       cfg,
		backend:   b,
		log:       log,
		baseCtx:   ctx,
		cancel:    cancel,
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		perIP:     make(map[netip.Addr]int),
		done:      make(chan struct{}),
	}
}

// Serve accepts plain SMTP connections on l (STARTTLS offered when
// Config.TLS is set) until Shutdown or Close, then returns ErrServerClosed.
// It closes l on return.
func (s *Server) Serve(l net.Listener) error {
	return s.serve(l, false)
}

// ServeTLS accepts implicit-TLS connections (SMTPS, RFC 8314) on l using
// Config.TLS; STARTTLS is not offered there.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.cfg.TLS == nil {
		return errors.New("smtpd: ServeTLS needs Config.TLS")
	}
	return s.serve(l, true)
}

func (s *Server) serve(l net.Listener, implicitTLS bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close() //nolint:errcheck // usually already closed by Shutdown
	}()

	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accept: %w", err)
			}
			// Transient failure (EMFILE…): back off like net/http.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
			}
			continue
		}
		backoff = 0
		s.startConn(nc, implicitTLS)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// startConn registers nc and starts its goroutine, or turns it away when
// the server is closing or full.
func (s *Server) startConn(nc net.Conn, implicitTLS bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		nc.Close() //nolint:errcheck // refusing a connection
		return
	}
	s.wg.Add(1)
	if s.cfg.MaxConnections > 0 && len(s.conns) >= s.cfg.MaxConnections {
		go s.reject(nc, "too many connections", "Too many connections, try again later")
		return
	}
	ip := remoteIP(nc.RemoteAddr()) // zero for non-IP listeners: one shared count
	if s.cfg.MaxConnsPerIP > 0 {
		if s.perIP[ip] >= s.cfg.MaxConnsPerIP {
			go s.reject(nc, "too many connections from one address", "Too many connections from your address, try again later")
			return
		}
		s.perIP[ip]++
	}
	c := newConn(s, nc, implicitTLS)
	c.ip = ip
	s.conns[c] = struct{}{}
	go c.serve()
}

// reject answers a connection over MaxConnections or MaxConnsPerIP with
// 421 4.7.0 and closes it.
func (s *Server) reject(nc net.Conn, event, text string) {
	defer s.wg.Done()
	defer nc.Close() //nolint:errcheck // closing a refused connection
	s.log.Warn(event, "remote", nc.RemoteAddr().String())
	if err := nc.SetWriteDeadline(time.Now().Add(rejectWriteTimeout)); err != nil {
		return
	}
	fmt.Fprintf(nc, "421 4.7.0 %s %s\r\n", s.cfg.Hostname, text) //nolint:errcheck // best effort
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if s.cfg.MaxConnsPerIP > 0 {
		if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
			delete(s.perIP, c.ip)
		}
	}
	s.mu.Unlock()
	s.wg.Done()
}

// beginClose marks the server closed and closes the listeners. It
// reports false if it was already closed.
func (s *Server) beginClose() ([]*conn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	s.closed = true
	close(s.done)
	for l := range s.listeners {
		l.Close() //nolint:errcheck // stop accepting; Serve reports ErrServerClosed
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns, true
}

// Shutdown stops accepting, tells sessions idle in a command read
// "421 4.3.2 Service shutting down" and closes them, lets DATA/BDAT
// transfers and deliveries in flight finish (they get their normal reply,
// then 421 4.3.2), and returns once every session is gone. Delivery
// contexts are not cancelled. If ctx ends first, everything is closed
// (and delivery contexts cancelled) as by Close, and ctx.Err() is
// returned. A second Shutdown or Close returns ErrServerClosed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	conns, ok := s.beginClose()
	if !ok {
		return ErrServerClosed
	}
	for _, c := range conns {
		c.interruptIdle()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.forceClose()
		<-done
		return ctx.Err()
	}
}

// Close closes all listeners and connections immediately, cancels the
// delivery contexts and waits for the sessions to end.
func (s *Server) Close() error {
	if _, ok := s.beginClose(); !ok {
		return ErrServerClosed
	}
	s.forceClose()
	s.wg.Wait()
	return nil
}

func (s *Server) forceClose() {
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.closeNow()
	}
}
