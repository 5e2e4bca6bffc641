package smtpd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Chaos hooks: at each stage of the dialogue the server asks
// Config.Chaos what should go wrong, and does it. The rules themselves
// (matching, probabilities, greylisting…) live elsewhere; this file only
// knows the stages and how to carry out an action precisely.

// Stage is a point of the SMTP dialogue where chaos is consulted.
type Stage string

const (
	StageConnect  Stage = "connect"  // before the greeting
	StageHelo     Stage = "helo"     // HELO/EHLO, after the syntax check
	StageStartTLS Stage = "starttls" // STARTTLS, before "220 Ready"
	StageAuth     Stage = "auth"     // AUTH, once the credentials are known and valid
	StageMail     Stage = "mail"     // MAIL, once the reverse-path parsed
	StageRcpt     Stage = "rcpt"     // RCPT, once the forward-path parsed
	StageData     Stage = "data"     // DATA, or the first BDAT of a transaction
	StageMessage  Stage = "message"  // after the final dot or BDAT LAST, before the message is stored
	StageQuit     Stage = "quit"     // QUIT, before "221"
)

// Stages lists every stage in dialogue order.
var Stages = []Stage{StageConnect, StageHelo, StageStartTLS, StageAuth, StageMail, StageRcpt, StageData, StageMessage, StageQuit}

// ChaosPoint is what the session knows at a stage; rules match on it.
type ChaosPoint struct {
	Stage    Stage
	Remote   netip.Addr // the client's IP
	Helo     string     // at helo: the name being offered
	TLS      bool
	AuthUser string // at auth: the user being authenticated
	From     string // reverse-path, from the mail stage on ("" is also the null path)
	Rcpt     string // at rcpt: the recipient being added
	Rcpts    []string
	// Header and Size are set at the message stage only: the message's
	// top-level header fields (canonical keys) and its size in octets.
	Header textproto.MIMEHeader
	Size   int64
}

// ChaosAction is what should happen at a point. The zero value means
// "carry on normally".
type ChaosAction struct {
	Delay    time.Duration // wait this long first (then the rule's or the normal reply)
	Throttle int64         // limit the session to this many bytes/second from now on; 0 leaves it
	// Reply, when set, is sent instead of the normal processing of the
	// command; its Message may hold several lines separated by "\n". A
	// 421 closes the connection after the reply.
	Reply *Error
	// Disconnect closes the connection without a reply. At the data
	// stage with AfterBytes > 0 the server first says 354 (or takes BDAT
	// chunks) and accepts that many octets of content, or all of it if
	// the message ends first; nothing is stored.
	Disconnect bool
	AfterBytes int64
	// Notes say which rules fired and what they did: one transcript line each.
	Notes []string
}

// Chaos decides, at each stage of each session, what goes wrong. Decide
// is called concurrently from every session and must be quick; it is
// consulted for every command, so changes take effect at the next one.
type Chaos interface {
	Decide(p *ChaosPoint) ChaosAction
}

var (
	errChaosDisconnect = errors.New("smtpd: chaos: disconnected")
	errChaosCut        = errors.New("smtpd: chaos: content cut")
	errChaosRejected   = errors.New("smtpd: chaos: message rejected")
)

// chaosHeaderMax bounds the message header kept for matching at the
// message stage.
const chaosHeaderMax = 64 << 10

// chaosOn reports whether chaos may act at all; an engine that says it is
// inactive spares every command the ChaosPoint.
func (c *conn) chaosOn() bool {
	ch := c.srv.cfg.Chaos
	if ch == nil {
		return false
	}
	if a, ok := ch.(interface{ Active() bool }); ok {
		return a.Active()
	}
	return true
}

// point returns the session state as a ChaosPoint for stage (only the
// stage while chaos is off: chaos then ignores it).
func (c *conn) point(stage Stage) *ChaosPoint {
	p := &ChaosPoint{Stage: stage}
	if !c.chaosOn() {
		return p
	}
	p.Helo, p.TLS, p.AuthUser = c.helo, c.tls != nil, c.authUser
	if ap, err := netip.ParseAddrPort(c.raw.RemoteAddr().String()); err == nil {
		p.Remote = ap.Addr().Unmap()
	}
	if c.tx != nil {
		p.From = c.tx.from
		for _, r := range c.tx.rcpts {
			p.Rcpts = append(p.Rcpts, r.Address)
		}
	}
	return p
}

// chaos consults Config.Chaos at p: it records what fired, applies the
// throttle and waits out the delay. handled reports that the action
// replaces the normal processing; the caller then ends with chaosFinish
// (or, for a cut during content, its own handling).
func (c *conn) chaos(p *ChaosPoint) (act ChaosAction, handled bool) {
	if !c.chaosOn() {
		return ChaosAction{}, false
	}
	act = c.srv.cfg.Chaos.Decide(p)
	for _, n := range act.Notes {
		c.record("*", "chaos: "+n)
	}
	if len(act.Notes) > 0 {
		c.log.Info("chaos", "stage", string(p.Stage), "notes", act.Notes)
	}
	if act.Throttle > 0 {
		c.pace.rate = act.Throttle
	}
	if act.Delay > 0 {
		c.flush() //nolint:errcheck // earlier replies go out before the wait; an error ends the session anyway
		t := time.NewTimer(act.Delay)
		select { // a shutdown cuts the wait short: the action then goes ahead
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
		case <-c.srv.done:
			t.Stop()
		}
	}
	return act, act.Reply != nil || act.Disconnect
}

// chaosFinish carries out a handled action: the rule's reply (421 also
// closes) or a disconnect without one.
func (c *conn) chaosFinish(act ChaosAction) {
	if act.Disconnect {
		c.flush() //nolint:errcheck // replies to earlier commands still go out
		c.record("*", "chaos: connection closed without a reply")
		if c.err == nil {
			c.err = errChaosDisconnect
		}
		return
	}
	e := act.Reply
	code, enh := e.Code, e.Enhanced
	if enh == "" && code >= 400 {
		enh = strconv.Itoa(code/100) + ".0.0"
	}
	lines := strings.Split(strings.ReplaceAll(e.Message, "\r", ""), "\n")
	c.reply(code, enh, lines...)
	if code == 421 {
		c.quit = true
	}
}

// cutReader yields n octets of r, then errChaosCut.
type cutReader struct {
	r io.Reader
	n int64
}

func (r *cutReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errChaosCut
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	n, err := r.r.Read(p)
	r.n -= int64(n)
	return n, err
}

// cutContent ends a transfer cut short on purpose: the delivery is
// aborted (nothing stored) and the connection closed without a reply.
func (c *conn) cutContent(d *delivery, n int64) {
	c.abortDelivery(d, errChaosCut)
	c.tx = nil
	c.setDataMode(false)
	c.record("*", "chaos: connection closed after "+strconv.FormatInt(n, 10)+" octets of content")
	if c.err == nil {
		c.err = errChaosDisconnect
	}
}

// keepHead keeps the start of the content (up to the end of the header)
// for header matching at the message stage.
func (d *delivery) keepHead(p []byte) {
	if d.headDone {
		return
	}
	room := chaosHeaderMax - len(d.head)
	if room <= 0 {
		d.headDone = true
		return
	}
	d.head = append(d.head, p[:min(len(p), room)]...)
	if bytes.Contains(d.head, []byte("\n\r\n")) || bytes.Contains(d.head, []byte("\n\n")) {
		d.headDone = true
	}
}

// header parses the kept start of the content; a malformed header yields
// the fields before the problem.
func (d *delivery) header() textproto.MIMEHeader {
	r := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(d.head), strings.NewReader("\r\n\r\n"))))
	h, _ := r.ReadMIMEHeader()
	if h == nil {
		h = textproto.MIMEHeader{}
	}
	return h
}

// pacer limits a session's throughput once a throttle action fired.
// Only the session goroutine uses it.
type pacer struct {
	rate int64 // bytes per second; 0 = unlimited
	next time.Time
}

// chunk caps a read or write so the pace stays smooth (a quarter second
// of traffic at a time).
func (p *pacer) chunk(n int) int {
	if p.rate <= 0 {
		return n
	}
	return max(1, min(n, int(p.rate/4)))
}

// wait sleeps until n more bytes fit the rate.
func (p *pacer) wait(n int) {
	if p.rate <= 0 || n <= 0 {
		return
	}
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	p.next = p.next.Add(time.Duration(int64(n) * int64(time.Second) / p.rate))
	time.Sleep(time.Until(p.next))
}

// write writes b to nc in paced chunks.
func (p *pacer) write(nc net.Conn, b []byte) (int, error) {
	if p.rate <= 0 {
		return nc.Write(b)
	}
	total := 0
	for len(b) > 0 {
		k := p.chunk(len(b))
		n, err := nc.Write(b[:k])
		total += n
		p.wait(n)
		if err != nil {
			return total, err
		}
		b = b[n:]
	}
	return total, nil
}
