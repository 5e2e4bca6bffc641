package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mailsink/internal/syncbuf"
)

func runCmd(bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.WaitDelay = 10 * time.Second
	return cmd.CombinedOutput()
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// binary builds mailsink once per test run, the way the Dockerfile does.
func binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mailsink-bin")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "mailsink")
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-trimpath", "-o", buildBin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return buildBin
}

// proc is mailsink running as a child process.
type proc struct {
	cmd        *exec.Cmd
	smtp, http string
	exited     chan struct{} // closed once the process has been waited for
	exitErr    error         // valid after exited is closed
	logs       *syncbuf.Buffer
}

// startProc starts the binary on db and waits for its "listening" log line.
func startProc(tb testing.TB, db string, args ...string) *proc {
	tb.Helper()
	return startCmd(tb, exec.Command(binary(tb), append([]string{"-smtp-addr=127.0.0.1:0", "-http-addr=127.0.0.1:0", "-db=" + db, "-log-format=json", "-hostname=mx.test"}, args...)...))
}

// startCmd starts cmd, a mailsink server logging JSON to stderr, waits for
// its "listening" line and kills it when the test ends.
func startCmd(tb testing.TB, cmd *exec.Cmd) *proc {
	tb.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{}), logs: &syncbuf.Buffer{}}
	line, err := readLines(io.TeeReader(stderr, p.logs), func(l string) bool { return strings.Contains(l, `"msg":"listening"`) })
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		tb.Fatalf("mailsink did not start: %v\n%s", err, p.logs)
	}
	var addrs struct{ SMTP, HTTP string }
	if err := json.Unmarshal([]byte(line), &addrs); err != nil {
		tb.Fatal(err)
	}
	p.smtp, p.http = addrs.SMTP, addrs.HTTP
	go func() {
		io.Copy(p.logs, stderr) // keep draining so the child never blocks on its log
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
	})
	return p
}

func (p *proc) url(path string) string { return "http://" + p.http + path }

// TestKillAfterAckLosesNothing delivers messages and SIGKILLs the process
// right after each 250: every acknowledged message must be there, byte for
// byte, after a restart on the same database.
func TestKillAfterAckLosesNothing(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "crash.db")
	want := map[string][]byte{} // id → the bytes sent
	for round := range 4 {
		p := startProc(t, db)
		c := dialSMTP(t, p.smtp)
		c.cmd(250, "EHLO crash.test")
		var reply string
		body := []byte(fmt.Sprintf("Subject: crash round %d\r\nMessage-ID: <crash-%d@test>\r\n\r\n%s\r\n", round, round, strings.Repeat("payload ", 2000)))
		if round%2 == 0 {
			reply = c.sendBDAT("a@crash.test", "b@crash.test", body)
		} else {
			reply, body = c.sendDATA("a@crash.test", "b@crash.test", body)
		}
		// Kill at once: no QUIT, no graceful anything.
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.exited
		m := queuedID.FindStringSubmatch(reply)
		if m == nil {
			t.Fatalf("reply %q names no id", reply)
		}
		want[m[1]] = body
	}
	p := startProc(t, db)
	var list listReply
	getJSON(t, p.url("/api/v1/messages"), &list)
	if list.Total != len(want) {
		t.Errorf("after restarts: %d messages, want %d", list.Total, len(want))
	}
	for id, body := range want {
		checkStored(t, id, getBytes(t, p.url("/api/v1/message/"+id+"/raw")), body)
	}
}

// TestSIGTERMExitsCleanly checks the graceful path of the real binary: an
// idle session gets 421, the process exits 0 and the database reopens.
func TestSIGTERMExitsCleanly(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "term.db")
	p := startProc(t, db)
	c := dialSMTP(t, p.smtp)
	c.cmd(250, "EHLO term.test")
	c.sendBDAT("a@term.test", "b@term.test", []byte("Subject: before term\r\n\r\nx\r\n"))
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if msg := c.expect(421); !strings.HasPrefix(msg, "4.3.2") {
		t.Errorf("idle session got 421 %q, want 4.3.2", msg)
	}
	select {
	case <-p.exited:
		if p.exitErr != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", p.exitErr, p.logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15s of SIGTERM")
	}
	p2 := startProc(t, db)
	var list listReply
	getJSON(t, p2.url("/api/v1/messages"), &list)
	if list.Total != 1 || list.Messages[0].Subject != "before term" {
		t.Errorf("after restart: %+v", list)
	}
}
