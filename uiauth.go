package main

// Parsing of the web security flags (--ui-auth, --cors-origin,
// --allowed-hosts) and the login the API subcommands send.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"mailsink/webui"
)

// list is a comma-separated flag value; given twice, the lists add up.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(s string) error {
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// checkOrigin accepts "*" or a bare origin: scheme://host[:port].
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin like https://dash.example.test or *", o)
	}
	return nil
}

// parseUIAuth turns the --ui-auth value into the login webui checks; files
// are read now so that a bad one fails the start, not the first request.
func parseUIAuth(v string) (*webui.Auth, error) {
	kind, arg, _ := strings.Cut(v, ":")
	switch {
	case v == "" || v == "none":
		return nil, nil
	case kind == "htpasswd" && arg != "":
		data, err := os.ReadFile(arg)
		if err != nil {
			return nil, err
		}
		users, err := parseHtpasswd(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", arg, err)
		}
		return &webui.Auth{Users: users}, nil
	case kind == "token" && arg != "":
		data, err := os.ReadFile(arg)
		if err != nil {
			return nil, err
		}
		tokens := readTokens(data)
		if len(tokens) == 0 {
			return nil, fmt.Errorf("%s: no token", arg)
		}
		return &webui.Auth{Tokens: tokens}, nil
	case kind == "bearer" && strings.TrimSpace(arg) != "":
		return &webui.Auth{Tokens: []string{strings.TrimSpace(arg)}}, nil
	}
	return nil, fmt.Errorf("%q is not htpasswd:FILE, token:FILE or bearer:TOKEN", v)
}

// parseHtpasswd reads "user:hash" lines (blank lines and # comments
// skipped). Only bcrypt hashes ($2y$, as htpasswd -B writes them, $2a$,
// $2b$) are taken: the older htpasswd formats (MD5-crypt, SHA-1, crypt,
// plain text) are fast to brute-force, and a line we cannot check must
// fail the start rather than lock its user out silently.
func parseHtpasswd(data []byte) (map[string]string, error) {
	users := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("line %d: want user:bcrypt-hash", n)
		}
		if !strings.HasPrefix(hash, "$2y$") && !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") {
			return nil, fmt.Errorf("line %d (%s): not a bcrypt hash; make one with htpasswd -B", n, user)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("line %d (%s): %w", n, user, err)
		}
		users[user] = hash
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, errors.New("no users")
	}
	return users, nil
}

// readTokens returns the non-blank, non-comment lines of a token file.
func readTokens(data []byte) []string {
	var tokens []string
	for line := range strings.SplitSeq(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			tokens = append(tokens, line)
		}
	}
	return tokens
}

// apiLogin is what the API subcommands authenticate with: --api-token,
// else --api-user, else the token of the server's own MAILSINK_UI_AUTH
// (bearer:TOKEN or a readable token:FILE), so that `docker exec … mailsink
// list` works in the server's environment. Empty: no Authorization.
func apiLogin(token, user string, getenv func(string) string) (authz string) {
	switch {
	case token != "":
		return "Bearer " + token
	case user != "":
		name, pass, _ := strings.Cut(user, ":")
		return "Basic " + basicCredentials(name, pass)
	}
	kind, arg, _ := strings.Cut(getenv(envName("ui-auth")), ":")
	switch kind {
	case "bearer":
		if t := strings.TrimSpace(arg); t != "" {
			return "Bearer " + t
		}
	case "token":
		if data, err := os.ReadFile(arg); err == nil {
			if tokens := readTokens(data); len(tokens) > 0 {
				return "Bearer " + tokens[0]
			}
		}
	}
	return ""
}

// basicCredentials is the base64 user:password of a Basic Authorization.
func basicCredentials(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}
