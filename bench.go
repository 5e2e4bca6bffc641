package main

// mailsink bench: the load generator of the performance issue. It sends N
// messages over C SMTP connections to any server, measures throughput, ack
// latency, time-to-visible through the HTTP API and the server's CPU and
// memory, and can measure a built-in discard-everything server (the wire's
// ceiling) in the same run so that the two rates can be compared.
//
// The client is written on net.Conn + bufio rather than net/smtp: net/smtp
// allocates per line, cannot pipeline and would be the bottleneck we are
// trying to measure past.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"
)

const benchUsage = `Usage: mailsink bench [flags]

Sends --messages messages over --conns concurrent SMTP connections to
--smtp-addr (each connection: EHLO once, then MAIL/RCPT/DATA transactions on
the same session) and reports wall time, msg/s, MB/s, the ack latency (end of
DATA to its 250) percentiles, errors by kind, and:
  - with --http, time-to-visible: for every --sample'th message, the time from
    its 250 to its "new" event on the websocket /api/events;
  - with --pid (or when the SMTP port's listener is found in /proc), the
    server's CPU time per message and its peak RSS.

--sink first runs the same load against a built-in discard-everything SMTP
server (the wire's ceiling) and prints both results and their ratio.
--sink-only just runs that server on --sink-addr until interrupted, to
measure other mail catchers' clients or baselines.

Shapes: text (plain text, --size default 2KiB), multipart (multipart/mixed with
text+HTML alternatives and a base64 attachment, --size default 50KiB), rcpts
(text with --rcpts recipients, default 20).

Exit status: 0 ok, 1 more errors than --max-errors (or the run failed),
2 bad usage.

`

// benchConfig is what the bench command line says.
type benchConfig struct {
	SMTPAddr       string
	HTTPAddr       string // "" = no time-to-visible
	HTTPRequired   bool   // --http was given: unreachable is an error, not a skip
	Messages       int
	Conns          int
	Shape          string
	Size           int
	Rcpts          int
	Pipeline       bool
	PID            int // 0 = look for the SMTP listener in /proc
	Sink           bool
	SinkOnly       bool
	SinkAddr       string
	JSON           bool
	MaxErrors      int
	Sample         int
	Timeout        time.Duration
	VisibleTimeout time.Duration
}

// Default sizes of the shapes: the "2 KB" and "50 KB" messages.
const (
	benchTextSize      = 2 << 10
	benchMultipartSize = 50 << 10
	benchRcpts         = 20
	// benchAbortErrors is the least number of errors after which a run
	// stops early: a dead server must not cost 10,000 connect attempts.
	benchAbortErrors = 100
)

// parseBenchConfig reads args; a usage error has been reported on stderr
// when it returns one.
func parseBenchConfig(args []string, getenv func(string) string, stderr io.Writer) (*benchConfig, error) {
	cfg := &benchConfig{}
	smtpDef := "127.0.0.1:1025"
	if v := getenv(envName("smtp-addr")); v != "" {
		smtpDef = probeAddr(v)
	}
	httpDef := "127.0.0.1:8025"
	if v := getenv(envName("http-addr")); v != "" {
		httpDef = probeAddr(v)
	}
	if root, err := normalizeWebroot(getenv(envName("webroot"))); err == nil && root != "/" {
		httpDef += strings.TrimSuffix(root, "/") // under the server's --webroot
	}
	size := byteSize(0)
	fs := newCLIFlags("bench", benchUsage, stderr) // the other subcommands' --help layout
	fs.StringVar(&cfg.SMTPAddr, "smtp-addr", smtpDef, "SMTP server to load (host:port; MAILSINK_SMTP_ADDR's port on loopback when set); empty with --sink = the sink only")
	fs.StringVar(&cfg.HTTPAddr, "http", httpDef, `its HTTP API (host:port or URL; default from MAILSINK_HTTP_ADDR and MAILSINK_WEBROOT) for time-to-visible; the default is used only if reachable; "" = off`)
	fs.IntVar(&cfg.Messages, "messages", 10000, "messages to send")
	fs.IntVar(&cfg.Conns, "conns", 50, "concurrent SMTP connections")
	fs.StringVar(&cfg.Shape, "shape", "text", "message shape: text, multipart or rcpts")
	fs.Var(&size, "size", "message size (bytes, or with KiB/MiB, KB/MB suffix); default 2KiB, 50KiB for multipart")
	fs.IntVar(&cfg.Rcpts, "rcpts", 0, "recipients per message; default 1, 20 for --shape rcpts")
	fs.BoolVar(&cfg.Pipeline, "pipeline", false, "send MAIL, RCPT and DATA in one write when the server offers PIPELINING")
	fs.IntVar(&cfg.PID, "pid", 0, "process id of the server, for its CPU and RSS; 0 = find the SMTP port's listener in /proc if it runs here")
	fs.BoolVar(&cfg.Sink, "sink", false, "first run the same load against a built-in discard-everything server and print the ratio")
	fs.BoolVar(&cfg.SinkOnly, "sink-only", false, "only run the discard-everything server on --sink-addr until interrupted")
	fs.StringVar(&cfg.SinkAddr, "sink-addr", "127.0.0.1:0", "listen address of the discard-everything server")
	fs.BoolVar(&cfg.JSON, "json", false, "print the results as JSON")
	fs.IntVar(&cfg.MaxErrors, "max-errors", 0, "errors tolerated before the exit status is 1 (after more than max(N, 100) the run stops early)")
	fs.IntVar(&cfg.Sample, "sample", 100, "measure time-to-visible for every Nth message")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "longest wait for one SMTP reply or write")
	fs.DurationVar(&cfg.VisibleTimeout, "visible-timeout", 10*time.Second, "after the last 250, how long to wait for the messages to become visible")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	cfg.HTTPRequired = given["http"] && cfg.HTTPAddr != ""
	cfg.Size = int(size)
	if !given["size"] {
		cfg.Size = benchTextSize
		if cfg.Shape == "multipart" {
			cfg.Size = benchMultipartSize
		}
	}
	if !given["rcpts"] {
		cfg.Rcpts = 1
		if cfg.Shape == "rcpts" {
			cfg.Rcpts = benchRcpts
		}
	}
	err := cfg.validate(fs)
	if err != nil {
		fmt.Fprintf(stderr, "mailsink bench: %v\n", err)
	}
	return cfg, err
}

func (cfg *benchConfig) validate(fs *flag.FlagSet) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	case cfg.SinkOnly:
		if cfg.Sink {
			return errors.New("--sink and --sink-only exclude each other")
		}
		return nil // the sink server needs nothing else
	case cfg.Messages < 1:
		return errors.New("--messages must be at least 1")
	case cfg.Conns < 1:
		return errors.New("--conns must be at least 1")
	case cfg.Shape != "text" && cfg.Shape != "multipart" && cfg.Shape != "rcpts":
		return fmt.Errorf("--shape: %q is not text, multipart or rcpts", cfg.Shape)
	case cfg.Size < 256 || cfg.Size > 64<<20:
		return errors.New("--size must be between 256 bytes and 64MiB")
	case cfg.Rcpts < 1 || cfg.Rcpts > 1000:
		return errors.New("--rcpts must be between 1 and 1000")
	case cfg.PID < 0:
		return errors.New("--pid must not be negative")
	case cfg.MaxErrors < 0:
		return errors.New("--max-errors must not be negative")
	case cfg.Sample < 1:
		return errors.New("--sample must be at least 1")
	case cfg.Timeout <= 0 || cfg.VisibleTimeout < 0:
		return errors.New("--timeout must be positive and --visible-timeout not negative")
	case cfg.SMTPAddr == "" && !cfg.Sink:
		return errors.New("--smtp-addr: empty (only allowed with --sink)")
	}
	if cfg.SMTPAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.SMTPAddr); err != nil {
			return fmt.Errorf("--smtp-addr: %w", err)
		}
	}
	if cfg.HTTPAddr != "" {
		if _, err := benchEventsURL(cfg.HTTPAddr); err != nil {
			return fmt.Errorf("--http: %w", err)
		}
	}
	cfg.Conns = min(cfg.Conns, cfg.Messages) // an idle connection measures nothing
	return nil
}

// cmdBench is `mailsink bench`.
func cmdBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseBenchConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if cfg.SinkOnly {
		return runSinkOnly(ctx, cfg, stdout, stderr)
	}
	rep, err := runBench(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mailsink bench:", err)
		return 1
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "mailsink bench:", err)
			return 1
		}
	} else {
		rep.print(stdout)
	}
	errs := 0
	for _, r := range []*benchResult{rep.Sink, rep.Target} {
		if r != nil {
			errs += r.ErrorCount
		}
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "mailsink bench: interrupted")
		return 1
	case errs > cfg.MaxErrors:
		fmt.Fprintf(stderr, "mailsink bench: %d errors, more than --max-errors %d\n", errs, cfg.MaxErrors)
		return 1
	}
	return 0
}

// runSinkOnly serves the discard-everything server until ctx is done.
func runSinkOnly(ctx context.Context, cfg *benchConfig, stdout, stderr io.Writer) int {
	sink, err := startBenchSink(cfg.SinkAddr)
	if err != nil {
		fmt.Fprintln(stderr, "mailsink bench:", err)
		return 1
	}
	started := time.Now()
	fmt.Fprintf(stdout, "sink listening on %s (pid %d); interrupt to stop\n", sink.Addr(), os.Getpid())
	<-ctx.Done()
	sink.Close()
	fmt.Fprintf(stdout, "sink: %d messages, %.1f MB in %s\n", sink.msgs.Load(), float64(sink.bytes.Load())/1e6, time.Since(started).Round(time.Millisecond))
	return 0
}

// benchReport is the whole output of a run.
type benchReport struct {
	RunID    string       `json:"run_id"`
	Shape    string       `json:"shape"`
	Size     int          `json:"size"` // target bytes per message
	Rcpts    int          `json:"rcpts"`
	Messages int          `json:"messages"`
	Conns    int          `json:"conns"`
	Pipeline bool         `json:"pipeline"`
	Sink     *benchResult `json:"sink,omitempty"`   // the discard-everything baseline
	Target   *benchResult `json:"target,omitempty"` // --smtp-addr
	Ratio    *benchRatio  `json:"ratio,omitempty"`  // target / sink
}

// benchResult is the measurement of one server.
type benchResult struct {
	Name        string            `json:"name"` // "sink" or "target"
	Addr        string            `json:"addr"`
	Pipelined   bool              `json:"pipelined"` // --pipeline and the server offered it
	Attempted   int               `json:"attempted"`
	Acked       int               `json:"acked"` // got their 250
	Bytes       int64             `json:"bytes"` // message content of the acked messages
	WallSeconds float64           `json:"wall_seconds"`
	MsgPerSec   float64           `json:"msg_per_sec"`
	MBPerSec    float64           `json:"mb_per_sec"` // 10^6 bytes
	AckMS       benchLatency      `json:"ack_ms"`
	ErrorCount  int               `json:"error_count"`
	Errors      map[string]int    `json:"errors"`                 // by kind: "connect", "RCPT 451", "ack timeout"…
	ErrorSample map[string]string `json:"error_sample,omitempty"` // one message per kind
	Aborted     bool              `json:"aborted,omitempty"`      // stopped early: too many errors or interrupted
	Visible     *benchVisible     `json:"visible,omitempty"`
	Server      *benchServer      `json:"server,omitempty"`
}

// benchLatency holds percentiles in milliseconds.
type benchLatency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// benchVisible is time-to-visible: from a message's 250 to its event.
type benchVisible struct {
	URL        string       `json:"url"`
	Sampled    int          `json:"sampled"`    // sampled messages that got their 250
	Seen       int          `json:"seen"`       // of those, pushed on the websocket in time
	BeforeAck  int          `json:"before_ack"` // pushed before the client had read the 250 (counted as 0)
	AllSeen    int          `json:"all_seen"`   // messages of this run pushed: all acked ones unless the stream dropped us
	Reconnects int          `json:"reconnects"` // the server dropped the websocket (too slow a reader)
	MS         benchLatency `json:"ms"`
}

// benchServer is the server process's cost during the run.
type benchServer struct {
	PID         int     `json:"pid"`
	CPUMS       float64 `json:"cpu_ms"`
	CPUMSPerMsg float64 `json:"cpu_ms_per_msg"`
	PeakRSSMiB  float64 `json:"peak_rss_mib"` // sampled every 50ms during the run
	HWMMiB      float64 `json:"hwm_mib"`      // VmHWM: the process's peak since it started
	StartRSSMiB float64 `json:"start_rss_mib"`
}

// benchRatio compares the target with the sink.
type benchRatio struct {
	MsgPerSec float64 `json:"msg_per_sec"`
	MBPerSec  float64 `json:"mb_per_sec"`
	AckP99    float64 `json:"ack_p99"`
}

// runBench runs the sink phase (with --sink) and the target phase.
func runBench(ctx context.Context, cfg *benchConfig, stderr io.Writer) (*benchReport, error) {
	if cfg.PID > 0 {
		if _, err := procCPU(cfg.PID); err != nil {
			return nil, fmt.Errorf("--pid: %w", err)
		}
	}
	runID, err := newBenchRunID()
	if err != nil {
		return nil, err
	}
	gen := newBenchGen(runID, cfg.Shape, cfg.Size, cfg.Rcpts, cfg.Messages)
	rep := &benchReport{RunID: gen.runID, Shape: cfg.Shape, Size: cfg.Size, Rcpts: cfg.Rcpts,
		Messages: cfg.Messages, Conns: cfg.Conns, Pipeline: cfg.Pipeline}
	if cfg.Sink {
		sink, err := startBenchSink(cfg.SinkAddr)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "bench %s: %d %s messages over %d connections to the sink on %s\n", gen.runID, cfg.Messages, cfg.Shape, cfg.Conns, sink.Addr())
		rep.Sink = runLoad(ctx, cfg, gen, sink.Addr(), nil, 0)
		rep.Sink.Name = "sink"
		sink.Close()
	}
	if cfg.SMTPAddr == "" || ctx.Err() != nil {
		return rep, nil
	}

	var watch *benchWatcher
	if cfg.HTTPAddr != "" {
		u, _ := benchEventsURL(cfg.HTTPAddr) // validated
		watch, err = startBenchWatcher(ctx, u, gen.runID, cfg.Sample, cfg.Messages)
		switch {
		case err != nil && cfg.HTTPRequired:
			return nil, fmt.Errorf("--http: %w", err)
		case err != nil:
			fmt.Fprintf(stderr, "bench: no time-to-visible: %v (set --http)\n", err)
			watch = nil
		}
	}
	pid, listener := cfg.PID, listenerPID(cfg.SMTPAddr)
	switch {
	case pid == 0 && listener != os.Getpid():
		// An in-process server's CPU time could not be told apart from
		// the client's: measure only another process.
		pid = listener
	case pid != 0 && listener != 0 && listener != pid:
		fmt.Fprintf(stderr, "bench: warning: --pid %d does not listen on %s; process %d does (a wrapper shell's $!?)\n", pid, cfg.SMTPAddr, listener)
	}
	fmt.Fprintf(stderr, "bench %s: %d %s messages over %d connections to %s\n", gen.runID, cfg.Messages, cfg.Shape, cfg.Conns, cfg.SMTPAddr)
	rep.Target = runLoad(ctx, cfg, gen, cfg.SMTPAddr, watch, pid)
	rep.Target.Name = "target"
	if rep.Sink != nil && rep.Sink.MsgPerSec > 0 && rep.Target.MsgPerSec > 0 {
		rep.Ratio = &benchRatio{
			MsgPerSec: rep.Target.MsgPerSec / rep.Sink.MsgPerSec,
			MBPerSec:  rep.Target.MBPerSec / rep.Sink.MBPerSec,
		}
		if rep.Sink.AckMS.P99 > 0 {
			rep.Ratio.AckP99 = rep.Target.AckMS.P99 / rep.Sink.AckMS.P99
		}
	}
	return rep, nil
}

// benchErrors counts errors by kind; safe for concurrent use.
type benchErrors struct {
	mu     sync.Mutex
	counts map[string]int
	sample map[string]string
	total  atomic.Int64
}

func (e *benchErrors) add(kind string, err error) {
	e.total.Add(1)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts[kind]++
	if _, ok := e.sample[kind]; !ok && err != nil {
		e.sample[kind] = err.Error()
	}
}

// runLoad sends cfg.Messages messages to addr and measures it. watch and
// pid are optional (nil, 0).
func runLoad(ctx context.Context, cfg *benchConfig, gen *benchGen, addr string, watch *benchWatcher, pid int) *benchResult {
	res := &benchResult{Addr: addr, Attempted: cfg.Messages}
	errs := &benchErrors{counts: map[string]int{}, sample: map[string]string{}}
	abortAt := int64(max(cfg.MaxErrors, benchAbortErrors))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var proc *procSampler
	if pid > 0 {
		proc = startProcSampler(pid)
	}

	// Acks of sampled messages, indexed by message/Sample; each slot is
	// written by the one worker that sent that message.
	ackAt := make([]time.Time, (cfg.Messages+cfg.Sample-1)/cfg.Sample)
	var next atomic.Int64
	var acked, bytesSent atomic.Int64
	var pipelined atomic.Bool
	lats := make([][]time.Duration, cfg.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range cfg.Conns {
		wg.Go(func() {
			var c *benchConn
			defer func() {
				if c != nil {
					c.quit()
				}
			}()
			var head []byte
			backoff := 10 * time.Millisecond
			lat := make([]time.Duration, 0, cfg.Messages/cfg.Conns+1)
			defer func() { lats[w] = lat }()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= cfg.Messages {
					return
				}
				if c == nil {
					var err error
					c, err = dialBench(ctx, addr, cfg.Timeout, cfg.Pipeline)
					if err != nil {
						// The message is lost with the connection: a run
						// against a dead server must end.
						errs.add(benchErrKind(err), err)
						if errs.total.Load() > abortAt {
							cancel()
						}
						select {
						case <-ctx.Done():
						case <-time.After(backoff):
						}
						backoff = min(2*backoff, time.Second)
						continue
					}
					backoff = 10 * time.Millisecond
					if c.pipelining {
						pipelined.Store(true)
					}
				}
				var m benchMail
				head, m = gen.mail(i, head)
				d, err := c.send(&m)
				if err != nil {
					errs.add(benchErrKind(err), err)
					c.close()
					c = nil
					if errs.total.Load() > abortAt {
						cancel()
					}
					continue
				}
				if i%cfg.Sample == 0 {
					ackAt[i/cfg.Sample] = time.Now()
				}
				lat = append(lat, d)
				acked.Add(1)
				bytesSent.Add(int64(len(m.head) + len(m.body)))
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	res.Aborted = ctx.Err() != nil

	res.Pipelined = pipelined.Load()
	res.Acked = int(acked.Load())
	res.Bytes = bytesSent.Load()
	res.WallSeconds = wall.Seconds()
	if wall > 0 {
		res.MsgPerSec = float64(res.Acked) / wall.Seconds()
		res.MBPerSec = float64(res.Bytes) / 1e6 / wall.Seconds()
	}
	all := slices.Concat(lats...)
	res.AckMS = benchPercentiles(all)
	res.ErrorCount = int(errs.total.Load())
	res.Errors = errs.counts
	res.ErrorSample = errs.sample

	if watch != nil {
		// Context of the caller: a run aborted for errors still reports
		// what became visible.
		res.Visible = watch.finish(ackAt, res.Acked, cfg.VisibleTimeout)
	}
	if proc != nil {
		res.Server = proc.stop(res.Acked)
	}
	return res
}

// benchPercentiles returns nearest-rank percentiles of ds in ms.
func benchPercentiles(ds []time.Duration) benchLatency {
	if len(ds) == 0 {
		return benchLatency{}
	}
	slices.Sort(ds)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return float64(ds[max(i, 0)]) / float64(time.Millisecond)
	}
	return benchLatency{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: at(1)}
}

// --- SMTP client --------------------------------------------------------

// benchError is a failed step of a session: Kind names the step and the
// reply code (or "io"/"timeout") for the error table.
type benchError struct {
	Kind string
	Err  error
}

func (e *benchError) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *benchError) Unwrap() error { return e.Err }

func benchErrKind(err error) string {
	var be *benchError
	if errors.As(err, &be) {
		return be.Kind
	}
	return "other"
}

// benchConn is one SMTP session reused for many transactions.
type benchConn struct {
	nc         net.Conn
	r          *bufio.Reader
	w          *bufio.Writer
	timeout    time.Duration
	pipelining bool // asked for and offered
}

// dialBench connects, reads the greeting and says EHLO.
func dialBench(ctx context.Context, addr string, timeout time.Duration, pipeline bool) (*benchConn, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &benchError{"connect", err}
	}
	c := &benchConn{nc: nc, r: bufio.NewReaderSize(nc, 16<<10), w: bufio.NewWriterSize(nc, 64<<10), timeout: timeout}
	nc.SetDeadline(time.Now().Add(timeout))
	if _, _, err := c.expect("greeting", 2); err != nil {
		nc.Close()
		return nil, err
	}
	c.w.WriteString("EHLO bench.mailsink.test\r\n")
	if err := c.flush("EHLO"); err != nil {
		nc.Close()
		return nil, err
	}
	_, ext, err := c.expect("EHLO", 2)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.pipelining = pipeline && ext["PIPELINING"]
	return c, nil
}

func (c *benchConn) close() { c.nc.Close() }

// quit ends the session politely; errors no longer matter.
func (c *benchConn) quit() {
	c.nc.SetDeadline(time.Now().Add(time.Second))
	c.w.WriteString("QUIT\r\n")
	if c.w.Flush() == nil {
		c.readReply(nil)
	}
	c.nc.Close()
}

func (c *benchConn) flush(step string) error {
	if err := c.w.Flush(); err != nil {
		return &benchError{step + " " + ioKind(err), err}
	}
	return nil
}

func ioKind(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "io"
}

// readReply reads one (possibly multi-line) reply and returns its code
// and the text of its last line; ext, when not nil, collects the EHLO
// keywords. The text is only copied out for failures and EHLO, so that a
// 250 costs no allocation.
func (c *benchConn) readReply(ext map[string]bool) (int, string, error) {
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				err = errors.New("reply line too long")
			}
			return 0, "", err
		}
		if len(line) < 4 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) {
			return 0, "", fmt.Errorf("malformed reply %q", bytes.TrimRight(line, "\r\n"))
		}
		code := int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
		text := bytes.TrimRight(line[4:], "\r\n")
		if ext != nil {
			kw, _, _ := strings.Cut(string(text), " ")
			ext[strings.ToUpper(kw)] = true
		}
		if line[3] != '-' {
			if code >= 400 || ext != nil {
				return code, string(text), nil
			}
			return code, "", nil
		}
	}
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// expect reads a reply whose code must start with class (2 or 3).
func (c *benchConn) expect(step string, class int) (int, map[string]bool, error) {
	var ext map[string]bool
	if step == "EHLO" {
		ext = map[string]bool{}
	}
	code, text, err := c.readReply(ext)
	if err != nil {
		return 0, nil, &benchError{step + " " + ioKind(err), err}
	}
	if code/100 != class {
		return code, nil, &benchError{step + " " + strconv.Itoa(code), fmt.Errorf("%d %s", code, text)}
	}
	return code, ext, nil
}

// send runs one transaction and returns the ack latency: from the final
// "\r\n.\r\n" leaving our buffer to its reply having been read.
func (c *benchConn) send(m *benchMail) (time.Duration, error) {
	c.nc.SetDeadline(time.Now().Add(c.timeout))
	c.w.WriteString("MAIL FROM:<")
	c.w.WriteString(m.from)
	c.w.WriteString(">\r\n")
	if !c.pipelining {
		if err := c.flush("MAIL"); err != nil {
			return 0, err
		}
		if _, _, err := c.expect("MAIL", 2); err != nil {
			return 0, err
		}
	}
	for _, rcpt := range m.rcpts {
		c.w.WriteString("RCPT TO:<")
		c.w.WriteString(rcpt)
		c.w.WriteString(">\r\n")
		if !c.pipelining {
			if err := c.flush("RCPT"); err != nil {
				return 0, err
			}
			if _, _, err := c.expect("RCPT", 2); err != nil {
				return 0, err
			}
		}
	}
	c.w.WriteString("DATA\r\n")
	if err := c.flush("DATA"); err != nil {
		return 0, err
	}
	if c.pipelining {
		// One reply per command, in order (RFC 2920); the first failure
		// ends the session, so the rest need not be read.
		if _, _, err := c.expect("MAIL", 2); err != nil {
			return 0, err
		}
		for range m.rcpts {
			if _, _, err := c.expect("RCPT", 2); err != nil {
				return 0, err
			}
		}
	}
	if _, _, err := c.expect("DATA", 3); err != nil {
		return 0, err
	}
	c.w.Write(m.head)
	c.w.Write(m.body)
	c.w.WriteString(".\r\n")
	if err := c.flush("content"); err != nil {
		return 0, err
	}
	sent := time.Now()
	if _, _, err := c.expect("ack", 2); err != nil {
		return 0, err
	}
	return time.Since(sent), nil
}

// --- messages -----------------------------------------------------------

// benchMail is one message ready for the wire. head and body are already
// dot-stuffed and end in CRLF; body is shared between many messages.
type benchMail struct {
	from  string
	rcpts []string
	head  []byte
	body  []byte
	id    string // Message-ID without the angle brackets
}

// benchGen makes the messages of a run. The expensive part (varied words,
// the attachment, dot-stuffing) is done once for a small pool of bodies;
// each message then only gets its own header block, so the generator is
// never what limits the rate.
type benchGen struct {
	runID    string
	from     string
	rcpts    []string
	toHeader string
	date     string
	subjects []string
	bodies   [][]byte // content after the unique header lines, stuffed
}

const benchDomain = "bench.mailsink.test"

// newBenchGen prepares messages of the shape whose total size (header and
// body, before stuffing) is about size.
// The bodies depend only on runID, so that a test can make them again.
func newBenchGen(runID, shape string, size, rcpts, messages int) *benchGen {
	g := &benchGen{
		runID: runID,
		from:  "sender@" + benchDomain,
		date:  time.Now().Format(time.RFC1123Z),
	}
	var to strings.Builder
	to.WriteString("To: ")
	for i := range rcpts {
		r := fmt.Sprintf("user%02d@%s", i+1, benchDomain)
		g.rcpts = append(g.rcpts, r)
		if i > 0 {
			to.WriteString(",\r\n ") // folded: one address a line
		}
		to.WriteString(r)
	}
	to.WriteString("\r\n")
	g.toHeader = to.String()
	seed := fnv.New64a()
	seed.Write([]byte(runID))
	rng := mrand.New(mrand.NewPCG(seed.Sum64(), uint64(len(runID))))
	for range 64 {
		g.subjects = append(g.subjects, benchWordsLine(rng, 3+rng.IntN(6)))
	}

	// The unique header lines of the longest-numbered message: what the
	// body must leave room for.
	headLen := len(g.appendHead(nil, messages-1))
	pool := min(max(4, (8<<20)/size), 64, messages)
	for v := range pool {
		var b []byte
		switch shape {
		case "multipart":
			b = benchMultipart(rng, v, g.runID, size-headLen)
		default:
			b = benchPlain(rng, size-headLen)
		}
		g.bodies = append(g.bodies, dotStuff(nil, b))
	}
	return g
}

// newBenchRunID returns a fresh random id that marks a run's messages.
func newBenchRunID() (string, error) {
	var id [4]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("run id: %w", err)
	}
	return hex.EncodeToString(id[:]), nil
}

// mail returns message i, with its header block built in buf.
func (g *benchGen) mail(i int, buf []byte) ([]byte, benchMail) {
	buf = g.appendHead(buf[:0], i)
	return buf, benchMail{
		from:  g.from,
		rcpts: g.rcpts,
		head:  buf,
		body:  g.bodies[i%len(g.bodies)],
		id:    g.messageID(i),
	}
}

func (g *benchGen) messageID(i int) string {
	return g.runID + "." + strconv.Itoa(i) + "@" + benchDomain
}

// appendHead appends message i's own header lines. None of them can start
// with '.', so they need no stuffing.
func (g *benchGen) appendHead(b []byte, i int) []byte {
	b = append(b, "Date: "...)
	b = append(b, g.date...)
	b = append(b, "\r\nFrom: Bench Sender <"...)
	b = append(b, g.from...)
	b = append(b, ">\r\n"...)
	b = append(b, g.toHeader...)
	b = append(b, "Message-ID: <"...)
	b = append(b, g.runID...)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, "@"+benchDomain+">\r\nSubject: bench "...)
	b = append(b, g.runID...)
	b = append(b, " #"...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, ' ')
	b = append(b, g.subjects[i%len(g.subjects)]...)
	b = append(b, "\r\nMIME-Version: 1.0\r\nX-Mailsink-Bench: "...)
	b = append(b, g.runID...)
	b = append(b, "\r\n"...)
	return b
}

// benchPlain is the rest of a text/plain message of about n bytes.
func benchPlain(rng *mrand.Rand, n int) []byte {
	b := []byte("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	return benchText(rng, b, n-len(b))
}

// benchMultipart is the rest of a multipart/mixed message of about n
// bytes: text and HTML alternatives and a base64 PDF-like attachment.
func benchMultipart(rng *mrand.Rand, variant int, runID string, n int) []byte {
	mixed := fmt.Sprintf("=_mix_%s_%d", runID, variant)
	alt := fmt.Sprintf("=_alt_%s_%d", runID, variant)
	name := fmt.Sprintf("report-%s-%d.pdf", runID, variant)
	var b []byte
	b = fmt.Appendf(b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"+
		"This is a multi-part message in MIME format.\r\n\r\n"+
		"--%s\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"+
		"--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
		mixed, mixed, alt, alt)
	const overhead = 520 // the MIME lines below
	avail := max(n-len(b)-overhead, 300)
	textN, htmlN := avail*15/100, avail*30/100
	attN := avail - textN - htmlN // encoded size
	b = benchText(rng, b, textN)
	b = fmt.Appendf(b, "\r\n--%s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n", alt)
	b = benchHTML(rng, b, htmlN)
	b = fmt.Appendf(b, "\r\n--%s--\r\n\r\n--%s\r\nContent-Type: application/pdf; name=\"%s\"\r\n"+
		"Content-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		alt, mixed, name, name)
	raw := make([]byte, max(attN*57/78, 16)) // 76 base64 chars + CRLF per 57 bytes
	copy(raw, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	for i := 16; i < len(raw); i++ {
		raw[i] = byte(rng.Uint32())
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		b = append(b, enc[:76]...)
		b = append(b, "\r\n"...)
		enc = enc[76:]
	}
	b = append(b, enc...)
	b = fmt.Appendf(b, "\r\n\r\n--%s--\r\n", mixed)
	return b
}

// benchText appends about n bytes of paragraphs of varied words in
// 72-column lines. A few lines start with '.' (one is a lone "."), which
// is what dot-stuffing exists for.
func benchText(rng *mrand.Rand, b []byte, n int) []byte {
	end := len(b) + max(n, 8)
	for line := 0; len(b) < end-2; line++ {
		switch {
		case line == 3:
			b = append(b, ".\r\n"...)
			continue
		case line == 6 || rng.IntN(25) == 0:
			b = append(b, "..."...)
		case line%9 == 8:
			b = append(b, "\r\n"...) // paragraph break
			continue
		}
		width := min(72, end-2-len(b))
		b = appendWords(rng, b, width)
		b = append(b, "\r\n"...)
	}
	return b
}

// benchHTML appends about n bytes of a simple HTML document.
func benchHTML(rng *mrand.Rand, b []byte, n int) []byte {
	start := len(b)
	b = append(b, "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"><title>Bench</title></head>\r\n<body>\r\n"...)
	tail := "</body></html>\r\n"
	for len(b)-start < n-len(tail)-12 {
		b = append(b, "<p>"...)
		for range 1 + rng.IntN(4) {
			width := min(72, n-len(tail)-(len(b)-start)-6)
			if width < 8 {
				break
			}
			b = appendWords(rng, b, width)
			b = append(b, "\r\n"...)
		}
		b = append(b, "</p>\r\n"...)
	}
	return append(b, tail...)
}

// appendWords appends words up to width bytes (at least one word).
func appendWords(rng *mrand.Rand, b []byte, width int) []byte {
	start := len(b)
	for {
		w := benchWords[rng.IntN(len(benchWords))]
		if len(b) > start && len(b)-start+1+len(w) > width {
			return b
		}
		if len(b) > start {
			b = append(b, ' ')
		}
		b = append(b, w...)
	}
}

func benchWordsLine(rng *mrand.Rand, words int) string {
	var b []byte
	for i := range words {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, benchWords[rng.IntN(len(benchWords))]...)
	}
	return string(b)
}

// dotStuff appends src to dst with every line that starts with '.' given
// a second one (RFC 5321 4.5.2), so that no line of the content can be
// read as the end of DATA; src must end in CRLF, else one is added.
func dotStuff(dst, src []byte) []byte {
	atLineStart := true
	for len(src) > 0 {
		if atLineStart && src[0] == '.' {
			dst = append(dst, '.')
		}
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			dst = append(dst, src...)
			src = nil
			atLineStart = false
			break
		}
		dst = append(dst, src[:i+1]...)
		src = src[i+1:]
		atLineStart = true
	}
	if !bytes.HasSuffix(dst, []byte("\r\n")) {
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// benchWords is the vocabulary of the generated text: office mail.
var benchWords = strings.Fields(`the a an and or but of to in on for with at by from about as into
like through after over between out against during without before under around among
meeting report budget invoice schedule project deadline review customer order shipment
account password reset confirm subscription newsletter update release feature bug fix
deploy server database backup quarter revenue forecast team office holiday lunch agenda
please thanks regards hello hi dear kindly attached find below above note reminder
urgent follow up call tomorrow today next week monday friday morning afternoon evening
we you they our your their it this that these those is are was were be been will would
could should may might must can new old first last final draft version copy summary
details information question answer request approval sign contract proposal offer price
discount delivery address phone email website link click here login security alert
notice policy terms privacy service support ticket issue status resolved pending open
closed priority high low medium number total amount due paid payment receipt tax`)

// --- the discard-everything server --------------------------------------

// benchSink is the wire's ceiling: an SMTP server that accepts everything,
// reads each message and throws it away, answering 250 at once. It is
// deliberately not smtpd: it must cost as little as an SMTP server can.
type benchSink struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	msgs  atomic.Int64
	bytes atomic.Int64
}

func startBenchSink(addr string) (*benchSink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	s := &benchSink{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				return // closed
			}
			s.mu.Lock()
			s.conns[nc] = struct{}{}
			s.mu.Unlock()
			s.wg.Go(func() {
				defer func() {
					s.mu.Lock()
					delete(s.conns, nc)
					s.mu.Unlock()
					nc.Close()
				}()
				s.serve(nc)
			})
		}
	})
	return s, nil
}

func (s *benchSink) Addr() string { return s.ln.Addr().String() }

// Close stops accepting, hangs up on every session and waits for them.
func (s *benchSink) Close() {
	s.ln.Close()
	s.mu.Lock()
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// serve runs one session. Replies are flushed only when no pipelined
// command is waiting, so a pipelined batch is answered in one write.
func (s *benchSink) serve(nc net.Conn) {
	r := bufio.NewReaderSize(nc, 64<<10)
	w := bufio.NewWriterSize(nc, 4<<10)
	w.WriteString("220 sink.mailsink.test ESMTP discard-everything sink\r\n")
	for {
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
		line, err := r.ReadSlice('\n')
		if err != nil {
			return // a command line longer than the buffer is not SMTP
		}
		var verb [4]byte // upper-cased without allocating: this is the ceiling
		for i := 0; i < len(verb) && i < len(line); i++ {
			c := line[i]
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			verb[i] = c
		}
		switch string(verb[:]) {
		case "EHLO":
			w.WriteString("250-sink.mailsink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE\r\n")
		case "HELO", "MAIL", "RCPT", "RSET", "NOOP":
			w.WriteString("250 OK\r\n")
		case "DATA":
			w.WriteString("354 go ahead\r\n")
			if w.Flush() != nil {
				return
			}
			n, err := discardData(r)
			if err != nil {
				return
			}
			s.msgs.Add(1)
			s.bytes.Add(n)
			w.WriteString("250 discarded\r\n")
		case "QUIT":
			w.WriteString("221 bye\r\n")
			w.Flush()
			return
		default:
			w.WriteString("502 not implemented\r\n")
		}
	}
}

// discardData reads message content up to and including the "." line and
// returns how many bytes it read.
func discardData(r *bufio.Reader) (int64, error) {
	var n int64
	atLineStart := true
	for {
		line, err := r.ReadSlice('\n')
		n += int64(len(line))
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			atLineStart = false // the rest of a long line follows
			continue
		case err != nil:
			return n, err
		}
		if atLineStart && (string(line) == ".\r\n" || string(line) == ".\n") {
			return n, nil
		}
		atLineStart = true
	}
}

// --- time-to-visible ----------------------------------------------------

// benchEventsURL turns --http (host:port or an http(s) URL) into the
// websocket URL of the event stream.
func benchEventsURL(v string) (string, error) {
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("%q is not host:port or an http URL", v)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%q has no host", v)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/events"
	return u.String(), nil
}

// benchWatcher reads the server's event stream and notes when each
// sampled message of the run was announced. A "new" event is sent after
// the message committed, so it is when the message became visible.
type benchWatcher struct {
	url    string
	prefix []byte // `"MessageID":"<runID>.`
	sample int
	cancel context.CancelFunc
	done   chan struct{}
	seen   chan struct{} // poked (non-blocking) at each event of the run

	mu         sync.Mutex
	seenAt     []time.Time // by message/sample
	sampled    int
	all        int
	reconnects int
}

func startBenchWatcher(ctx context.Context, u, runID string, sample, messages int) (*benchWatcher, error) {
	conn, err := benchDialEvents(ctx, u)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &benchWatcher{
		url:    u,
		prefix: []byte(`"MessageID":"` + runID + "."),
		sample: sample,
		cancel: cancel,
		done:   make(chan struct{}),
		seen:   make(chan struct{}, 1),
		seenAt: make([]time.Time, (messages+sample-1)/sample),
	}
	go w.loop(ctx, conn)
	return w, nil
}

func benchDialEvents(ctx context.Context, u string) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// The hub subscribes before it upgrades: once Dial returns, no
	// message of the run can be missed.
	conn, resp, err := websocket.DefaultDialer.DialContext(dctx, u, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%s: %s", u, resp.Status)
		}
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return conn, nil
}

// loop reads events until cancelled, reconnecting when the server drops a
// reader it finds too slow (events in the gap are missed, and reported).
func (w *benchWatcher) loop(ctx context.Context, conn *websocket.Conn) {
	defer close(w.done)
	watch := func(c *websocket.Conn) func() bool {
		return context.AfterFunc(ctx, func() { c.Close() }) // unblocks ReadMessage
	}
	stop := watch(conn)
	defer func() {
		if conn != nil {
			stop()
			conn.Close()
		}
	}()
	for {
		if conn == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			c, err := benchDialEvents(ctx, w.url)
			if err != nil {
				continue
			}
			conn, stop = c, watch(c)
			w.mu.Lock()
			w.reconnects++
			w.mu.Unlock()
		}
		_, msg, err := conn.ReadMessage()
		if err != nil {
			stop()
			conn.Close()
			conn = nil
			if ctx.Err() != nil {
				return
			}
			continue
		}
		w.note(msg, time.Now())
	}
}

// note records a "new" event for a message of this run. It matches bytes
// rather than decoding JSON: the reader must keep up with thousands of
// events a second or the server drops it.
func (w *benchWatcher) note(msg []byte, at time.Time) {
	if !bytes.Contains(msg[:min(len(msg), 32)], []byte(`"Type":"new"`)) {
		return
	}
	i := bytes.Index(msg, w.prefix)
	if i < 0 {
		return
	}
	rest := msg[i+len(w.prefix):]
	n := 0
	digits := 0
	for ; digits < len(rest) && isDigit(rest[digits]); digits++ {
		n = n*10 + int(rest[digits]-'0')
	}
	if digits == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all++
	if n%w.sample == 0 && n/w.sample < len(w.seenAt) && w.seenAt[n/w.sample].IsZero() {
		w.seenAt[n/w.sample] = at
		w.sampled++
	}
	select {
	case w.seen <- struct{}{}:
	default:
	}
}

// finish waits up to timeout for every acked message to be seen (an
// event may trail its 250), stops the watcher and computes
// time-to-visible of the samples.
func (w *benchWatcher) finish(ackAt []time.Time, acked int, timeout time.Duration) *benchVisible {
	want := 0
	for _, t := range ackAt {
		if !t.IsZero() {
			want++
		}
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
wait:
	for {
		w.mu.Lock()
		done := w.sampled >= want && w.all >= acked
		w.mu.Unlock()
		if done {
			break
		}
		select {
		case <-w.seen:
		case <-deadline.C:
			break wait
		case <-w.done:
			break wait
		}
	}
	w.cancel()
	<-w.done

	v := &benchVisible{URL: w.url, Sampled: want, AllSeen: w.all, Reconnects: w.reconnects}
	var ds []time.Duration
	for k, ack := range ackAt {
		seen := w.seenAt[k]
		if ack.IsZero() || seen.IsZero() {
			continue
		}
		d := seen.Sub(ack)
		if d < 0 {
			// The event overtook the 250 on its way to us; it was
			// visible no later than the ack.
			v.BeforeAck++
			d = 0
		}
		ds = append(ds, d)
	}
	v.Seen = len(ds)
	v.MS = benchPercentiles(ds)
	return v
}

// --- server CPU and memory ----------------------------------------------

// procSampler watches a local process's RSS and its CPU time over a run.
type procSampler struct {
	pid      int
	cpu0     time.Duration
	startRSS int64 // kB
	peakRSS  atomic.Int64
	stopc    chan struct{}
	done     chan struct{}
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports (reading it needs sysconf, i.e. cgo).
const clockTicks = 100

func startProcSampler(pid int) *procSampler {
	p := &procSampler{pid: pid, stopc: make(chan struct{}), done: make(chan struct{})}
	p.cpu0, _ = procCPU(pid)
	p.startRSS, _, _ = procMem(pid)
	p.peakRSS.Store(p.startRSS)
	go func() {
		defer close(p.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stopc:
				return
			case <-t.C:
				if rss, _, err := procMem(pid); err == nil && rss > p.peakRSS.Load() {
					p.peakRSS.Store(rss)
				}
			}
		}
	}()
	return p
}

// stop ends the sampling; nil when the process could not be read.
func (p *procSampler) stop(acked int) *benchServer {
	close(p.stopc)
	<-p.done
	cpu1, err := procCPU(p.pid)
	if err != nil {
		return nil
	}
	rss, hwm, err := procMem(p.pid)
	if err != nil {
		return nil
	}
	peak := max(p.peakRSS.Load(), rss)
	s := &benchServer{
		PID:         p.pid,
		CPUMS:       float64(cpu1-p.cpu0) / float64(time.Millisecond),
		PeakRSSMiB:  float64(peak) / 1024,
		HWMMiB:      float64(hwm) / 1024,
		StartRSSMiB: float64(p.startRSS) / 1024,
	}
	if acked > 0 {
		s.CPUMSPerMsg = s.CPUMS / float64(acked)
	}
	return s
}

// procCPU is the user+system CPU time of every thread of pid so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces and parentheses: the
	// fields proper start after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// procMem returns VmRSS and VmHWM of pid in kB.
func procMem(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status %s: %w", pid, k, err)
		}
		if k == "VmRSS" {
			rss = n
		} else {
			hwm = n
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return rss, hwm, nil
}

// listenerPID returns the process listening on addr's port when addr is a
// loopback address and that process is one of this machine whose file
// descriptors we may read; else 0. It looks up the listening socket's
// inode in /proc/net/tcp{,6}, then the fd that refers to it.
func listenerPID(addr string) int {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	if ip := net.ParseIP(host); !(host == "localhost" || (ip != nil && ip.IsLoopback())) {
		return 0
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return 0
	}
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			fs := strings.Fields(line)
			// sl local_address rem_address st … inode (field 10)
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, p, ok := strings.Cut(fs[1], ":")
			if n, err := strconv.ParseUint(p, 16, 16); ok && err == nil && n == port {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && inodes[link] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	return 0
}

// --- output -------------------------------------------------------------

// print writes the results as a table: one column per server measured.
func (rep *benchReport) print(w io.Writer) {
	pipe := "off"
	if rep.Pipeline {
		pipe = "on"
	}
	fmt.Fprintf(w, "mailsink bench  run %s  shape %s  size %s  rcpts %d  messages %d  conns %d  pipeline %s\n\n",
		rep.RunID, rep.Shape, benchBytes(float64(rep.Size)), rep.Rcpts, rep.Messages, rep.Conns, pipe)
	var cols []*benchResult
	for _, r := range []*benchResult{rep.Sink, rep.Target} {
		if r != nil {
			cols = append(cols, r)
		}
	}
	if len(cols) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	row := func(label string, cell func(r *benchResult) string, ratio string) {
		fmt.Fprint(tw, label)
		for _, r := range cols {
			fmt.Fprint(tw, "\t", cell(r))
		}
		if rep.Ratio != nil {
			fmt.Fprint(tw, "\t", ratio)
		}
		fmt.Fprintln(tw)
	}
	hdr := func(r *benchResult) string {
		if r.Name == "sink" {
			return "sink " + r.Addr
		}
		return r.Addr
	}
	ratio := func(f float64) string { return fmt.Sprintf("%.2f×", f) }
	var rMsg, rMB, rP99 string
	if rep.Ratio != nil {
		rMsg, rMB, rP99 = ratio(rep.Ratio.MsgPerSec), ratio(rep.Ratio.MBPerSec), ratio(rep.Ratio.AckP99)
	}
	row("", hdr, "target/sink")
	row("messages acked", func(r *benchResult) string {
		s := fmt.Sprintf("%d of %d", r.Acked, r.Attempted)
		if r.Aborted {
			s += " (stopped early)"
		}
		return s
	}, "")
	row("pipelined", func(r *benchResult) string { return map[bool]string{false: "no", true: "yes"}[r.Pipelined] }, "")
	row("wall time", func(r *benchResult) string { return fmt.Sprintf("%.3f s", r.WallSeconds) }, "")
	row("msg/s", func(r *benchResult) string { return fmt.Sprintf("%.0f", r.MsgPerSec) }, rMsg)
	row("MB/s", func(r *benchResult) string { return fmt.Sprintf("%.1f", r.MBPerSec) }, rMB)
	row("ack p50 / p90", func(r *benchResult) string {
		return fmt.Sprintf("%s / %s ms", benchMS(r.AckMS.P50), benchMS(r.AckMS.P90))
	}, "")
	row("ack p99 / max", func(r *benchResult) string {
		return fmt.Sprintf("%s / %s ms", benchMS(r.AckMS.P99), benchMS(r.AckMS.Max))
	}, rP99)
	row("errors", func(r *benchResult) string { return strconv.Itoa(r.ErrorCount) }, "")
	row("visible p50 / p99", func(r *benchResult) string {
		if r.Visible == nil {
			return "-"
		}
		v := r.Visible
		return fmt.Sprintf("%s / %s ms (%d of %d samples, %d pushed before their 250 was read)", benchMS(v.MS.P50), benchMS(v.MS.P99), v.Seen, v.Sampled, v.BeforeAck)
	}, "")
	row("server CPU per msg", func(r *benchResult) string {
		if r.Server == nil {
			return "-"
		}
		return fmt.Sprintf("%.3f ms (%.0f ms total)", r.Server.CPUMSPerMsg, r.Server.CPUMS)
	}, "")
	row("server peak RSS", func(r *benchResult) string {
		if r.Server == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f MiB (start %.1f, VmHWM %.1f)", r.Server.PeakRSSMiB, r.Server.StartRSSMiB, r.Server.HWMMiB)
	}, "")
	tw.Flush()
	for _, r := range cols {
		if r.ErrorCount == 0 {
			continue
		}
		kinds := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		fmt.Fprintf(w, "\nerrors (%s):\n", hdr(r))
		for _, k := range kinds {
			fmt.Fprintf(w, "  %-16s %6d  e.g. %s\n", k, r.Errors[k], r.ErrorSample[k])
		}
	}
	for _, r := range cols {
		if v := r.Visible; v != nil && (v.Seen < v.Sampled || v.Reconnects > 0) {
			fmt.Fprintf(w, "\nvisible (%s): %d sampled messages not seen within --visible-timeout; websocket reconnects %d\n",
				hdr(r), v.Sampled-v.Seen, v.Reconnects)
		}
	}
}

func benchMS(ms float64) string {
	if ms < 10 {
		return strconv.FormatFloat(ms, 'f', 2, 64)
	}
	return strconv.FormatFloat(ms, 'f', 1, 64)
}

func benchBytes(n float64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	}
	return fmt.Sprintf("%.0f B", n)
}
