package smtpd_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailsink/smtpd"
)

// Resource bounds against hostile clients. The tests that measure memory
// are not parallel: Go runs them while no parallel test is running, so
// the process-wide counters they read are theirs alone.

// memDelta runs f and returns how many bytes the process allocated
// meanwhile (TotalAlloc) and how much more heap plus stack is in use
// afterwards than before (both after a GC).
func memDelta(f func()) (alloc uint64, inuse int64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc,
		int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)
}

// sink is a Backend that reads every message to the end without keeping
// it, so what the test measures is the server's memory, not a buffer of
// ours. It records the size read and the result of each delivery.
type sink struct {
	sizes chan int64 // one per Deliver: octets read, or -1 if the read failed
}

func newSink() *sink { return &sink{sizes: make(chan int64, 16)} }

func (s *sink) Deliver(ctx context.Context, env *smtpd.Envelope, r io.Reader) error {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		s.sizes <- -1
		return err
	}
	s.sizes <- n
	return nil
}

// repeatReader yields n octets of b repeated, from one small buffer.
type repeatReader struct {
	b   []byte
	n   int64
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	k := 0
	for k < len(p) {
		c := copy(p[k:], r.b[r.off:])
		r.off = (r.off + c) % len(r.b)
		k += c
	}
	r.n -= int64(k)
	return k, nil
}

// sendStream writes r to the client connection in the background while
// the test reads replies, so neither side blocks the other.
func sendStream(c *client, r io.Reader) <-chan error {
	done := make(chan error, 1)
	go func() {
		c.nc.SetWriteDeadline(time.Now().Add(2 * time.Minute))
		_, err := io.Copy(c.nc, r)
		done <- err
	}()
	return done
}

// TestLongCommandLineMemory: a 64 MiB command line is answered 500 5.5.2
// without being buffered (the server keeps at most 4 KiB of a line), and
// the session goes on.
func TestLongCommandLineMemory(t *testing.T) {
	const size = 64 << 20
	_, addr := newTestServer(t, testConfig(), newSink())
	c := dial(t, addr)
	alloc, _ := memDelta(func() {
		done := sendStream(c, io.MultiReader(strings.NewReader("EHLO "),
			&repeatReader{b: bytes.Repeat([]byte("x"), 64<<10), n: size}, strings.NewReader("\r\n")))
		if got := c.readLine(t); !strings.HasPrefix(got, "500 5.5.2") {
			t.Fatalf("reply = %q, want 500 5.5.2", got)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("64 MiB command line: %d KiB allocated", alloc>>10)
	if alloc > 8<<20 {
		t.Errorf("allocated %d MiB for a %d MiB line, want < 8", alloc>>20, size>>20)
	}
	runTranscript(t, c, "C: NOOP\nS: 250 2.0.0")
}

// TestOversizeDataMemory: content over MaxMessageSize, here a 96 MiB
// header line sent to a 1 MiB server, is not buffered: the delivery is
// aborted at the limit, the rest is read and dropped as it comes, the
// answer is 552 5.3.4, and the session stays usable.
func TestOversizeDataMemory(t *testing.T) {
	const size = 96 << 20
	cfg := testConfig()
	cfg.MaxMessageSize = 1 << 20
	be := newSink()
	_, addr := newTestServer(t, cfg, be)
	c := dial(t, addr)
	runTranscript(t, c, "C: EHLO c.test\nS: 250 *\nC: MAIL FROM:<a@x.test>\nC: RCPT TO:<b@y.test>\nC: DATA\nS: 250 2.1.0\nS: 250 2.1.5\nS: 354 ...")
	alloc, _ := memDelta(func() {
		done := sendStream(c, io.MultiReader(strings.NewReader("Subject: "),
			&repeatReader{b: bytes.Repeat([]byte("y"), 64<<10), n: size}, strings.NewReader("\r\n\r\nbody\r\n.\r\n")))
		if got := c.readLine(t); !strings.HasPrefix(got, "552 5.3.4") {
			t.Fatalf("reply = %q, want 552 5.3.4", got)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	if n := <-be.sizes; n != -1 {
		t.Errorf("Deliver read %d octets and saw no error, want an aborted read", n)
	}
	t.Logf("96 MiB DATA line over a 1 MiB limit: %d KiB allocated", alloc>>10)
	if alloc > 8<<20 {
		t.Errorf("allocated %d MiB for %d MiB of oversize content, want < 8", alloc>>20, size>>20)
	}
	runTranscript(t, c, "C: MAIL FROM:<a@x.test>\nC: RCPT TO:<b@y.test>\nC: DATA\nS: 250 2.1.0\nS: 250 2.1.5\nS: 354 ...\nC: Subject: ok\nC:\nC: fine\nC: .\nS: 250 2.0.0")
}

// TestLongDataLineAccepted: DATA lines have no length limit of their
// own (RFC 5321's 1000 is for senders; real mail breaks it), only the
// message size: a single 8 MiB header line under the limit streams to
// the Backend without the server holding it.
func TestLongDataLineAccepted(t *testing.T) {
	const size = 8 << 20
	cfg := testConfig()
	cfg.MaxMessageSize = 16 << 20
	be := newSink()
	_, addr := newTestServer(t, cfg, be)
	c := dial(t, addr)
	runTranscript(t, c, "C: EHLO c.test\nS: 250 *\nC: MAIL FROM:<a@x.test> SIZE=8388700\nC: RCPT TO:<b@y.test>\nC: DATA\nS: 250 2.1.0\nS: 250 2.1.5\nS: 354 ...")
	alloc, _ := memDelta(func() {
		done := sendStream(c, io.MultiReader(strings.NewReader("X-Long: "),
			&repeatReader{b: bytes.Repeat([]byte("z"), 64<<10), n: size}, strings.NewReader("\r\n\r\nbody\r\n.\r\n")))
		if got := c.readLine(t); !strings.HasPrefix(got, "250 2.0.0") {
			t.Fatalf("reply = %q, want 250 2.0.0", got)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	if n := <-be.sizes; n < size {
		t.Errorf("Deliver read %d octets, want > %d", n, size)
	}
	t.Logf("8 MiB DATA line accepted: %d KiB allocated by the server", alloc>>10)
	if alloc > 4<<20 {
		t.Errorf("allocated %d MiB streaming an 8 MiB line, want < 4", alloc>>20)
	}
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to at least n (up to the
// hard limit) and skips the test if that is not enough.
func raiseFileLimit(t *testing.T, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Skipf("needs %d file descriptors; hard limit is %d (raise ulimit -Hn)", n, lim.Max)
	}
	old := lim.Cur
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("setrlimit to %d: %v", n, err)
	}
	t.Cleanup(func() {
		lim.Cur = old
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) //nolint:errcheck // best effort restore
	})
}

// TestIdleConnections: 5,000 clients connect and say nothing. The server
// keeps each for a small, fixed amount of memory, still serves a new
// client a whole transaction, and with MaxConnections set tells the
// clients over it 421 4.7.0 instead of holding them.
func TestIdleConnections(t *testing.T) {
	const idle = 5000
	raiseFileLimit(t, 2*idle+200) // both ends of every connection live in this process
	cfg := testConfig()
	cfg.MaxConnections = idle + 10
	be := newSink()
	_, addr := newTestServer(t, cfg, be)

	conns := make([]net.Conn, 0, idle)
	t.Cleanup(func() {
		for _, nc := range conns {
			nc.Close()
		}
	})
	greet := make([]byte, 64)
	_, inuse := memDelta(func() {
		for range idle {
			nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				t.Fatalf("dial %d: %v", len(conns), err)
			}
			conns = append(conns, nc)
			// Read the greeting: the session is set up and idle in a command read.
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := nc.Read(greet); err != nil || !bytes.HasPrefix(greet[:n], []byte("220 ")) {
				t.Fatalf("conn %d greeting %q, %v", len(conns), greet[:n], err)
			}
		}
	})
	per := inuse / idle
	t.Logf("%d idle connections: %d KiB more heap+stack in use, %d B each (client ends included)", idle, inuse>>10, per)
	if per > 48<<10 {
		t.Errorf("%d B in use per idle connection, want < 48 KiB", per)
	}

	c := dial(t, addr)
	runTranscript(t, c, envelopeScript+"\nC: .\nS: 250 2.0.0\nC: QUIT\nS: 221 2.0.0")
	if n := <-be.sizes; n <= 0 {
		t.Errorf("Deliver read %d octets", n)
	}

	// Fill up to MaxConnections; the next client is refused at once.
	for range cfg.MaxConnections - idle {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Read(greet); err != nil {
			t.Fatal(err)
		}
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	runTranscript(t, &client{nc: nc, tp: newTP(nc)}, "S: 421 4.7.0 mx.test Too many connections\nS: EOF")
}

// dialFrom connects to addr from the local IP from (any 127.0.0.0/8
// address works on loopback).
func dialFrom(t *testing.T, from, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return d.Dial("tcp", addr)
}

// TestMaxConnsPerIP: beyond MaxConnsPerIP sessions from one address the
// next one gets 421 4.7.0 and is closed; other addresses are served, and
// a slot frees when a session ends.
func TestMaxConnsPerIP(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxConnsPerIP = 2
	_, addr := newTestServer(t, cfg, &recorder{})
	open := func(from string) *client {
		nc, err := dialFrom(t, from, addr)
		if err != nil {
			t.Skipf("cannot dial from %s: %v", from, err)
		}
		t.Cleanup(func() { nc.Close() })
		return &client{nc: nc, tp: newTP(nc)}
	}
	a1, a2 := open("127.0.0.1"), open("127.0.0.1")
	runTranscript(t, a1, "S: 220 mx.test")
	runTranscript(t, a2, "S: 220 mx.test")
	runTranscript(t, open("127.0.0.1"), "S: 421 4.7.0 mx.test Too many connections from your address\nS: EOF")
	runTranscript(t, open("127.0.0.2"), "S: 220 mx.test\nC: NOOP\nS: 250 2.0.0")
	runTranscript(t, a1, "C: NOOP\nS: 250 2.0.0\nC: QUIT\nS: 221 2.0.0\nS: EOF")

	// a1's slot frees once its session has ended on the server side,
	// which may lag the EOF the client saw: retry until a greeting.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := open("127.0.0.1")
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := c.tp.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "220 ") {
			break
		}
		if !strings.HasPrefix(line, "421 4.7.0") || time.Now().After(deadline) {
			t.Fatalf("after a slot freed: %q", line)
		}
		c.nc.Close()
	}
	runTranscript(t, a2, "C: NOOP\nS: 250 2.0.0")
}

// trickle sends s one octet every interval until it is sent, the server
// closes, or stop passes; it reports how long it ran and whether it sent
// everything.
func trickle(c *client, s string, interval, stop time.Duration) (time.Duration, bool) {
	start := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range len(s) {
		if time.Since(start) > stop {
			return time.Since(start), false
		}
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.nc.Write([]byte{s[i]}); err != nil {
			return time.Since(start), false
		}
		<-tick.C
	}
	return time.Since(start), true
}

// TestSlowloris: a client sending one octet at a time, each well within
// the per-read timeout, is cut off with 421 4.4.2 once the whole command
// or the whole transfer overstays: CommandTimeout bounds a whole command
// line, and DATA/BDAT must average MinDataRate after DataTimeout. An
// honest slow client above the rate still gets its message through.
func TestSlowloris(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.CommandTimeout = 400 * time.Millisecond
	cfg.DataTimeout = 400 * time.Millisecond
	cfg.MinDataRate = 200 // octets/s; the trickle below sends 20
	const step = 50 * time.Millisecond
	long := strings.Repeat("x", 400)

	t.Run("command line", func(t *testing.T) {
		t.Parallel()
		_, addr := newTestServer(t, cfg, &recorder{})
		c := dial(t, addr)
		took, all := trickle(c, "NOOP "+long+"\r\n", step, 10*time.Second)
		if all {
			t.Fatalf("a %d-octet command trickled over %v was accepted", len(long), took)
		}
		runTranscript(t, c, "S: 421 4.4.2\nS: EOF")
		t.Logf("cut off after %v", took)
	})
	for _, verb := range []string{"DATA", "BDAT"} {
		t.Run(verb, func(t *testing.T) {
			t.Parallel()
			_, addr := newTestServer(t, cfg, &recorder{})
			c := dial(t, addr)
			script := "C: EHLO c.test\nS: 250 *\nC: MAIL FROM:<a@x.test>\nC: RCPT TO:<b@y.test>\n"
			content := "Subject: slow\r\n\r\n" + long + "\r\n"
			if verb == "DATA" {
				script += "C: DATA\nS: 250 2.1.0\nS: 250 2.1.5\nS: 354 ..."
				content += ".\r\n"
			} else {
				script += fmt.Sprintf("C: BDAT %d LAST\nS: 250 2.1.0\nS: 250 2.1.5", len(content))
			}
			runTranscript(t, c, script)
			took, all := trickle(c, content, step, 10*time.Second)
			if all {
				t.Fatalf("%d octets trickled over %v were accepted", len(content), took)
			}
			if took > 3*time.Second {
				t.Errorf("cut off after %v, want about %v", took, cfg.DataTimeout)
			}
			runTranscript(t, c, "S: 421 4.4.2\nS: EOF")
			t.Logf("cut off after %v", took)
		})
	}
	t.Run("honest slow client", func(t *testing.T) {
		t.Parallel()
		be := &recorder{}
		_, addr := newTestServer(t, cfg, be)
		c := dial(t, addr)
		runTranscript(t, c, "C: EHLO c.test\nS: 250 *\nC: MAIL FROM:<a@x.test>\nC: RCPT TO:<b@y.test>\nC: DATA\nS: 250 2.1.0\nS: 250 2.1.5\nS: 354 ...")
		// 300 octets every 250 ms: 1,200 octets/s, above the rate, for
		// three times DataTimeout in all.
		chunk := strings.Repeat("a", 298) + "\r\n"
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		start := time.Now()
		c.send(t, "Subject: slow but steady\r\n\r\n")
		for time.Since(start) < 3*cfg.DataTimeout {
			<-tick.C
			c.send(t, chunk)
		}
		runTranscript(t, c, "C: .\nS: 250 2.0.0")
		if n := len(be.messages()); n != 1 {
			t.Fatalf("%d messages delivered, want 1", n)
		}
	})
}
