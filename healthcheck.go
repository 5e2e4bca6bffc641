package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// healthcheck probes a running server's /readyz, for container HEALTHCHECKs
// that have no shell or curl. Exit status 0 = ready, 1 = not.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailsink healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "readiness URL; default http(s)://127.0.0.1:<port of --http-addr / MAILSINK_HTTP_ADDR>/readyz, https when MAILSINK_HTTP_TLS is true")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 1
	}
	target := *url
	if target == "" {
		addr := getenv(envName("http-addr"))
		if addr == "" {
			addr = "0.0.0.0:8025"
		}
		target = httpScheme(getenv) + "://" + probeAddr(addr) + "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	resp, err := newHTTPClient(0, target).Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "healthcheck:", target, "answered", resp.Status)
		return 1
	}
	return 0
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
