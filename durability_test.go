package main

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stopProc sends SIGTERM and waits for a clean exit.
func stopProc(tb testing.TB, p *proc, within time.Duration) time.Duration {
	tb.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(within):
		tb.Fatalf("no exit within %v of SIGTERM\n%s", within, p.logs)
	}
	if p.exitErr != nil {
		tb.Errorf("exit after SIGTERM: %v\n%s", p.exitErr, p.logs)
	}
	return time.Since(start)
}

// TestCrashUnderLoad SIGKILLs the real server at random moments while
// dozens of sessions deliver messages of mixed sizes (DATA, pipelined
// DATA, BDAT), restarting it on the same database each time. In the end
// every acknowledged message is stored exactly once and byte for byte,
// none that got no reply is stored twice, and the file passes
// integrity_check.
func TestCrashUnderLoad(t *testing.T) {
	t.Parallel()
	const (
		kills   = 6
		workers = 32
	)
	db := filepath.Join(t.TempDir(), "crash.db")
	p := startProc(t, db)
	target := newLoadTarget(p.smtp)
	g := newLoadGen(target)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g.start(ctx, workers)

	start := time.Now()
	r := rand.New(rand.NewPCG(uint64(start.UnixNano()), 1))
	acked := 0
	for k := range kills {
		// Between 0.5 and 2.5 s of load on each incarnation.
		<-time.After(500*time.Millisecond + time.Duration(r.Int64N(int64(2*time.Second))))
		c := g.counts()
		if c.acked <= acked {
			t.Fatalf("kill %d: no message acknowledged since the last restart (%+v)\n%s", k, c, p.logs)
		}
		acked = c.acked
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.exited
		p = startProc(t, db)
		target.set(p.smtp)
	}
	<-time.After(time.Second)
	cancel()
	g.wait()
	stopProc(t, p, 15*time.Second)
	elapsed := time.Since(start)

	checkIntegrity(t, db)
	msgs := g.snapshot()
	stored := checkLedger(t, db, msgs)
	c := g.counts()
	if c.noReply == 0 {
		t.Errorf("no message was cut by a kill (%+v): the kills did not land under load", c)
	}
	t.Logf("%d kills in %v, %d workers: %d messages sent, %d acknowledged, %d refused, %d cut without reply; %d stored",
		kills, elapsed.Round(time.Millisecond), workers, c.sent, c.acked, c.rejected, c.noReply, stored)
}

// TestSIGTERMUnderLoad: SIGTERM while sessions deliver back to back. The
// process exits within --shutdown-timeout, every session open at the
// signal ends with 421 4.3.2 (a message in flight finishes first), and
// after a restart every acknowledged message is there, byte for byte.
func TestSIGTERMUnderLoad(t *testing.T) {
	t.Parallel()
	const (
		workers  = 24
		deadline = 5 * time.Second
	)
	db := filepath.Join(t.TempDir(), "term.db")
	p := startProc(t, db, "-shutdown-timeout="+deadline.String())
	g := newLoadGen(newLoadTarget(p.smtp))
	g.retry = false // a refused dial after the signal ends the worker
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g.start(ctx, workers)

	<-time.After(2 * time.Second)
	before := g.counts()
	if before.acked == 0 {
		t.Fatalf("no message acknowledged before SIGTERM\n%s", p.logs)
	}
	term := time.Now()
	took := stopProc(t, p, deadline+5*time.Second)
	if took > deadline+time.Second {
		t.Errorf("exit took %v after SIGTERM, want within --shutdown-timeout %v", took, deadline)
	}
	g.wait()
	cancel()

	g.mu.Lock()
	sessions := slices.Clone(g.sessions)
	g.mu.Unlock()
	shut := 0
	for _, s := range sessions {
		if s.at.Before(term) {
			continue
		}
		if !strings.HasPrefix(s.reply, "421 4.3.2") {
			t.Errorf("session ended by SIGTERM with %q (%v), want 421 4.3.2", s.reply, s.err)
			continue
		}
		shut++
	}
	if shut != workers {
		t.Errorf("%d of %d sessions got 421 4.3.2", shut, workers)
	}
	msgs := g.snapshot()
	inFlight := 0
	for _, m := range msgs {
		if m.out == outNoReply {
			t.Errorf("%s: no reply: a transfer in flight was cut by the graceful shutdown", m.token)
		}
		if m.at.After(term) {
			inFlight++
		}
	}
	checkIntegrity(t, db)
	stored := checkLedger(t, db, msgs)
	c := g.counts()
	t.Logf("SIGTERM after %d acks; exit in %v; %d sessions got 421 4.3.2; %d replies after the signal; total %d sent, %d acknowledged, %d refused, %d stored",
		before.acked, took.Round(time.Millisecond), shut, inFlight, c.sent, c.acked, c.rejected, stored)
}
