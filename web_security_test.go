package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// rawGet sends a hand-written HTTP/1.1 GET with the given Host header, as
// a browser tricked by DNS rebinding would send it, and returns the status
// code and body.
func rawGet(t *testing.T, addr, host, path string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n"+
		"Sec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: cors\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDNSRebinding: on loopback the server answers localhost and loopback
// IPs only (a rebound name is refused, the probes still answer); on a
// wildcard address any name, unless --allowed-hosts is set.
func TestDNSRebinding(t *testing.T) {
	t.Parallel()
	local := startServer(t, nil)
	deliver(t, local, plainMail("rebind secret", "token 123456"))
	wildcard := startServer(t, nil, "-http-addr=0.0.0.0:0")
	_, port, _ := net.SplitHostPort(wildcard.http)
	wildcardAddr := net.JoinHostPort("127.0.0.1", port)
	listed := startServer(t, map[string]string{"MAILSINK_ALLOWED_HOSTS": "mail.test"}, "-http-addr=0.0.0.0:0")
	_, port, _ = net.SplitHostPort(listed.http)
	listedAddr := net.JoinHostPort("127.0.0.1", port)

	tests := []struct {
		name, addr, host, path string
		status                 int
	}{
		{"loopback, rebound name", local.http, "attacker.test:8025", "/api/v1/messages", 403},
		{"loopback, rebound name, UI", local.http, "attacker.test:8025", "/", 403},
		{"loopback, localhost", local.http, "localhost:8025", "/api/v1/messages", 200},
		{"loopback, IP", local.http, local.http, "/api/v1/messages", 200},
		{"loopback, probe with a container IP", local.http, "172.17.0.2:8025", "/readyz", 200},
		{"wildcard, any name", wildcardAddr, "attacker.test", "/api/v1/messages", 200},
		{"allowed-hosts, listed", listedAddr, "mail.test:8025", "/api/v1/messages", 200},
		{"allowed-hosts, other", listedAddr, "attacker.test", "/api/v1/messages", 403},
	}
	for _, tt := range tests {
		status, body := rawGet(t, tt.addr, tt.host, tt.path)
		if status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, status, body, tt.status)
		}
		if status == 403 && (!strings.Contains(body, "--allowed-hosts") || strings.Contains(body, "rebind secret")) {
			t.Errorf("%s: refusal %s should name --allowed-hosts and nothing else", tt.name, body)
		}
	}
}

// TestHTTPTLS: --http-tls serves the UI and API over HTTPS with the
// configured certificate; healthcheck and the CLI follow MAILSINK_HTTP_TLS.
func TestHTTPTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := writeCert(t, "localhost")
	s := startServer(t, nil, "-http-tls", "-tls-cert="+certFile, "-tls-key="+keyFile)
	_, port, _ := net.SplitHostPort(s.http)

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get("https://localhost:" + port + "/api/v1/messages")
	if err != nil {
		t.Fatalf("GET over verified TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.ProtoMajor != 1 {
		t.Errorf("GET = %s over %s, TLS %v; want 200 over HTTP/1.1 with TLS", resp.Status, resp.Proto, resp.TLS != nil)
	}
	if resp, err := http.Get("http://" + s.http + "/api/v1/messages"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP to the TLS port answered 200")
		}
	}

	env := map[string]string{"MAILSINK_HTTP_ADDR": s.http, "MAILSINK_HTTP_TLS": "true"}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	if code := dispatch(ctx, []string{"healthcheck"}, getenv, nil, io.Discard, io.Discard); code != 0 {
		t.Errorf("healthcheck with MAILSINK_HTTP_TLS: exit %d, want 0", code)
	}
	if code := dispatch(ctx, []string{"healthcheck", "--url", "http://" + s.http + "/readyz", "--timeout", "2s"}, getenv, nil, io.Discard, io.Discard); code != 1 {
		t.Errorf("healthcheck over plain HTTP: exit %d, want 1", code)
	}
	if code := dispatch(ctx, []string{"list"}, getenv, nil, io.Discard, io.Discard); code != 0 {
		t.Errorf("list with MAILSINK_HTTP_TLS: exit %d, want 0", code)
	}
}

// TestUIAuthEndToEnd: --ui-auth locks UI and API but not the probes; the
// CLI logs in with --api-token, --api-user or the server's own
// MAILSINK_UI_AUTH.
func TestUIAuthEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	run := func(env map[string]string, args ...string) (int, string) {
		var errOut strings.Builder
		code := dispatch(ctx, args, func(k string) string { return env[k] }, nil, io.Discard, &errOut)
		return code, errOut.String()
	}

	s := startServer(t, map[string]string{"MAILSINK_UI_AUTH": "bearer:tok-123"})
	deliver(t, s, plainMail("locked", "x"))
	for _, path := range []string{"/", "/api/v1/messages", "/view/latest.txt"} {
		resp, err := http.Get(s.url(path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s without login = %s, want 401 with a challenge", path, resp.Status)
		}
	}
	addr := map[string]string{"MAILSINK_HTTP_ADDR": s.http}
	if code, out := run(addr, "healthcheck"); code != 0 {
		t.Errorf("healthcheck: exit %d %s, want 0 (probes need no login)", code, out)
	}
	if code, out := run(addr, "list"); code != 1 || !strings.Contains(out, "401") {
		t.Errorf("list without login: exit %d %q, want 1 naming 401", code, out)
	}
	if code, out := run(addr, "list", "--api-token", "wrong"); code != 1 {
		t.Errorf("list with a wrong token: exit %d %q, want 1", code, out)
	}
	if code, out := run(addr, "list", "--api-token", "tok-123"); code != 0 {
		t.Errorf("list --api-token: exit %d %s", code, out)
	}
	if code, out := run(map[string]string{"MAILSINK_HTTP_ADDR": s.http, "MAILSINK_UI_AUTH": "bearer:tok-123"}, "wait", "--query", "locked", "--timeout", "5s"); code != 0 {
		t.Errorf("wait with the server's MAILSINK_UI_AUTH: exit %d %s", code, out)
	}
	if code, out := run(map[string]string{"MAILSINK_HTTP_ADDR": s.http, "MAILSINK_API_TOKEN": "tok-123"}, "delete", "--all"); code != 0 {
		t.Errorf("delete with MAILSINK_API_TOKEN: exit %d %s", code, out)
	}

	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte("ann:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startServer(t, nil, "-ui-auth=htpasswd:"+file)
	addr = map[string]string{"MAILSINK_HTTP_ADDR": h.http}
	if code, out := run(addr, "list", "--api-user", "ann:pw"); code != 0 {
		t.Errorf("list --api-user: exit %d %s", code, out)
	}
	if code, _ := run(addr, "list", "--api-user", "ann:nope"); code != 1 {
		t.Errorf("list with a wrong password: exit %d, want 1", code)
	}
	req, _ := http.NewRequest("GET", h.url("/api/v1/messages"), nil)
	req.SetBasicAuth("ann", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET with basic auth = %s, want 200", resp.Status)
	}
}
