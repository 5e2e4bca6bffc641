package main

// Client subcommands for shell-based CI: list, wait and delete talk to a
// running mailsink over its HTTP API (sendmail, in sendmail.go, over SMTP).
//
// Exit status of list, wait and delete: 0 success, 1 any error (bad usage,
// server unreachable, an error reply), and for wait 2 when the timeout
// passed before enough messages arrived.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// Exit codes of the API subcommands.
const (
	exitOK      = 0
	exitFailed  = 1
	exitTimeout = 2 // wait only: the timeout passed first
)

const (
	// apiTimeout bounds each request of list and delete.
	apiTimeout = 30 * time.Second
	// maxReply bounds what we read of one API reply.
	maxReply = 256 << 20
	// waitSlack is added to --timeout for the HTTP client of wait, so the
	// server's own 408 arrives before the client gives up.
	waitSlack = 10 * time.Second
	// Polling of the fallback for servers without /api/v1/wait.
	pollFirst = 100 * time.Millisecond
	pollMax   = 2 * time.Second
)

const listUsage = `Usage: mailsink list [--api URL] [--query Q] [--limit N] [--json]

Prints messages, newest first, one line each: ID  Received  From  To  Subject.
--query prints only the messages matching a search (GET /api/v1/search),
else all of them (GET /api/v1/messages). --json prints the API's JSON reply
as it is. Exit status: 0 ok, 1 error.

`

const waitUsage = `Usage: mailsink wait [--api URL] --query Q [--count N] [--timeout 30s] [--after CURSOR]

Blocks until --count messages matching --query (newer than --after, a cursor
the wait endpoint returns) exist, then prints them in full: with --count 1
the message's JSON object, otherwise a JSON array of them.
Exit status: 0 found, 1 error, 2 timed out.

Uses GET /api/v1/wait. A server without it (404) is polled through
/api/v1/search instead, with backoff from 100ms to 2s until the timeout;
--after needs /api/v1/wait.

`

const deleteUsage = `Usage: mailsink delete [--api URL] (--query Q | --id ID [ID...] | --all)

Deletes the messages matching a search (DELETE /api/v1/search?query=Q), the
given IDs (DELETE /api/v1/messages {"IDs":[...]}; --id may repeat, and IDs
may also follow it as arguments) or every message (--all). Exactly one of
the three is required. Exit status: 0 ok, 1 error.

`

// apiFlags are the flags that name the server and the login.
type apiFlags struct {
	api, token, user *string
}

// apiFlag defines --api, --api-token and --api-user on fs. The default of
// --api is MAILSINK_API's twin of the server: http(s)://<MAILSINK_HTTP_ADDR,
// wildcard host as loopback>, else http://127.0.0.1:8025, followed by
// MAILSINK_WEBROOT; the MAILSINK_*
// variables themselves are applied by parseCLI.
func apiFlag(fs *flag.FlagSet, getenv func(string) string) *apiFlags {
	def := httpScheme(getenv) + "://127.0.0.1:8025"
	if addr := getenv(envName("http-addr")); addr != "" {
		def = httpScheme(getenv) + "://" + probeAddr(addr)
	}
	// Under the server's --webroot; a bad value is left for the server to
	// report, the requests then fail with its 404.
	if root, err := normalizeWebroot(getenv(envName("webroot"))); err == nil {
		def += strings.TrimSuffix(root, "/")
	}
	return &apiFlags{
		api:   fs.String("api", def, "base URL of the mailsink HTTP API, with the server's --webroot (http://127.0.0.1:8025/mail)"),
		token: fs.String("api-token", "", "token for a server started with --ui-auth bearer:/token: (default: the token of MAILSINK_UI_AUTH)"),
		user:  fs.String("api-user", "", "user:password for a server started with --ui-auth htpasswd:"),
	}
}

// hasEnvTwin says which client flags name the server or the login and so
// read MAILSINK_* variables.
func hasEnvTwin(name string) bool {
	switch name {
	case "api", "api-token", "api-user", "smtp-addr":
		return true
	}
	return false
}

// newCLIFlags returns a subcommand's flag set printing usage to stderr.
func newCLIFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mailsink "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fmt.Fprintln(stderr, "Flags:")
		fs.VisitAll(func(f *flag.Flag) {
			env := ""
			if hasEnvTwin(f.Name) {
				env = envName(f.Name) + ", "
			}
			def := f.DefValue
			if def == "" {
				def = `""`
			}
			fmt.Fprintf(stderr, "  --%s  (%sdefault %s)\n      %s\n", f.Name, env, def, f.Usage)
		})
	}
	return fs
}

// parseCLI parses args, then fills the server-naming flags not given from
// their MAILSINK_* twins (flag > env > default). Positional arguments are
// an error unless allowArgs. Every error has been reported on the flag
// set's output when it returns.
func parseCLI(fs *flag.FlagSet, args []string, getenv func(string) string, allowArgs bool) error {
	if err := fs.Parse(args); err != nil {
		return err // the flag package has reported it
	}
	err := envTwins(fs, getenv)
	if err == nil && !allowArgs && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintf(fs.Output(), "%s: %v\n", fs.Name(), err)
	}
	return err
}

// envTwins sets each server-naming flag not given on the command line from
// its MAILSINK_* variable.
func envTwins(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || !hasEnvTwin(f.Name) {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", envName(f.Name), err))
			}
		}
	})
	return errors.Join(errs...)
}

// usageExit maps a parseCLI error to an exit code: --help is success.
func usageExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitFailed
}

// apiClient talks to a running mailsink's HTTP API.
type apiClient struct {
	base  string
	authz string // Authorization header; "" = none
	hc    *http.Client
}

func newAPIClient(f *apiFlags, timeout time.Duration, getenv func(string) string) (*apiClient, error) {
	base := *f.api
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--api: %q is not an http:// or https:// URL", base)
	}
	return &apiClient{
		base:  strings.TrimRight(base, "/"),
		authz: apiLogin(*f.token, *f.user, getenv),
		hc:    newHTTPClient(timeout, base),
	}, nil
}

// apiError is an unexpected reply status, with the server's explanation.
type apiError struct {
	method, path string
	status       int
	msg          string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.method, e.path, e.status, http.StatusText(e.status), e.msg)
}

// send makes one request and returns the status and body, whatever the
// status. A non-nil body is sent as JSON.
func (c *apiClient) send(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.authz != "" {
		req.Header.Set("Authorization", c.authz)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err // a *url.Error: it names the method and URL
	}
	defer resp.Body.Close() // read path: the body is read fully below
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: read reply: %w", method, path, err)
	}
	return resp.StatusCode, data, nil
}

// call is send that turns any status but 200 into an *apiError.
func (c *apiClient) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	status, data, err := c.send(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, &apiError{method: method, path: path, status: status, msg: errorText(data)}
	}
	return data, nil
}

// errorText is the Error field of an API error body, else the body itself.
func errorText(body []byte) string {
	var e struct {
		Error string `json:"Error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// apiList is the part of Mailpit's list shape the CLI reads.
type apiList struct {
	Messages []apiSummary `json:"messages"`
}

type apiAddress struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

type apiSummary struct {
	ID      string       `json:"ID"`
	From    apiAddress   `json:"From"`
	To      []apiAddress `json:"To"`
	Subject string       `json:"Subject"`
	Created time.Time    `json:"Created"`
}

// cmdList implements `mailsink list`.
func cmdList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := newCLIFlags("list", listUsage, stderr)
	api := apiFlag(fs, getenv)
	query := fs.String("query", "", "search query; empty lists every message")
	limit := fs.Int("limit", 50, "most messages to print (the server caps it at 1000)")
	asJSON := fs.Bool("json", false, "print the API's JSON reply instead of a table")
	if err := parseCLI(fs, args, getenv, false); err != nil {
		return usageExit(err)
	}
	if *limit < 1 {
		fmt.Fprintln(stderr, "mailsink list: --limit must be at least 1")
		return exitFailed
	}
	c, err := newAPIClient(api, apiTimeout, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "mailsink list:", err)
		return exitFailed
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	path := "/api/v1/messages?"
	if strings.TrimSpace(*query) != "" {
		q.Set("query", *query)
		path = "/api/v1/search?"
	}
	data, err := c.call(ctx, http.MethodGet, path+q.Encode(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "mailsink list:", err)
		return exitFailed
	}
	if *asJSON {
		if _, err := stdout.Write(data); err != nil {
			fmt.Fprintln(stderr, "mailsink list:", err)
			return exitFailed
		}
		return exitOK
	}
	var list apiList
	if err := json.Unmarshal(data, &list); err != nil {
		fmt.Fprintf(stderr, "mailsink list: decode reply: %v\n", err)
		return exitFailed
	}
	if err := printTable(stdout, list.Messages); err != nil {
		fmt.Fprintln(stderr, "mailsink list:", err)
		return exitFailed
	}
	return exitOK
}

// printTable writes one aligned line per message under a header line.
func printTable(w io.Writer, msgs []apiSummary) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tReceived\tFrom\tTo\tSubject")
	for _, m := range msgs {
		to := make([]string, 0, len(m.To))
		for _, a := range m.To {
			to = append(to, a.Address)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cell(m.ID), m.Created.UTC().Format(time.RFC3339),
			cell(m.From.Address), cell(strings.Join(to, ", ")), cell(m.Subject))
	}
	return tw.Flush()
}

// cell makes untrusted text safe for one table cell: control characters
// (tabs and line breaks included) become spaces.
func cell(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// waitReply is the list shape of /api/v1/wait, 200 and 408 alike.
type waitReply struct {
	Messages []apiSummary `json:"messages"`
	Cursor   json.Number  `json:"cursor"`
}

// cmdWait implements `mailsink wait`.
func cmdWait(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := newCLIFlags("wait", waitUsage, stderr)
	api := apiFlag(fs, getenv)
	query := fs.String("query", "", "search query the messages must match (required)")
	count := fs.Int("count", 1, "how many matching messages to wait for")
	timeout := fs.Duration("timeout", 30*time.Second, "give up (exit 2) after this long")
	after := fs.String("after", "", "only count messages newer than this cursor, from an earlier wait reply")
	if err := parseCLI(fs, args, getenv, false); err != nil {
		return usageExit(err)
	}
	switch {
	case strings.TrimSpace(*query) == "":
		fmt.Fprintln(stderr, "mailsink wait: --query is required (see --help)")
		return exitFailed
	case *count < 1:
		fmt.Fprintln(stderr, "mailsink wait: --count must be at least 1")
		return exitFailed
	case *timeout <= 0:
		fmt.Fprintln(stderr, "mailsink wait: --timeout must be positive")
		return exitFailed
	}
	c, err := newAPIClient(api, *timeout+waitSlack, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "mailsink wait:", err)
		return exitFailed
	}
	w := waiter{c: c, query: *query, count: *count, timeout: *timeout, after: *after, stdout: stdout, stderr: stderr}
	return w.run(ctx)
}

// waiter is one run of `mailsink wait`.
type waiter struct {
	c              *apiClient
	query          string
	count          int
	timeout        time.Duration
	after          string
	stdout, stderr io.Writer
}

func (w *waiter) fail(format string, args ...any) int {
	fmt.Fprintf(w.stderr, "mailsink wait: "+format+"\n", args...)
	return exitFailed
}

func (w *waiter) timedOut(got int) int {
	fmt.Fprintf(w.stderr, "mailsink wait: timed out after %s: %d of %d messages matching %q arrived\n",
		w.timeout, got, w.count, w.query)
	return exitTimeout
}

func (w *waiter) run(ctx context.Context) int {
	q := url.Values{
		"query":   {w.query},
		"count":   {strconv.Itoa(w.count)},
		"timeout": {w.timeout.String()},
	}
	if w.after != "" {
		q.Set("after", w.after)
	}
	path := "/api/v1/wait?" + q.Encode()
	status, data, err := w.c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return w.fail("%v", err)
	}
	switch status {
	case http.StatusOK, http.StatusRequestTimeout:
		var reply waitReply
		if err := json.Unmarshal(data, &reply); err != nil {
			return w.fail("decode reply: %v", err)
		}
		if status == http.StatusRequestTimeout {
			return w.timedOut(len(reply.Messages))
		}
		return w.print(ctx, reply.Messages)
	case http.StatusNotFound:
		return w.poll(ctx)
	default:
		return w.fail("%v", &apiError{method: http.MethodGet, path: path, status: status, msg: errorText(data)})
	}
}

// poll is the fallback for servers without /api/v1/wait: search until
// enough messages match, backing off from pollFirst to pollMax.
func (w *waiter) poll(ctx context.Context) int {
	if w.after != "" {
		return w.fail("the server has no /api/v1/wait (404), and --after needs it")
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	path := "/api/v1/search?" + url.Values{"query": {w.query}, "limit": {strconv.Itoa(w.count)}}.Encode()
	delay := pollFirst
	timer := time.NewTimer(0)
	defer timer.Stop()
	got := 0
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return w.timedOut(got)
			}
			return w.fail("%v", ctx.Err())
		case <-timer.C:
		}
		data, err := w.c.call(ctx, http.MethodGet, path, nil)
		if err != nil {
			if ctx.Err() != nil {
				continue // the deadline passed mid-request: report it above
			}
			return w.fail("%v", err)
		}
		var list apiList
		if err := json.Unmarshal(data, &list); err != nil {
			return w.fail("decode reply: %v", err)
		}
		got = len(list.Messages)
		if got >= w.count {
			return w.print(ctx, list.Messages[:w.count])
		}
		timer.Reset(delay)
		delay = min(2*delay, pollMax)
	}
}

// print fetches each message in full and writes it: one JSON object when
// a single message was asked for, else an array.
func (w *waiter) print(ctx context.Context, msgs []apiSummary) int {
	if len(msgs) == 0 {
		return w.fail("the server reported success but returned no messages")
	}
	if w.count == 1 {
		msgs = msgs[:1]
	}
	full := make([]json.RawMessage, 0, len(msgs))
	for _, m := range msgs {
		data, err := w.c.call(ctx, http.MethodGet, "/api/v1/message/"+url.PathEscape(m.ID), nil)
		if err != nil {
			return w.fail("%v", err)
		}
		if !json.Valid(data) {
			return w.fail("message %s: reply is not JSON", m.ID)
		}
		full = append(full, json.RawMessage(bytes.TrimSpace(data)))
	}
	var out []byte
	if w.count == 1 {
		out = full[0]
	} else {
		var err error
		if out, err = json.Marshal(full); err != nil {
			return w.fail("encode: %v", err)
		}
	}
	if _, err := fmt.Fprintf(w.stdout, "%s\n", out); err != nil {
		return w.fail("%v", err)
	}
	return exitOK
}

// cmdDelete implements `mailsink delete`.
func cmdDelete(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	fs := newCLIFlags("delete", deleteUsage, stderr)
	api := apiFlag(fs, getenv)
	query := fs.String("query", "", "delete every message matching this search")
	var ids []string
	fs.Func("id", "delete the message with this ID; repeatable", func(s string) error {
		ids = append(ids, s)
		return nil
	})
	all := fs.Bool("all", false, "delete every message")
	if err := parseCLI(fs, args, getenv, true); err != nil {
		return usageExit(err)
	}
	if fs.NArg() > 0 {
		if len(ids) == 0 {
			fmt.Fprintf(stderr, "mailsink delete: unexpected argument %q (IDs follow --id)\n", fs.Arg(0))
			return exitFailed
		}
		ids = append(ids, fs.Args()...)
	}
	modes := 0
	for _, set := range []bool{*query != "", len(ids) > 0, *all} {
		if set {
			modes++
		}
	}
	if modes != 1 {
		fmt.Fprintln(stderr, "mailsink delete: say what to delete with exactly one of --query, --id or --all")
		return exitFailed
	}
	c, err := newAPIClient(api, apiTimeout, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "mailsink delete:", err)
		return exitFailed
	}
	switch {
	case *query != "":
		_, err = c.call(ctx, http.MethodDelete, "/api/v1/search?"+url.Values{"query": {*query}}.Encode(), nil)
	case len(ids) > 0:
		_, err = c.call(ctx, http.MethodDelete, "/api/v1/messages", struct {
			IDs []string `json:"IDs"`
		}{ids})
	default:
		_, err = c.call(ctx, http.MethodDelete, "/api/v1/messages", nil)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mailsink delete:", err)
		return exitFailed
	}
	return exitOK
}
