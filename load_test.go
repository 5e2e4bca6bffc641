package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailsink/store"
)

// This file is a load generator for the durability tests: many SMTP
// sessions at once against the real binary, each message carrying a
// unique token, with a ledger of what every message got back, and a
// check of that ledger against the database file.

// loadTarget is the SMTP address the load goes to; a test moves it when
// it restarts the server (each start binds a new port).
type loadTarget struct {
	mu    sync.Mutex
	addr  string
	moved chan struct{} // closed when addr changes
}

func newLoadTarget(addr string) *loadTarget {
	return &loadTarget{addr: addr, moved: make(chan struct{})}
}

func (t *loadTarget) get() (string, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addr, t.moved
}

func (t *loadTarget) set(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addr = addr
	close(t.moved)
	t.moved = make(chan struct{})
}

// outcome is what a message whose content was sent got back.
type outcome int

const (
	outNoReply  outcome = iota // the connection ended before the final reply
	outAcked                   // 250
	outRejected                // any other final reply
)

// sentMsg is one message of the ledger.
type sentMsg struct {
	token   string
	sum     [sha256.Size]byte // of the bytes the server must store after its own header fields
	size    int
	out     outcome
	reply   string        // the final reply, "code text"
	id      string        // the queue id of a 250
	latency time.Duration // end of content sent → final reply
	at      time.Time     // when the final reply came
}

// sessionEnd is how a session ended.
type sessionEnd struct {
	reply string // the last reply read ("421 4.3.2 …"), "" if none
	err   error  // the error that ended it; nil after our QUIT
	at    time.Time
}

// loadGen runs SMTP sessions that send messages back to back.
type loadGen struct {
	target  *loadTarget
	modes   []string // per worker, round robin: "data", "pipelined", "bdat"
	sizes   func(r *rand.Rand) int
	retry   bool // redial after a failed session (off: the worker stops)
	text    []string
	seq     atomic.Int64
	running sync.WaitGroup

	mu       sync.Mutex
	msgs     []*sentMsg
	sessions []sessionEnd
}

func newLoadGen(target *loadTarget) *loadGen {
	g := &loadGen{
		target: target,
		modes:  []string{"data", "pipelined", "bdat"},
		sizes:  mixedSize,
		retry:  true,
	}
	// A pool of 76-character body lines; every 13th starts with a dot (DATA
	// must stuff it, the store must not keep the stuffing).
	r := rand.New(rand.NewPCG(7, 7))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-"
	for i := range 8192 {
		var b strings.Builder
		if i%13 == 0 {
			b.WriteByte('.')
		}
		for b.Len() < 76 {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		g.text = append(g.text, b.String())
	}
	return g
}

// mixedSize: mostly small messages, some of tens of KiB, a few large.
func mixedSize(r *rand.Rand) int {
	switch p := r.IntN(100); {
	case p < 70:
		return 500 + r.IntN(4<<10)
	case p < 95:
		return 10<<10 + r.IntN(50<<10)
	default:
		return 200<<10 + r.IntN(300<<10)
	}
}

// smallSize: the messages of a latency measurement.
func smallSize(r *rand.Rand) int { return 500 + r.IntN(3<<10) }

// message returns a new message with its unique token.
func (g *loadGen) message(r *rand.Rand) (token string, raw []byte) {
	token = fmt.Sprintf("tok%06d", g.seq.Add(1))
	size := g.sizes(r)
	var b bytes.Buffer
	b.Grow(size + 256)
	fmt.Fprintf(&b, "From: load@client.test\r\nTo: sink@mx.test\r\nSubject: %s\r\nMessage-ID: <%s@client.test>\r\n\r\n", token, token)
	for i := r.IntN(len(g.text)); b.Len() < size; i = (i + 1) % len(g.text) {
		b.WriteString(g.text[i])
		b.WriteString("\r\n")
	}
	return token, b.Bytes()
}

// start runs workers sessions until ctx is done; wait waits for them.
func (g *loadGen) start(ctx context.Context, workers int) {
	for w := range workers {
		g.running.Add(1)
		go func() {
			defer g.running.Done()
			g.worker(ctx, w)
		}()
	}
}

func (g *loadGen) wait() { g.running.Wait() }

// sendN sends n messages over workers sessions (each its own connection)
// and returns once every one has its final reply.
func (g *loadGen) sendN(n, workers int) {
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			addr, _ := g.target.get()
			s, err := dialLoad(addr)
			if err != nil {
				return
			}
			defer s.nc.Close()
			if err := s.cmds([]int{250}, "EHLO load.test"); err != nil {
				return
			}
			for left.Add(-1) >= 0 {
				token, raw := g.message(r)
				if err := s.send(g, g.modes[w%len(g.modes)], token, raw); err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
}

func (g *loadGen) worker(ctx context.Context, w int) {
	r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	mode := g.modes[w%len(g.modes)]
	for ctx.Err() == nil {
		addr, moved := g.target.get()
		s, err := dialLoad(addr)
		if err == nil {
			err = s.run(ctx, g, r, mode)
			g.mu.Lock()
			g.sessions = append(g.sessions, sessionEnd{reply: s.last, err: err, at: time.Now()})
			g.mu.Unlock()
		}
		if !g.retry {
			return
		}
		if err != nil {
			// The server is gone (killed, restarting): wait for the next one.
			select {
			case <-moved:
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond): // same server, try again
			}
		}
	}
}

// loadSession is one SMTP connection of the load generator.
type loadSession struct {
	nc   net.Conn
	w    *bufio.Writer
	r    *textproto.Reader
	last string // the last reply read
}

func dialLoad(addr string) (*loadSession, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	s := &loadSession{nc: nc, w: bufio.NewWriter(nc), r: textproto.NewReader(bufio.NewReader(nc))}
	if _, err := s.reply(); err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}

// reply reads one reply; a transport error is an error, any code is not.
func (s *loadSession) reply() (int, error) {
	s.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	code, msg, err := s.r.ReadResponse(0)
	if err != nil {
		if _, ok := err.(*textproto.Error); !ok {
			return 0, err
		}
	}
	s.last = fmt.Sprintf("%d %s", code, msg)
	return code, nil
}

// cmds writes lines (pipelined: one flush) and reads one reply each; it
// fails on the first reply that is not want.
func (s *loadSession) cmds(want []int, lines ...string) error {
	for _, l := range lines {
		s.w.WriteString(l + "\r\n")
	}
	if err := s.flush(); err != nil {
		s.reply() //nolint:errcheck // only to learn the closing reply
		return err
	}
	var bad error
	for i := range lines {
		code, err := s.reply()
		if err != nil {
			return err
		}
		if code != want[i] && bad == nil {
			bad = fmt.Errorf("%s: %s", lines[i], s.last)
		}
	}
	return bad
}

// run sends messages until ctx is done or the session fails; it returns
// nil after a QUIT, else what ended the session.
func (s *loadSession) run(ctx context.Context, g *loadGen, r *rand.Rand, mode string) error {
	defer s.nc.Close()
	if err := s.cmds([]int{250}, "EHLO load.test"); err != nil {
		return err
	}
	for ctx.Err() == nil {
		token, raw := g.message(r)
		if err := s.send(g, mode, token, raw); err != nil {
			return err
		}
	}
	return s.cmds([]int{221}, "QUIT")
}

// send delivers one message and records it in g's ledger once its content
// is on the way.
func (s *loadSession) send(g *loadGen, mode, token string, raw []byte) error {
	from, to := "MAIL FROM:<load@client.test>", "RCPT TO:<sink@mx.test>"
	m := &sentMsg{token: token, sum: sha256.Sum256(raw), size: len(raw)}
	record := func() {
		g.mu.Lock()
		g.msgs = append(g.msgs, m)
		g.mu.Unlock()
	}
	switch mode {
	case "data":
		if err := s.cmds([]int{250}, from); err != nil {
			return err
		}
		if err := s.cmds([]int{250}, to); err != nil {
			return err
		}
		if err := s.cmds([]int{354}, "DATA"); err != nil {
			return err
		}
		record()
		if err := s.writeDotted(raw); err != nil {
			if code, rerr := s.reply(); rerr == nil {
				g.finish(m, code, s.last, time.Now())
			}
			return err
		}
	case "pipelined":
		if err := s.cmds([]int{250, 250, 354}, from, to, "DATA"); err != nil {
			return err
		}
		record()
		if err := s.writeDotted(raw); err != nil {
			if code, rerr := s.reply(); rerr == nil {
				g.finish(m, code, s.last, time.Now())
			}
			return err
		}
	case "bdat":
		// Envelope and content in one write: the content is sent before
		// any reply, so the message is in the ledger from the start.
		record()
		fmt.Fprintf(s.w, "%s\r\n%s\r\nBDAT %d LAST\r\n", from, to, len(raw))
		s.w.Write(raw)
		if err := s.flush(); err != nil {
			if code, rerr := s.reply(); rerr == nil && code != 250 {
				g.finish(m, code, s.last, time.Now()) // the reply to MAIL
			}
			return err
		}
		for range 2 {
			code, err := s.reply()
			if err != nil {
				return err
			}
			if code != 250 {
				// Refused before the content counted (421 at shutdown):
				// the message is refused; the session ends here.
				g.finish(m, code, s.last, time.Now())
				return fmt.Errorf("envelope refused: %s", s.last)
			}
		}
	}
	sent := time.Now()
	code, err := s.reply()
	if err != nil {
		return err
	}
	g.finish(m, code, s.last, sent)
	return nil
}

// finish records the final reply of m.
func (g *loadGen) finish(m *sentMsg, code int, reply string, sent time.Time) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	m.reply, m.at, m.latency = reply, now, now.Sub(sent)
	if code == 250 {
		m.out = outAcked
		if id := queuedID.FindStringSubmatch(reply); id != nil {
			m.id = id[1]
		}
	} else {
		m.out = outRejected
	}
}

// writeDotted sends raw (which ends in CRLF) as DATA content.
func (s *loadSession) writeDotted(raw []byte) error {
	for len(raw) > 0 {
		i := bytes.Index(raw, []byte("\r\n")) + 2
		if raw[0] == '.' {
			s.w.WriteByte('.')
		}
		s.w.Write(raw[:i])
		raw = raw[i:]
	}
	s.w.WriteString(".\r\n")
	return s.flush()
}

// flush sends what is buffered. When that fails because the server closed
// the connection, the reply it sent before closing (421 at shutdown) is
// usually still there to read: the caller reads it next, so s.last says
// why the session ended.
func (s *loadSession) flush() error {
	s.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return s.w.Flush()
}

// ledgerCounts are the figures of a ledger.
type ledgerCounts struct{ sent, acked, rejected, noReply int }

func (g *loadGen) counts() ledgerCounts {
	g.mu.Lock()
	defer g.mu.Unlock()
	var c ledgerCounts
	for _, m := range g.msgs {
		c.sent++
		switch m.out {
		case outAcked:
			c.acked++
		case outRejected:
			c.rejected++
		default:
			c.noReply++
		}
	}
	return c
}

// snapshot copies the ledger.
func (g *loadGen) snapshot() []sentMsg {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]sentMsg, len(g.msgs))
	for i, m := range g.msgs {
		out[i] = *m
	}
	return out
}

// checkIntegrity runs PRAGMA integrity_check on the database file,
// opened read-only, after the server has stopped.
func checkIntegrity(tb testing.TB, path string) {
	tb.Helper()
	conn, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query(`PRAGMA integrity_check`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			tb.Fatal(err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	if !slices.Equal(lines, []string{"ok"}) {
		tb.Errorf("integrity_check: %q", lines)
	}
}

// storedCopies opens the stopped server's database with the store and
// returns every stored message's raw bytes, grouped by the token in its
// subject.
func storedCopies(tb testing.TB, path string) map[string][][]byte {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	list, err := db.List(ctx, 0, 0)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][][]byte{}
	for _, s := range list {
		raw, err := db.Raw(ctx, s.ID)
		if err != nil {
			tb.Fatalf("raw of %s: %v", s.ID, err)
		}
		out[s.Subject] = append(out[s.Subject], raw)
	}
	return out
}

// checkLedger compares the ledger with what the database holds: every
// acknowledged message exactly once and byte for byte (after our
// Return-Path and Received), every refused one not at all, one that got no
// reply at most once and then intact, and nothing else.
func checkLedger(tb testing.TB, path string, msgs []sentMsg) (stored int) {
	tb.Helper()
	copies := storedCopies(tb, path)
	known := map[string]bool{}
	bad := 0
	fail := func(format string, args ...any) {
		if bad++; bad <= 20 {
			tb.Errorf(format, args...)
		}
	}
	for _, m := range msgs {
		known[m.token] = true
		got := copies[m.token]
		stored += len(got)
		switch {
		case m.out == outAcked && len(got) != 1:
			fail("%s: acknowledged (%s) but stored %d times", m.token, m.reply, len(got))
		case m.out == outRejected && len(got) != 0:
			fail("%s: refused (%s) but stored %d times", m.token, m.reply, len(got))
		case m.out == outNoReply && len(got) > 1:
			fail("%s: no reply, stored %d times", m.token, len(got))
		}
		for _, raw := range got {
			if len(raw) < m.size || sha256.Sum256(raw[len(raw)-m.size:]) != m.sum {
				fail("%s: stored bytes (%d) do not end with the %d bytes sent", m.token, len(raw), m.size)
			} else if !prefixRE.Match(raw[:len(raw)-m.size]) {
				fail("%s: prepended header block is not Return-Path + Received: %q", m.token, raw[:len(raw)-m.size])
			}
		}
	}
	for token := range copies {
		if !known[token] {
			fail("stored message %q was never sent", token)
		}
	}
	if bad > 20 {
		tb.Errorf("… and %d more", bad-20)
	}
	return stored
}

// quantile is the q-quantile (nearest rank) of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}
