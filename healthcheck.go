package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const healthcheckUsage = `Usage: mailsink healthcheck [--url URL] [--timeout 5s]

Probes a running server's /readyz once, for container HEALTHCHECKs that have
no shell or curl. Exit status: 0 ready (200), 1 not.

`

const readyzUsage = `Usage: mailsink readyz [--url URL] [--wait] [--timeout 30s]

Probes a running server's /readyz. Without --wait, once: exit 0 when it
answers 200, else 1. With --wait, polls until it does, for scripts and
compose services that wait for start-up; when --timeout passes first it
says why and exits 1.

`

// probeAttempt bounds one request of readyz --wait, so a server that
// accepts but hangs is asked again instead of eating the whole --timeout.
const probeAttempt = 5 * time.Second

// Polling of readyz --wait: quick at first, since start-up takes tens of
// milliseconds, then at most twice a second.
const (
	probeFirst = 50 * time.Millisecond
	probeMax   = 500 * time.Millisecond
)

// healthcheck is `mailsink healthcheck`: one probe of /readyz.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	return probeCmd(ctx, "healthcheck", healthcheckUsage, 5*time.Second, false, args, getenv, stderr)
}

// cmdReadyz is `mailsink readyz`: healthcheck that can also --wait.
func cmdReadyz(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	return probeCmd(ctx, "readyz", readyzUsage, 30*time.Second, true, args, getenv, stderr)
}

// probeCmd runs healthcheck or readyz (canWait adds --wait): exit 0 when
// /readyz answers 200 within --timeout, else 1 with the reason on stderr.
func probeCmd(ctx context.Context, name, usage string, defTimeout time.Duration, canWait bool,
	args []string, getenv func(string) string, stderr io.Writer) int {
	fs := newCLIFlags(name, usage, stderr)
	target := fs.String("url", "", "readiness URL; default http(s)://127.0.0.1:<port of MAILSINK_HTTP_ADDR, else 8025>/readyz, https when MAILSINK_HTTP_TLS is true")
	timeout := fs.Duration("timeout", defTimeout, "give up after this long")
	wait := new(bool)
	if canWait {
		wait = fs.Bool("wait", false, "poll until ready or --timeout, instead of probing once")
	}
	if err := parseCLI(fs, args, getenv, false); err != nil {
		return usageExit(err)
	}
	u := *target
	if u == "" {
		u = readyzURL(getenv)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	hc := newHTTPClient(0, u)
	var err error
	if *wait {
		err = waitReady(ctx, hc, u, *timeout)
	} else {
		err = probeReady(ctx, hc, u)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailsink %s: %v\n", name, err)
		return exitFailed
	}
	return exitOK
}

// readyzURL is the /readyz of the server the environment describes:
// MAILSINK_HTTP_ADDR (wildcard host as loopback, default port 8025) and
// MAILSINK_HTTP_TLS, as the container's own HEALTHCHECK needs.
func readyzURL(getenv func(string) string) string {
	addr := getenv(envName("http-addr"))
	if addr == "" {
		addr = "0.0.0.0:8025"
	}
	return httpScheme(getenv) + "://" + probeAddr(addr) + "/readyz"
}

// probeReady asks target once; nil means it answered 200.
func probeReady(ctx context.Context, hc *http.Client, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close() // the status is the whole answer
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", target, resp.Status)
	}
	return nil
}

// waitReady polls target until it is ready or ctx ends; the error then
// carries the last probe's reason (refused, 503, ...).
func waitReady(ctx context.Context, hc *http.Client, target string, timeout time.Duration) error {
	delay := probeFirst
	for {
		attempt, cancel := context.WithTimeout(ctx, probeAttempt)
		err := probeReady(attempt, hc, target)
		cancel()
		if err == nil {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s not ready after %s: %w", target, timeout, err)
			}
			return fmt.Errorf("interrupted waiting for %s: %w", target, err)
		case <-t.C:
		}
		delay = min(2*delay, probeMax)
	}
}

// probeAddr turns a listen address into one to connect to: a wildcard host
// becomes loopback.
func probeAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if ip != nil && ip.To4() == nil {
			host = "::1"
		} else {
			host = "127.0.0.1"
		}
	}
	return net.JoinHostPort(host, port)
}

// httpScheme is https when the server's environment turns on --http-tls.
func httpScheme(getenv func(string) string) string {
	if on, err := strconv.ParseBool(getenv(envName("http-tls"))); err == nil && on {
		return "https"
	}
	return "http"
}

// newHTTPClient is the client of healthcheck and the API subcommands.
// Against a loopback https URL it does not verify the certificate: the
// server's default certificate is self-signed, and on loopback no one
// stands between client and server (whoever could, could read the
// database). Anywhere else the certificate must verify.
func newHTTPClient(timeout time.Duration, target string) *http.Client {
	c := &http.Client{Timeout: timeout}
	if u, err := url.Parse(target); err == nil && u.Scheme == "https" && isLoopbackHost(u.Hostname()) {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback only, see above
		c.Transport = t
	}
	return c
}

// isLoopbackHost reports whether host is localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
