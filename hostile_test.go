package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vmHWM is the peak resident set size of process pid in KiB, from
// /proc/pid/status.
func vmHWM(tb testing.TB, pid int) int64 {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Skipf("no /proc: %v", err)
	}
	defer f.Close() //nolint:errcheck // read only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// base64Body returns a message of exactly size octets (ending in CRLF)
// whose body is lines of base64 text: no line starts with a dot, so the
// DATA stream is the message plus the terminator.
func base64Body(size int, subject string) []byte {
	head := "From: a@size.test\r\nSubject: " + subject + "\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: application/octet-stream; name=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	b := make([]byte, 0, size)
	b = append(b, head...)
	line := strings.Repeat("QUJD", 19) + "\r\n" // 78 octets
	for len(b)+len(line) <= size-4 {
		b = append(b, line...)
	}
	b = append(b, strings.Repeat("Q", size-len(b)-2)...)
	return append(b, '\r', '\n')
}

// TestMessageSizeLimitMemory runs the real binary with its default
// 25 MiB --max-message-size: a message of exactly 25 MiB is accepted and
// served back whole; one of 100 MiB is answered 552 5.3.4 after the
// server has read and dropped the rest (it keeps at most the limit), and
// the session goes on. The peak RSS of the process shows the bound.
func TestMessageSizeLimitMemory(t *testing.T) {
	t.Parallel()
	const limit = 25 << 20
	p := startProc(t, filepath.Join(t.TempDir(), "size.db"))
	pid := p.cmd.Process.Pid
	base := vmHWM(t, pid)

	c := dialSMTP(t, p.smtp)
	c.cmd(250, "EHLO size.test")
	raw := base64Body(limit, "at the limit")
	reply, stored := c.sendDATA("a@size.test", "b@size.test", raw)
	m := queuedID.FindStringSubmatch(reply)
	if m == nil {
		t.Fatalf("reply %q names no id", reply)
	}
	atLimit := vmHWM(t, pid)
	checkStored(t, "25 MiB", getBytes(t, p.url("/api/v1/message/"+m[1]+"/raw")), stored)

	// 100 MiB: 4 times the limit, streamed while the reply is awaited.
	c.cmd(250, "MAIL FROM:<a@size.test>")
	c.cmd(250, "RCPT TO:<b@size.test>")
	c.cmd(354, "DATA")
	const over = 100 << 20
	sent := make(chan error, 1)
	go func() {
		chunk := bytes.Repeat([]byte(strings.Repeat("QUJD", 19)+"\r\n"), 1<<10) // 78 KiB
		c.nc.SetWriteDeadline(time.Now().Add(2 * time.Minute))
		var err error
		for n := 0; n < over && err == nil; n += len(chunk) {
			_, err = c.nc.Write(chunk)
		}
		if err == nil {
			_, err = io.WriteString(c.nc, ".\r\n")
		}
		sent <- err
	}()
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Minute))
	code, msg, err := c.tp.ReadResponse(552)
	if err != nil || !strings.HasPrefix(msg, "5.3.4") {
		t.Fatalf("over the limit: %d %q, %v; want 552 5.3.4", code, msg, err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("the server stopped reading before the end: %v", err)
	}
	overLimit := vmHWM(t, pid)
	c.sendDATA("a@size.test", "b@size.test", []byte("Subject: after\r\n\r\nstill here\r\n"))

	t.Logf("peak RSS: %d MiB at start, %d MiB after a 25 MiB message, %d MiB after a 100 MiB one refused",
		base>>10, atLimit>>10, overLimit>>10)
	// Measured at about 5 times the message (the buffer, the parse and
	// SQLite's copy); the refused one must not add a message's worth.
	if atLimit > base+8*limit>>10 {
		t.Errorf("peak RSS %d MiB for a 25 MiB message, want < %d", atLimit>>10, (base>>10)+8*limit>>20)
	}
	if overLimit > atLimit+limit>>11 {
		t.Errorf("a refused 100 MiB message raised the peak RSS from %d to %d MiB", atLimit>>10, overLimit>>10)
	}
}

// TestPerIPCapFlag checks --max-connections-per-ip reaches the SMTP
// server: the third session from one address is told 421 and closed, and
// a slot freed by QUIT is served again.
func TestPerIPCapFlag(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--max-connections-per-ip=2")
	a, b := dialSMTP(t, s.smtp), dialSMTP(t, s.smtp)
	a.cmd(250, "EHLO a.test")
	b.cmd(250, "EHLO b.test")

	nc, err := net.Dial("tcp", s.smtp)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "421 4.7.0") {
		t.Fatalf("third connection got %q, %v; want 421 4.7.0", line, err)
	}

	a.cmd(221, "QUIT")
	// The server releases the slot when the session's goroutine ends,
	// just after the 221; a fourth client may race it, so retry briefly.
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := net.Dial("tcp", s.smtp)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(nc).ReadString('\n')
		nc.Close()
		if err == nil && strings.HasPrefix(line, "220 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after QUIT a new connection still got %q, %v", line, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
