package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestReadyzOnce(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	unready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"Error":"store unavailable"}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(unready.Close)
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantErr  string // in stderr
	}{
		{"ready, address from env", map[string]string{"MAILSINK_HTTP_ADDR": s.http}, []string{"readyz"}, 0, ""},
		{"ready, --url", nil, []string{"readyz", "--url", s.url("/readyz")}, 0, ""},
		{"ready, --wait", nil, []string{"readyz", "--wait", "--url", s.url("/readyz")}, 0, ""},
		{"nothing listening", nil, []string{"readyz", "--url", "http://" + closedAddr(t) + "/readyz"}, 1, "connection refused"},
		{"503", nil, []string{"readyz", "--url", unready.URL + "/readyz"}, 1, "503"},
		{"healthcheck is the same probe", nil, []string{"healthcheck", "--url", unready.URL + "/readyz"}, 1, "503"},
		{"bad flag", nil, []string{"readyz", "--wiat"}, 1, "wiat"},
		{"no arguments", nil, []string{"readyz", "now"}, 1, "unexpected argument"},
		{"help", nil, []string{"readyz", "--help"}, 0, "Usage: mailsink readyz"},
		{"healthcheck has no --wait", nil, []string{"healthcheck", "--wait"}, 1, "wait"},
	}
	for _, tt := range tests {
		r := runCLI(t, tt.env, "", tt.args...)
		if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantErr) {
			t.Errorf("%s: %v: exit %d, stderr %q; want %d and %q", tt.name, tt.args, r.code, r.stderr, tt.wantCode, tt.wantErr)
		}
	}
}

// TestReadyzWaitSeesStartUp starts `readyz --wait` before anything serves
// the address and the server only after the wait has seen it fail.
func TestReadyzWaitSeesStartUp(t *testing.T) {
	t.Parallel()
	// The wait's first probe is accepted and dropped by this listener, so
	// the server provably starts after the wait began failing.
	gate, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := gate.Addr().String()
	done := make(chan cliResult, 1)
	go func() {
		done <- runCLI(t, map[string]string{"MAILSINK_HTTP_ADDR": addr}, "", "readyz", "--wait", "--timeout", "30s")
	}()
	c, err := gate.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	gate.Close() // from now on: connection refused, until the server is up
	select {
	case r := <-done:
		t.Fatalf("readyz --wait returned before the server started: exit %d, stderr %q", r.code, r.stderr)
	default:
	}
	startServer(t, nil, "-http-addr="+addr)
	select {
	case r := <-done:
		if r.code != 0 {
			t.Errorf("readyz --wait: exit %d, stderr %q; want 0", r.code, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("readyz --wait did not return within 30s of the server starting")
	}
}

func TestReadyzWaitTimesOut(t *testing.T) {
	t.Parallel()
	start := time.Now()
	r := runCLI(t, nil, "", "readyz", "--wait", "--timeout", "300ms", "--url", "http://"+closedAddr(t)+"/readyz")
	elapsed := time.Since(start)
	if r.code != 1 || !strings.Contains(r.stderr, "not ready after 300ms") || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("readyz --wait on a closed port: exit %d, stderr %q; want 1, the timeout and the last reason", r.code, r.stderr)
	}
	if elapsed < 300*time.Millisecond || elapsed > 10*time.Second {
		t.Errorf("readyz --wait --timeout 300ms took %v", elapsed)
	}
}
