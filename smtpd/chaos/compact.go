package chaos

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseRule reads the compact form of a rule used by --chaos-rule and
// MAILSINK_CHAOS_RULE:
//
//	STAGE[:TERMS][:ACTION]
//
// STAGE is a stage, several joined by commas, or *. TERMS are
// comma-separated key=value pairs: matches (from, to, helo, auth, inbox
// take globs; ip an address or CIDR, IPv6 in brackets; header=Name or
// header=Name=glob; size=MIN-MAX with either end optional), when it fires
// (p=0.25 or p=25%, every=N, first=N, greylist=RETRY, rate=N/WINDOW) and
// name=NAME. ACTION is any of delay=D (delay=2s~500ms adds ± jitter),
// throttle=BYTES_PER_SECOND, disconnect or disconnect=N (after N octets
// of content), then optionally a reply: CODE [ENHANCED] [TEXT], where
// TEXT runs to the end (colons and commas included) and \n separates
// lines. Examples:
//
//	rcpt:to=*@bounce.test:550 5.1.1 No such user
//	mail:p=0.3:451 4.3.0 Try again later
//	rcpt:greylist=2s
//	connect:rate=5/10s
//	data:disconnect=1000
//	*:delay=200ms~100ms
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Rule{}, errNoRules
	}
	stage, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Rule{}, fmt.Errorf("chaos rule %q: want STAGE:[TERMS:]ACTION", s)
	}
	r := Rule{Stage: strings.TrimSpace(stage)}
	action := rest
	if i := colonOutsideBrackets(rest); i >= 0 {
		if err := r.parseTerms(rest[:i]); err == nil {
			action = rest[i+1:]
		} else if looksLikeTerms(rest[:i]) {
			return Rule{}, fmt.Errorf("chaos rule %q: %w", s, err)
		}
	} else if looksLikeTerms(rest) {
		if err := r.parseTerms(rest); err != nil {
			return Rule{}, fmt.Errorf("chaos rule %q: %w", s, err)
		}
		action = ""
	}
	if err := r.parseAction(strings.TrimSpace(action)); err != nil {
		return Rule{}, fmt.Errorf("chaos rule %q: %w", s, err)
	}
	if _, err := compile(r, 0); err != nil {
		return Rule{}, fmt.Errorf("chaos rule %q: %w", s, err)
	}
	return r, nil
}

// termKeys are the keys TERMS may use.
var termKeys = map[string]bool{
	"from": true, "to": true, "ip": true, "helo": true, "auth": true, "inbox": true, "header": true, "size": true,
	"p": true, "probability": true, "every": true, "first": true, "greylist": true, "rate": true, "name": true,
}

// looksLikeTerms reports whether s starts like a TERMS segment (a known
// key and "="), as opposed to an action.
func looksLikeTerms(s string) bool {
	k, _, ok := strings.Cut(strings.TrimSpace(s), "=")
	return ok && termKeys[strings.ToLower(strings.TrimSpace(k))]
}

// colonOutsideBrackets is the index of the first ':' not inside [...].
func colonOutsideBrackets(s string) int {
	depth := 0
	for i, r := range s {
		switch r {
		case '[':
			depth++
		case ']':
			depth = max(depth-1, 0)
		case ':':
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func (r *Rule) parseTerms(s string) error {
	for term := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(term), "=")
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if !ok || !termKeys[k] {
			return fmt.Errorf("term %q: want key=value with key one of from, to, ip, helo, auth, inbox, header, size, p, every, first, greylist, rate, name", term)
		}
		if v == "" {
			return fmt.Errorf("term %q has no value", term)
		}
		var err error
		switch k {
		case "from":
			r.Match.From = v
		case "to":
			r.Match.To = v
		case "ip":
			r.Match.IP = unbracket(v)
		case "helo":
			r.Match.Helo = v
		case "auth":
			r.Match.Auth = v
		case "inbox":
			r.Match.Inbox = v
		case "name":
			r.Name = v
		case "header":
			name, glob, _ := strings.Cut(v, "=")
			r.Match.Header = &HeaderMatch{Name: name, Value: glob}
		case "size":
			lo, hi, ok := strings.Cut(v, "-")
			if !ok {
				return fmt.Errorf("size %q: want MIN-MAX, MIN- or -MAX (octets)", v)
			}
			if r.Match.MinSize, err = optInt(lo); err == nil {
				r.Match.MaxSize, err = optInt(hi)
			}
		case "p", "probability":
			var p float64
			if pct, ok := strings.CutSuffix(v, "%"); ok {
				p, err = strconv.ParseFloat(pct, 64)
				p /= 100
			} else {
				p, err = strconv.ParseFloat(v, 64)
			}
			r.Probability = &p
		case "every", "first":
			// 0 would mean "unset", i.e. fire every time: refuse it here.
			var n int
			if n, err = strconv.Atoi(v); err == nil && n < 1 {
				err = errors.New("want a count of at least 1")
			}
			if k == "every" {
				r.Every = n
			} else {
				r.First = n
			}
		case "greylist":
			var d time.Duration
			d, err = time.ParseDuration(v)
			r.Greylist = &Greylist{Retry: Duration(d)}
		case "rate":
			n, w, ok := strings.Cut(v, "/")
			if !ok {
				return fmt.Errorf("rate %q: want MAX/WINDOW, e.g. 10/1m", v)
			}
			var max int
			var win time.Duration
			if max, err = strconv.Atoi(n); err == nil {
				win, err = time.ParseDuration(w)
			}
			r.RateLimit = &RateLimit{Max: max, Window: Duration(win)}
		}
		if err != nil {
			return fmt.Errorf("term %q: %w", term, err)
		}
	}
	return nil
}

func optInt(s string) (int64, error) {
	if s = strings.TrimSpace(s); s == "" {
		return 0, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// parseAction reads delay=, throttle=, disconnect[=N] tokens and a reply.
func (r *Rule) parseAction(s string) error {
	for s != "" {
		tok, rest, _ := strings.Cut(s, " ")
		k, v, hasV := strings.Cut(tok, "=")
		switch strings.ToLower(k) {
		case "delay":
			d, j, _ := strings.Cut(v, "~")
			dd, err := time.ParseDuration(d)
			if err != nil {
				return fmt.Errorf("delay %q: %w", v, err)
			}
			r.Delay = Duration(dd)
			if j != "" {
				jj, err := time.ParseDuration(j)
				if err != nil {
					return fmt.Errorf("jitter %q: %w", j, err)
				}
				r.Jitter = Duration(jj)
			}
		case "throttle":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return fmt.Errorf("throttle %q: want bytes per second", v)
			}
			r.Throttle = n
		case "disconnect":
			r.Disconnect = true
			if hasV {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 0 {
					return fmt.Errorf("disconnect=%q: want a number of octets", v)
				}
				r.AfterBytes = n
			}
		default:
			return r.parseReply(s)
		}
		s = strings.TrimSpace(rest)
	}
	return nil
}

// parseReply reads CODE [ENHANCED] [TEXT].
func (r *Rule) parseReply(s string) error {
	code, rest, _ := strings.Cut(s, " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 {
		return fmt.Errorf("action %q: want delay=, throttle=, disconnect or a reply code", s)
	}
	r.Code = n
	rest = strings.TrimSpace(rest)
	if enh, text, _ := strings.Cut(rest, " "); strings.Count(enh, ".") == 2 && strings.Trim(enh, "0123456789.") == "" {
		r.Enhanced, rest = enh, strings.TrimSpace(text)
	}
	r.Text = strings.ReplaceAll(rest, `\n`, "\n")
	return nil
}
