package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	maxLineLen = 4096 // longest accepted command line, CRLF excluded
	maxErrors  = 20   // consecutive 5xx replies before we hang up
)

var (
	errLineTooLong     = errors.New("smtpd: line too long")
	errShutdown        = errors.New("smtpd: shutting down")
	errTooBig          = errors.New("smtpd: message too big")
	errAborted         = errors.New("smtpd: transaction aborted")
	errDeliverReturned = errors.New("smtpd: Deliver returned before reading the whole message")
	errPanic           = errors.New("smtpd: panic in Deliver")
)

// conn is one SMTP session. Everything but mu-guarded fields belongs to
// the session goroutine.
type conn struct {
	srv         *Server
	raw         net.Conn // the accepted connection; deadlines and Close go here
	nc          net.Conn // current transport: raw, or a *tls.Conn on top of it
	br          *bufio.Reader
	bw          *bufio.Writer
	log         *slog.Logger
	ctx         context.Context // parent of delivery contexts
	cancel      context.CancelFunc
	implicitTLS bool
	start       time.Time
	ip          netip.Addr // key in Server.perIP
	id          string     // session id, for logs and the transcript
	obs         Observer

	mu        sync.Mutex // guards idle and dataMode against Shutdown
	idle      bool       // blocked in a command read that Shutdown may interrupt
	dataMode  bool       // reading DATA/BDAT content: DataTimeout per read, and see dataUntil
	dataStart time.Time  // when the current DATA/BDAT transfer began
	dataRead  int64      // octets read from the socket since dataStart

	rdnsDone chan struct{}
	rdnsName string // valid once rdnsDone is closed

	err      error // sticky I/O error: the session ends
	quit     bool  // the session ends after the current reply
	errCount int

	greeted  bool
	refused  bool // the greeting was a chaos refusal: only QUIT is served
	helo     string
	esmtp    bool
	tls      *TLSInfo
	authUser string
	tx       *transaction
	cur      *delivery // the delivery in progress (DATA or BDAT), nil otherwise

	tr     []TranscriptLine
	trPre  int // transcript index of the first MAIL, -1 before
	trFull bool

	// For the session's log line and Observer.Message.
	replies, stored, rejected int
	lastCode                  int // code of the last reply

	pace pacer // chaos throttle
}

// transaction is the state between MAIL and the end of the message.
type transaction struct {
	from       string
	fromParams []Param
	rcpts      []Recipient
	body       string
	smtputf8   bool
	bdat       *delivery // open BDAT transfer, nil otherwise
	cutAt      int64     // chaos: hang up once the BDAT content reaches this many octets; 0: never
}

// delivery is one message streaming to Backend.Deliver through a pipe.
type delivery struct {
	env         *Envelope
	pw          *io.PipeWriter
	done        chan error // Deliver's result
	size        int64      // client octets so far
	tooBig      bool
	writeFailed bool // Deliver stopped reading; keep discarding

	head     []byte // start of the content, for chaos header matching
	headDone bool
}

func newConn(s *Server, nc net.Conn, implicitTLS bool) *conn {
	ctx, cancel := context.WithCancel(s.baseCtx)
	id := newSessionID()
	c := &conn{
		srv:         s,
		raw:         nc,
		nc:          nc,
		id:          id,
		obs:         s.cfg.Observer,
		log:         s.log.With("session", id, "remote", nc.RemoteAddr().String()),
		ctx:         ctx,
		cancel:      cancel,
		implicitTLS: implicitTLS,
		start:       time.Now(),
		rdnsDone:    make(chan struct{}),
		trPre:       -1,
	}
	c.br = bufio.NewReaderSize(connReader{c}, 8192)
	c.bw = bufio.NewWriterSize(connWriter{c}, 4096)
	return c
}

// connReader feeds the one bufio.Reader of the session. bufio only calls
// it when it has nothing buffered, i.e. right before blocking on the
// socket: that is when pending replies are flushed, which batches the
// replies to a pipelined group into one write.
type connReader struct{ c *conn }

func (r connReader) Read(p []byte) (int, error) {
	c := r.c
	if err := c.flush(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	data := c.dataMode
	if data {
		c.raw.SetReadDeadline(c.dataDeadline(time.Now())) //nolint:errcheck // a failure surfaces on Read
	}
	c.mu.Unlock()
	n, err := c.nc.Read(p[:c.pace.chunk(len(p))])
	if data {
		c.mu.Lock()
		c.dataRead += int64(n)
		c.mu.Unlock()
	}
	c.pace.wait(n)
	return n, err
}

// dataDeadline is the read deadline during DATA/BDAT content: DataTimeout
// from now, but never past the transfer's own deadline, DataTimeout plus
// one second per MinDataRate octets after it began. A per-read timeout
// alone would let a client sending a byte now and then hold the session
// (and a connection slot) for ever. c.mu is held.
func (c *conn) dataDeadline(now time.Time) time.Time {
	cfg := &c.srv.cfg
	d := now.Add(cfg.DataTimeout)
	if cfg.MinDataRate > 0 {
		earned := time.Duration(float64(c.dataRead) / float64(cfg.MinDataRate) * float64(time.Second))
		if whole := c.dataStart.Add(cfg.DataTimeout + earned); whole.Before(d) {
			d = whole
		}
	}
	return d
}

// connWriter writes with a deadline so a client that never reads cannot
// hold the session (or Shutdown) forever.
type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	if err := w.c.raw.SetWriteDeadline(time.Now().Add(w.c.srv.cfg.CommandTimeout)); err != nil {
		return 0, err
	}
	return w.c.pace.write(w.c.nc, p)
}

func (c *conn) flush() error {
	if c.err != nil {
		return c.err
	}
	if c.bw.Buffered() > 0 {
		c.err = c.bw.Flush()
	}
	return c.err
}

// interruptIdle is called by Shutdown: a session blocked waiting for a
// command wakes up now and says 421 4.3.2.
func (c *conn) interruptIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle {
		c.raw.SetReadDeadline(time.Now()) //nolint:errcheck // best effort; Close follows if it fails
	}
}

func (c *conn) closeNow() {
	c.raw.Close() //nolint:errcheck // forced close
}

// setDataMode switches between command and content reading; each
// switch on starts a new transfer for dataDeadline.
func (c *conn) setDataMode(on bool) {
	c.mu.Lock()
	c.dataMode = on
	if on {
		c.dataStart, c.dataRead = time.Now(), 0
	}
	c.mu.Unlock()
}

// serve runs the session: greeting, then one command at a time.
func (c *conn) serve() {
	defer c.srv.removeConn(c)
	defer c.cleanup()
	defer c.recoverPanic()
	c.obs.SessionStarted()
	c.log.Debug("connection opened")
	// The session id leads the transcript, kept with every message of the
	// session, so a stored message leads back to the session's log lines.
	c.record("*", "session "+c.id+" from "+c.raw.RemoteAddr().String())
	go c.lookupRemote()

	if c.implicitTLS && !c.handshake() {
		return
	}
	c.connect()
	for c.err == nil && !c.quit {
		line, err := c.readCommand()
		if err != nil {
			c.readFailed(err)
			continue
		}
		c.dispatch(line)
		if c.errCount >= maxErrors && !c.quit {
			c.log.Warn("too many errors")
			c.reply(421, "4.7.0", c.srv.cfg.Hostname+" "+textTooManyErrors)
			c.quit = true
		}
	}
}

func (c *conn) recoverPanic() {
	if r := recover(); r != nil {
		c.log.Error("panic in session", "panic", r, "stack", string(debug.Stack()))
		c.reply(421, "4.3.0", textInternal)
	}
}

func (c *conn) cleanup() {
	c.abortTx()
	if c.cur != nil { // e.g. after a panic mid-DATA
		c.abortDelivery(c.cur, errAborted)
	}
	c.flush()     //nolint:errcheck // the session is over either way
	c.raw.Close() //nolint:errcheck // end of session
	c.cancel()
	<-c.rdnsDone
	c.obs.SessionEnded()
	// One line per session at Info; the protocol lines are at Debug.
	// Never credentials (AUTH is elided) nor content.
	c.log.Info("session ended", "helo", c.helo, "duration", time.Since(c.start).Round(time.Microsecond),
		"messages", c.stored, "rejected", c.rejected, "replies", c.replies,
		"tls", c.tls != nil, "auth_user", c.authUser)
}

// readCommand reads one command line under CommandTimeout. While it
// blocks (and no BDAT transfer is open) Shutdown may interrupt it.
func (c *conn) readCommand() (string, error) {
	c.mu.Lock()
	interruptible := c.tx == nil || c.tx.bdat == nil
	if interruptible && c.srv.shutting.Load() {
		c.mu.Unlock()
		return "", errShutdown
	}
	c.idle = interruptible
	c.raw.SetReadDeadline(time.Now().Add(c.srv.cfg.CommandTimeout)) //nolint:errcheck // a failure surfaces on Read
	c.mu.Unlock()

	line, err := c.readLine()

	c.mu.Lock()
	c.idle = false
	c.mu.Unlock()
	return line, err
}

// readLine reads up to LF (a bare LF ends a command line too) without
// buffering more than maxLineLen octets: the rest of an over-long line
// is discarded and errLineTooLong returned.
func (c *conn) readLine() (string, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := c.br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > maxLineLen+2 {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
	if tooLong {
		return "", errLineTooLong
	}
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	buf = bytes.TrimSuffix(buf, []byte("\r"))
	if len(buf) > maxLineLen {
		return "", errLineTooLong
	}
	return string(buf), nil
}

// readFailed handles an error from reading the client: an over-long line
// is answered and the session goes on; anything else ends it.
func (c *conn) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, errLineTooLong):
		c.record("C", "[line too long, discarded]")
		c.reply(500, "5.5.2", textLineTooLong)
		return
	case errors.Is(err, errShutdown):
		c.reply(421, "4.3.2", c.srv.cfg.Hostname+" "+textShutdown)
	case errors.As(err, &ne) && ne.Timeout():
		if c.srv.shutting.Load() {
			c.reply(421, "4.3.2", c.srv.cfg.Hostname+" "+textShutdown)
		} else {
			c.log.Info("client timed out")
			c.reply(421, "4.4.2", c.srv.cfg.Hostname+" "+textIdleTimeout)
		}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		c.record("*", "client disconnected")
		c.err = err
	default:
		c.log.Debug("read failed", "err", err)
		c.record("*", "connection error")
		c.err = err
	}
	c.quit = true
}

// dispatch records the command (credentials elided) and runs its verb.
func (c *conn) dispatch(line string) {
	verb, arg := parseCommand(line)
	text := line
	if verb == "AUTH" {
		mech, ir, _ := strings.Cut(arg, " ")
		text = line[:4] + " " + mech
		if ir != "" {
			text += " [credentials elided]"
		}
	}
	c.record("C", text)
	if verb == "MAIL" && c.trPre < 0 {
		c.trPre = len(c.tr) - 1
	}
	if c.refused && verb != "QUIT" {
		c.reply(503, "5.5.1", "Service refused: only QUIT is accepted")
		return
	}
	switch verb {
	case "HELO":
		c.hello(arg, false)
	case "EHLO":
		c.hello(arg, true)
	case "MAIL":
		c.mail(arg)
	case "RCPT":
		c.rcpt(arg)
	case "DATA":
		c.data(arg)
	case "BDAT":
		c.bdat(arg)
	case "RSET":
		c.rset(arg)
	case "NOOP":
		c.reply(250, "2.0.0", textOK)
	case "QUIT":
		c.quitCmd(arg)
	case "HELP":
		c.help()
	case "VRFY", "EXPN":
		c.vrfy(verb, arg)
	case "STARTTLS":
		c.starttls(arg)
	case "AUTH":
		c.auth(arg)
	case "TURN", "ETRN", "SEND", "SOML", "SAML":
		c.reply(502, "5.5.1", textNotImplemented)
	default:
		c.reply(500, "5.5.2", textUnknownCommand)
	}
}

// connect is the connect stage: the greeting.
// A chaos refusal other than 421 follows RFC 5321 3.1 for a 554
// greeting: the session stays open and answers 503 until QUIT.
func (c *conn) connect() {
	if act, handled := c.chaos(c.point(StageConnect)); handled {
		c.chaosFinish(act)
		c.refused = act.Reply != nil && !c.quit
		return
	}
	c.reply(220, "", c.srv.cfg.Hostname+" ESMTP mailsink")
}

// hello is the HELO/EHLO stage. A repeated greeting resets the transaction.
func (c *conn) hello(arg string, esmtp bool) {
	if !validHeloArg(arg) {
		c.reply(501, "5.5.4", "Syntax: "+map[bool]string{false: "HELO", true: "EHLO"}[esmtp]+" domain")
		return
	}
	p := c.point(StageHelo)
	p.Helo = arg
	if act, handled := c.chaos(p); handled {
		c.chaosFinish(act)
		return
	}
	c.abortTx()
	c.greeted, c.helo, c.esmtp = true, arg, esmtp
	greeting := c.srv.cfg.Hostname + " Hello " + arg
	if !esmtp {
		c.reply(250, "", greeting)
		return
	}
	size := "SIZE"
	if c.srv.cfg.MaxMessageSize > 0 {
		size += " " + strconv.FormatInt(c.srv.cfg.MaxMessageSize, 10)
	}
	lines := []string{greeting, "PIPELINING", size, "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
		"CHUNKING", "BINARYMIME", "DSN"}
	if c.srv.cfg.TLS != nil && c.tls == nil {
		lines = append(lines, "STARTTLS")
	}
	if c.srv.cfg.Auth != AuthNone {
		lines = append(lines, "AUTH PLAIN LOGIN CRAM-MD5")
	}
	lines = append(lines, "HELP")
	c.reply(250, "", lines...)
}

func (c *conn) authRequired() bool {
	return c.srv.cfg.Auth == AuthRequire || c.srv.cfg.Auth == AuthUsers
}

// mail is the MAIL stage.
func (c *conn) mail(arg string) {
	switch {
	case !c.greeted:
		c.reply(503, "5.5.1", textNeedHelo)
		return
	case c.tx != nil:
		c.reply(503, "5.5.1", "Nested MAIL command")
		return
	case c.authRequired() && c.authUser == "":
		c.reply(530, "5.7.0", textAuthRequired)
		return
	}
	path, ps, ok := splitPathArg(arg, "FROM:")
	if !ok {
		c.reply(501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]")
		return
	}
	params, perr := parseParams(ps)
	if perr != nil {
		c.replyError(perr)
		return
	}
	if len(params) > 0 && !c.esmtp {
		c.reply(555, "5.5.4", textParamsAfterHelo)
		return
	}
	tx := &transaction{body: "7BIT"}
	for _, p := range params {
		if e := c.mailParam(tx, p); e != nil {
			c.replyError(e)
			return
		}
	}
	from, perr := parsePath(path, tx.smtputf8, false, errSenderSyntax)
	if perr != nil {
		c.replyError(perr)
		return
	}
	p := c.point(StageMail)
	p.From = from
	if act, handled := c.chaos(p); handled {
		c.chaosFinish(act)
		return
	}
	tx.from, tx.fromParams = from, params
	c.tx = tx
	c.reply(250, "2.1.0", "Sender <"+from+"> OK")
}

func badParam(key string) *Error {
	return &Error{Code: 501, Enhanced: "5.5.4", Message: "Invalid " + key + " parameter"}
}

// mailParam checks one MAIL parameter and applies it to tx.
func (c *conn) mailParam(tx *transaction, p Param) *Error {
	switch p.Key {
	case "SIZE":
		n, err := strconv.ParseInt(p.Value, 10, 64)
		if err != nil || n < 0 || strings.TrimLeft(p.Value, "0123456789") != "" {
			return badParam(p.Key)
		}
		if max := c.srv.cfg.MaxMessageSize; max > 0 && n > max {
			return &Error{Code: 552, Enhanced: "5.3.4", Message: textTooBig}
		}
	case "BODY":
		switch v := strings.ToUpper(p.Value); v {
		case "7BIT", "8BITMIME", "BINARYMIME":
			tx.body = v
		default:
			return badParam(p.Key)
		}
	case "SMTPUTF8":
		if p.Value != "" {
			return badParam(p.Key)
		}
		tx.smtputf8 = true
	case "RET":
		if v := strings.ToUpper(p.Value); v != "FULL" && v != "HDRS" {
			return badParam(p.Key)
		}
	case "ENVID":
		if p.Value == "" || len(p.Value) > 100 || !validXtext(p.Value) {
			return badParam(p.Key)
		}
	case "AUTH":
		if c.srv.cfg.Auth == AuthNone {
			return &Error{Code: 555, Enhanced: "5.5.4", Message: "Unsupported parameter AUTH"}
		}
		if p.Value != "<>" && (p.Value == "" || !validXtext(p.Value)) {
			return badParam(p.Key)
		}
	default:
		return &Error{Code: 555, Enhanced: "5.5.4", Message: "Unsupported parameter " + p.Key}
	}
	return nil
}

// rcpt is the RCPT stage.
func (c *conn) rcpt(arg string) {
	switch {
	case c.tx == nil:
		c.reply(503, "5.5.1", textNeedMail)
		return
	case c.tx.bdat != nil:
		c.reply(503, "5.5.1", "RCPT not allowed during BDAT transfer")
		return
	}
	path, ps, ok := splitPathArg(arg, "TO:")
	if !ok {
		c.reply(501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]")
		return
	}
	params, perr := parseParams(ps)
	if perr != nil {
		c.replyError(perr)
		return
	}
	if len(params) > 0 && !c.esmtp {
		c.reply(555, "5.5.4", textParamsAfterHelo)
		return
	}
	for _, p := range params {
		if e := rcptParam(p); e != nil {
			c.replyError(e)
			return
		}
	}
	addr, perr := parsePath(path, c.tx.smtputf8, true, errRcptSyntax)
	if perr != nil {
		c.replyError(perr)
		return
	}
	if addr == "" {
		c.replyError(errRcptSyntax)
		return
	}
	if max := c.srv.cfg.MaxRecipients; max > 0 && len(c.tx.rcpts) >= max {
		c.reply(452, "4.5.3", "Too many recipients")
		return
	}
	p := c.point(StageRcpt)
	p.Rcpt = addr
	if act, handled := c.chaos(p); handled {
		c.chaosFinish(act)
		return
	}
	c.tx.rcpts = append(c.tx.rcpts, Recipient{Address: addr, Params: params})
	c.reply(250, "2.1.5", "Recipient <"+addr+"> OK")
}

// rcptParam checks one RCPT parameter (RFC 3461 NOTIFY and ORCPT).
func rcptParam(p Param) *Error {
	switch p.Key {
	case "NOTIFY":
		v := strings.ToUpper(p.Value)
		if v == "NEVER" {
			return nil
		}
		seen := map[string]bool{}
		for _, k := range strings.Split(v, ",") {
			if k != "SUCCESS" && k != "FAILURE" && k != "DELAY" || seen[k] {
				return badParam(p.Key)
			}
			seen[k] = true
		}
	case "ORCPT":
		typ, addr, ok := strings.Cut(p.Value, ";")
		if !ok || !validDotString(typ) || addr == "" || len(p.Value) > 500 {
			return badParam(p.Key)
		}
		if !hasNonASCII(addr) && !validXtext(addr) {
			return badParam(p.Key)
		}
	default:
		return &Error{Code: 555, Enhanced: "5.5.4", Message: "Unsupported parameter " + p.Key}
	}
	return nil
}

// data is the DATA stage: 354, then the dot-terminated content.
func (c *conn) data(arg string) {
	switch {
	case arg != "":
		c.reply(501, "5.5.4", textNoArgs)
		return
	case c.tx == nil:
		c.reply(503, "5.5.1", textNeedMail)
		return
	case c.tx.bdat != nil:
		c.reply(503, "5.5.1", "DATA not allowed after BDAT")
		return
	case len(c.tx.rcpts) == 0:
		c.reply(503, "5.5.1", textNeedRcpt)
		return
	case c.tx.body == "BINARYMIME":
		c.reply(503, "5.5.1", "BODY=BINARYMIME requires BDAT")
		return
	}
	act, handled := c.chaos(c.point(StageData))
	cut := act.Disconnect && act.AfterBytes > 0
	if handled && !cut {
		c.abortTx()
		c.chaosFinish(act)
		return
	}
	c.reply(354, "", "Start mail input; end with <CRLF>.<CRLF>")
	if c.flush() != nil {
		return
	}
	d := c.startDelivery(false)
	var r io.Reader = newDotReader(c.br)
	if cut {
		r = &cutReader{r: r, n: act.AfterBytes}
	}
	c.setDataMode(true)
	_, err := c.transfer(d, r)
	c.setDataMode(false)
	if cut && err == nil {
		err = errChaosCut // the content ended first: hang up at its end, still without a reply
	}
	if errors.Is(err, errChaosCut) {
		c.cutContent(d, d.size)
		return
	}
	if err != nil {
		c.abortDelivery(d, err)
		c.tx = nil
		c.readFailed(err)
		return
	}
	c.record("*", "[message data: "+strconv.FormatInt(d.size, 10)+" octets]")
	c.finish(d)
}

// bdat is the BDAT stage (RFC 3030): exactly size octets follow the
// command line, read from the same buffered reader. A chunk that cannot
// be accepted is still read and discarded so the stream stays in sync.
// A size that does not parse leaves the stream out of sync: 501, then
// 421 4.5.0 and the connection is closed.
func (c *conn) bdat(arg string) {
	fields := strings.Fields(arg)
	var size int64 = -1
	if len(fields) >= 1 && len(fields[0]) <= 18 && strings.TrimLeft(fields[0], "0123456789") == "" {
		size, _ = strconv.ParseInt(fields[0], 10, 64)
	}
	if size < 0 {
		c.reply(501, "5.5.4", "Syntax: BDAT <size> [LAST]")
		c.reply(421, "4.5.0", c.srv.cfg.Hostname+" BDAT framing lost, closing transmission channel")
		c.quit = true
		return
	}
	last := len(fields) == 2 && strings.EqualFold(fields[1], "LAST")
	var refuse *Error
	switch {
	case len(fields) > 2 || len(fields) == 2 && !last:
		refuse = &Error{Code: 501, Enhanced: "5.5.4", Message: "Syntax: BDAT <size> [LAST]"}
	case !c.greeted || !c.esmtp:
		refuse = &Error{Code: 503, Enhanced: "5.5.1", Message: textNeedEhlo}
	case c.tx == nil:
		refuse = &Error{Code: 503, Enhanced: "5.5.1", Message: textNeedMail}
	case len(c.tx.rcpts) == 0:
		refuse = &Error{Code: 503, Enhanced: "5.5.1", Message: textNeedRcpt}
	}
	if refuse != nil {
		if !c.discard(size) {
			return
		}
		c.record("*", "[discarded chunk: "+strconv.FormatInt(size, 10)+" octets]")
		c.replyError(refuse)
		return
	}
	if c.tx.bdat == nil {
		act, handled := c.chaos(c.point(StageData))
		switch {
		case handled && act.Disconnect && act.AfterBytes > 0:
			c.tx.cutAt = act.AfterBytes // counted over the chunks, below
		case handled && act.Disconnect:
			c.abortTx()
			c.chaosFinish(act)
			return
		case handled:
			if !c.discard(size) {
				return
			}
			c.record("*", "[discarded chunk: "+strconv.FormatInt(size, 10)+" octets]")
			c.abortTx()
			c.chaosFinish(act)
			return
		}
		c.tx.bdat = c.startDelivery(true)
	}
	d := c.tx.bdat
	if at := c.tx.cutAt; at > 0 && (last || d.size+size >= at) {
		// Take the content up to the cut (or all of a last chunk that
		// ends before it) and hang up.
		c.setDataMode(true)
		c.transfer(d, io.LimitReader(c.br, min(size, at-d.size))) //nolint:errcheck // the connection is closed next either way
		c.cutContent(d, d.size)
		return
	}
	if max := c.srv.cfg.MaxMessageSize; max > 0 && d.size+size > max {
		d.tooBig = true
		if !c.discard(size) {
			return
		}
	} else {
		c.setDataMode(true)
		n, err := c.transfer(d, io.LimitReader(c.br, size))
		c.setDataMode(false)
		if err == nil && n < size {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			c.abortTx()
			c.readFailed(err)
			return
		}
	}
	c.record("*", "[message data: "+strconv.FormatInt(size, 10)+" octets]")
	if d.tooBig || !last {
		if d.tooBig {
			c.abortTx()
			c.reply(552, "5.3.4", textTooBig)
			c.messageDone(d)
			return
		}
		c.reply(250, "2.0.0", strconv.FormatInt(size, 10)+" octets received")
		return
	}
	c.finish(d)
}

// discard reads and drops n octets of chunk data; false if the client went away.
func (c *conn) discard(n int64) bool {
	c.setDataMode(true)
	_, err := io.CopyN(io.Discard, c.br, n)
	c.setDataMode(false)
	if err != nil {
		c.abortTx()
		c.readFailed(err)
		return false
	}
	return true
}

// transfer copies content from r into the delivery pipe, counting octets.
// Past MaxMessageSize, or once Deliver has stopped reading, the rest is
// read and discarded. It returns the octets read and the read error, if
// any (never io.EOF).
func (c *conn) transfer(d *delivery, r io.Reader) (int64, error) {
	buf := make([]byte, 32*1024)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			total += int64(n)
			d.size += int64(n)
			if max := c.srv.cfg.MaxMessageSize; max > 0 && d.size > max && !d.tooBig {
				d.tooBig = true
				d.pw.CloseWithError(errTooBig)
			}
			if c.chaosOn() {
				d.keepHead(buf[:n])
			}
			if !d.tooBig && !d.writeFailed {
				if _, werr := d.pw.Write(buf[:n]); werr != nil {
					d.writeFailed = true
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// startDelivery builds the Envelope and starts Backend.Deliver reading
// the trace headers followed by the content written to the pipe.
func (c *conn) startDelivery(chunked bool) *delivery {
	tx := c.tx
	env := &Envelope{
		ID:         newID(),
		Session:    c.id,
		RemoteAddr: c.raw.RemoteAddr(),
		LocalAddr:  c.raw.LocalAddr(),
		Helo:       c.helo,
		ESMTP:      c.esmtp,
		AuthUser:   c.authUser,
		From:       tx.from,
		FromParams: tx.fromParams,
		Rcpts:      slices.Clone(tx.rcpts),
		Protocol:   protocolName(c.esmtp, c.tls != nil, c.authUser != "", tx.smtputf8),
		Body:       tx.body,
		SMTPUTF8:   tx.smtputf8,
		Chunked:    chunked,
	}
	if c.tls != nil {
		t := *c.tls
		env.TLS = &t
	}
	hdr := c.traceHeaders(env, time.Now())
	pr, pw := io.Pipe()
	d := &delivery{env: env, pw: pw, done: make(chan error, 1)}
	c.cur = d
	go func() {
		var err error
		defer func() {
			if r := recover(); r != nil {
				c.log.Error("panic in Deliver", "id", env.ID, "panic", r, "stack", string(debug.Stack()))
				err = errPanic
			}
			pr.CloseWithError(errDeliverReturned)
			d.done <- err
		}()
		err = c.srv.backend.Deliver(c.ctx, env, io.MultiReader(bytes.NewReader(hdr), pr))
	}()
	return d
}

// abortDelivery makes Deliver's reader fail with cause and waits for it.
func (c *conn) abortDelivery(d *delivery, cause error) {
	d.pw.CloseWithError(cause)
	<-d.done
	c.cur = nil
}

// abortTx drops the transaction, aborting an open BDAT delivery.
func (c *conn) abortTx() {
	if c.tx != nil && c.tx.bdat != nil {
		c.abortDelivery(c.tx.bdat, errAborted)
	}
	c.tx = nil
}

// finish is the message-after-data stage: the content is complete, so
// Deliver sees EOF; its verdict is the reply.
func (c *conn) finish(d *delivery) {
	c.tx = nil
	c.lastCode = 0 // stays 0 if chaos hangs up without a reply
	defer c.messageDone(d)
	if d.tooBig {
		c.abortDelivery(d, errTooBig)
		c.reply(552, "5.3.4", textTooBig)
		return
	}
	if c.chaosOn() {
		p := c.point(StageMessage)
		p.From = d.env.From
		p.Rcpts = p.Rcpts[:0]
		for _, r := range d.env.Rcpts {
			p.Rcpts = append(p.Rcpts, r.Address)
		}
		p.Header, p.Size = d.header(), d.size
		if act, handled := c.chaos(p); handled {
			c.abortDelivery(d, errChaosRejected)
			c.chaosFinish(act)
			c.trimTranscript()
			return
		}
	}
	// Set before the pipe closes: Deliver sees them once r is drained.
	d.env.Received = time.Now()
	d.env.Transcript = slices.Clone(c.tr)
	d.pw.Close() //nolint:errcheck // PipeWriter.Close always returns nil
	err := <-d.done
	c.cur = nil
	if err != nil {
		c.replyDeliverErr(err, d.env.ID)
	} else {
		// The one line per stored message; the session attrs come with c.log.
		c.log.Info("message stored", "id", d.env.ID, "from", d.env.From, "rcpts", len(d.env.Rcpts), "size", d.size)
		c.reply(250, "2.0.0", "Ok: queued as "+d.env.ID)
	}
	c.trimTranscript()
}

// messageDone tells the Observer how a message whose content arrived in
// full ended (the last reply, 0 for none) and counts it for the session.
func (c *conn) messageDone(d *delivery) {
	if c.lastCode == 250 {
		c.stored++
	} else {
		c.rejected++
	}
	c.obs.Message(c.lastCode, d.size)
}

func (c *conn) rset(arg string) {
	if arg != "" {
		c.reply(501, "5.5.4", textNoArgs)
		return
	}
	c.abortTx()
	c.reply(250, "2.0.0", textOK)
}

// quitCmd is the QUIT stage.
func (c *conn) quitCmd(arg string) {
	if arg != "" {
		c.reply(501, "5.5.4", textNoArgs)
		return
	}
	c.quit = true
	if act, handled := c.chaos(c.point(StageQuit)); handled {
		c.chaosFinish(act)
		return
	}
	c.reply(221, "2.0.0", c.srv.cfg.Hostname+" closing connection")
}

func (c *conn) help() {
	c.reply(214, "2.0.0",
		"mailsink accepts: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY EXPN STARTTLS AUTH",
		"See RFC 5321")
}

func (c *conn) vrfy(verb, arg string) {
	if arg == "" {
		c.reply(501, "5.5.4", "Syntax: "+verb+" <string>")
		return
	}
	c.reply(252, "2.5.0", "Cannot "+verb+" user, but will accept message and attempt delivery")
}

// starttls is the STARTTLS stage (RFC 3207). Anything the client
// pipelined after the command in plaintext is discarded, never executed;
// afterwards the session is back at the greeting state.
func (c *conn) starttls(arg string) {
	switch {
	case arg != "":
		c.reply(501, "5.5.4", textNoArgs)
		return
	case c.tls != nil:
		c.reply(503, "5.5.1", "Already running TLS")
		return
	case c.srv.cfg.TLS == nil:
		c.reply(502, "5.5.1", textNotImplemented)
		return
	case !c.greeted || !c.esmtp:
		c.reply(503, "5.5.1", textNeedEhlo)
		return
	}
	if act, handled := c.chaos(c.point(StageStartTLS)); handled {
		c.chaosFinish(act)
		return
	}
	c.abortTx()
	c.reply(220, "2.0.0", "Ready to start TLS")
	if c.flush() != nil {
		return
	}
	if n := c.br.Buffered(); n > 0 {
		c.br.Discard(n) //nolint:errcheck // n ≤ Buffered never fails
		c.record("*", "[discarded "+strconv.Itoa(n)+" octets pipelined after STARTTLS]")
		c.log.Warn("discarded plaintext pipelined after STARTTLS", "octets", n)
	}
	if !c.handshake() {
		return
	}
	c.greeted, c.helo, c.esmtp, c.authUser = false, "", false, ""
}

// handshake runs the server side of a TLS handshake on the raw conn. On
// failure the connection is closed quietly.
func (c *conn) handshake() bool {
	tc := tls.Server(c.raw, c.srv.cfg.TLS)
	c.raw.SetDeadline(time.Now().Add(c.srv.cfg.CommandTimeout)) //nolint:errcheck // a failure surfaces in the handshake
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.obs.TLS(c.implicitTLS, false)
		c.log.Warn("tls handshake failed", "err", err)
		c.record("*", "TLS handshake failed")
		c.err = fmt.Errorf("tls handshake: %w", err)
		return false
	}
	c.obs.TLS(c.implicitTLS, true)
	cs := tc.ConnectionState()
	c.tls = &TLSInfo{
		Version:     tls.VersionName(cs.Version),
		CipherSuite: tls.CipherSuiteName(cs.CipherSuite),
		ServerName:  cs.ServerName,
	}
	c.record("*", "TLS handshake: "+c.tls.Version+" "+c.tls.CipherSuite+" sni="+c.tls.ServerName)
	c.nc = tc
	c.br.Reset(connReader{c})
	c.bw.Reset(connWriter{c})
	return true
}

// newID returns a random message ID: at least 128 bits as 26 upper-case
// base32 characters. Unlike base64url it never starts with "-" (which command
// lines take for an option) and survives case-insensitive handling.
func newID() string {
	return rand.Text()
}

// newSessionID returns a random session id: 16 base32 characters (80
// bits), short enough to read in a log line, unique across listeners and
// restarts (unlike a counter).
func newSessionID() string {
	return rand.Text()[:16]
}

// protocolName is the RFC 3848 / RFC 6531 "with" value.
func protocolName(esmtp, tls, auth, smtputf8 bool) string {
	if !esmtp {
		return "SMTP"
	}
	p := "ESMTP"
	if smtputf8 {
		p = "UTF8SMTP"
	}
	if tls {
		p += "S"
	}
	if auth {
		p += "A"
	}
	return p
}
