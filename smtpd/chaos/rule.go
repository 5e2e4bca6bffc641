// Package chaos decides what goes wrong in mailsink's SMTP server on
// purpose: an ordered list of rules, each matching a stage of the
// dialogue and some of the session's state, firing always, with a
// probability (seeded, so a run repeats exactly), every Nth time, the
// first N times, as greylisting or as a rate limit, and then replying
// with a code, hanging up, waiting or slowing the link. Mailpit's chaos
// triggers, MailHog's Jim and "magic" recipient addresses are translated
// into the same rules. An Engine is the smtpd.Chaos of a server.
package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailsink/smtpd"
)

// Config is the whole chaos configuration: what the API and --chaos FILE
// carry.
type Config struct {
	// Enabled switches the Rules on and off as a whole (Mailpit's
	// triggers, Jim and Magic have their own switches).
	Enabled bool `json:"Enabled"`
	// Seed makes probabilities repeatable: the same seed and rules give
	// the same sequence of decisions. 0 picks a random seed (reported
	// back by Engine.Config).
	Seed int64 `json:"Seed"`
	// Magic turns on magic recipient addresses (see magic.go).
	Magic bool   `json:"Magic"`
	Rules []Rule `json:"Rules"`
}

// Rule is one chaos rule. The zero values of the optional fields mean
// "not used".
type Rule struct {
	Name     string `json:"Name,omitempty"` // defaults to "rule N" (1-based)
	Stage    string `json:"Stage"`          // a stage, several separated by commas, or "*"
	Disabled bool   `json:"Disabled,omitempty"`
	Match    Match  `json:"Match,omitzero"`

	// Action. A rule may combine Delay/Jitter and Throttle with a reply
	// (Code) or a Disconnect; a greylist or rate-limit rule without a
	// Code gets 451 4.7.1 (421 4.7.0 at connect).
	Code       int      `json:"Code,omitempty"` // 400–599
	Enhanced   string   `json:"Enhanced,omitempty"`
	Text       string   `json:"Text,omitempty"` // "\n" separates the lines of a multi-line reply
	Disconnect bool     `json:"Disconnect,omitempty"`
	AfterBytes int64    `json:"AfterBytes,omitempty"` // with Disconnect at data: accept this many octets of content first
	Delay      Duration `json:"Delay,omitzero"`
	Jitter     Duration `json:"Jitter,omitzero"`    // the delay varies uniformly by ± this much
	Throttle   int64    `json:"Throttle,omitempty"` // bytes/second for the rest of the session

	// When it fires; at most one of these (none: every match).
	Probability *float64   `json:"Probability,omitempty"` // 0–1
	Every       int        `json:"Every,omitempty"`       // every Nth match
	First       int        `json:"First,omitempty"`       // the first N matches only
	Greylist    *Greylist  `json:"Greylist,omitempty"`
	RateLimit   *RateLimit `json:"RateLimit,omitempty"`
}

// Match restricts a rule; every field set must hold. Globs use * and ?
// and ignore case.
type Match struct {
	From    string       `json:"From,omitempty"`  // reverse-path glob
	To      string       `json:"To,omitempty"`    // at rcpt: the recipient; later: any recipient
	IP      string       `json:"IP,omitempty"`    // client address or CIDR
	Helo    string       `json:"Helo,omitempty"`  // HELO/EHLO name glob
	Auth    string       `json:"Auth,omitempty"`  // AUTH user glob
	Inbox   string       `json:"Inbox,omitempty"` // the inbox the mail goes to (as the store routes it)
	Header  *HeaderMatch `json:"Header,omitempty"`
	MinSize int64        `json:"MinSize,omitempty"` // at message: octets
	MaxSize int64        `json:"MaxSize,omitempty"`
}

// HeaderMatch matches a message header field (at the message stage).
type HeaderMatch struct {
	Name  string `json:"Name"`
	Value string `json:"Value,omitempty"` // glob; "" means the field is present
}

// Greylist makes the first attempt of each (client IP, sender,
// recipient) triplet fail; a retry after Retry succeeds.
type Greylist struct {
	Retry Duration `json:"Retry"`
}

// RateLimit fires once more than Max matches came from one client IP
// within Window (connections at connect, transactions at mail, messages
// at message…). Refused attempts are not counted.
type RateLimit struct {
	Max    int      `json:"Max"`
	Window Duration `json:"Window"`
}

// Duration is a time.Duration that reads "1.5s" or a number of
// milliseconds and writes the string form.
type Duration time.Duration

// MarshalJSON writes the duration as a string ("1.5s").
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "1.5s" or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: want e.g. \"500ms\" or \"2s\"", s)
		}
		*d = Duration(v)
		return nil
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("duration %s: want a string like \"2s\" or milliseconds", b)
	}
	*d = Duration(ms * float64(time.Millisecond))
	return nil
}

// maxDelay bounds delays, so a typo cannot hang a session for days.
const maxDelay = 10 * time.Minute

// compiled is a validated rule ready to evaluate.
type compiled struct {
	Rule
	stages map[smtpd.Stage]bool
	prefix netip.Prefix // Match.IP; invalid when unset
	reply  *smtpd.Error // nil: no reply of its own
}

// validate checks a rule and compiles it; i is its index for the
// default name and error messages.
func compile(r Rule, i int) (*compiled, error) {
	if r.Name == "" {
		r.Name = "rule " + strconv.Itoa(i+1)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("rule %q: %s", r.Name, fmt.Sprintf(format, a...))
	}
	c := &compiled{Rule: r, stages: map[smtpd.Stage]bool{}}
	for st := range strings.SplitSeq(r.Stage, ",") {
		st = strings.ToLower(strings.TrimSpace(st))
		switch {
		case st == "*":
			for _, s := range smtpd.Stages {
				c.stages[s] = true
			}
		case slices.Contains(smtpd.Stages, smtpd.Stage(st)):
			c.stages[smtpd.Stage(st)] = true
		default:
			return nil, bad("unknown stage %q (want one of %s, or *)", st, stageList())
		}
	}
	if m := r.Match.IP; m != "" {
		p, err := parsePrefix(m)
		if err != nil {
			return nil, bad("IP %q is not an address or CIDR", m)
		}
		c.prefix = p
	}
	if h := r.Match.Header; h != nil && strings.TrimSpace(h.Name) == "" {
		return nil, bad("header match needs a Name")
	}
	if (r.Match.Header != nil || r.Match.MinSize > 0 || r.Match.MaxSize > 0) && !c.onlyAt(smtpd.StageMessage) {
		return nil, bad("header and size matches need Stage \"message\"")
	}
	if r.Match.MinSize < 0 || r.Match.MaxSize < 0 || r.Match.MaxSize > 0 && r.Match.MaxSize < r.Match.MinSize {
		return nil, bad("size range %d–%d is empty", r.Match.MinSize, r.Match.MaxSize)
	}
	if r.Code != 0 && (r.Code < 400 || r.Code > 599) {
		return nil, bad("Code %d: want 400–599", r.Code)
	}
	if r.Enhanced != "" {
		if r.Code == 0 {
			return nil, bad("Enhanced needs a Code")
		}
		if !validEnhanced(r.Enhanced, r.Code) {
			return nil, bad("Enhanced %q: want class.subject.detail with the class of Code %d", r.Enhanced, r.Code)
		}
	}
	if r.Text != "" && r.Code == 0 {
		return nil, bad("Text needs a Code")
	}
	if r.AfterBytes < 0 || r.AfterBytes > 0 && !r.Disconnect {
		return nil, bad("AfterBytes needs Disconnect")
	}
	if r.Disconnect && r.Code != 0 {
		return nil, bad("Disconnect and Code exclude each other")
	}
	if r.Delay < 0 || r.Jitter < 0 || time.Duration(r.Delay+r.Jitter) > maxDelay {
		return nil, bad("Delay and Jitter must be between 0 and %v in total", maxDelay)
	}
	if r.Throttle < 0 {
		return nil, bad("Throttle must be positive (bytes per second)")
	}
	whens := 0
	if p := r.Probability; p != nil {
		whens++
		if *p < 0 || *p > 1 {
			return nil, bad("Probability %v: want 0–1", *p)
		}
	}
	if r.Every != 0 {
		whens++
		if r.Every < 1 {
			return nil, bad("Every must be at least 1")
		}
	}
	if r.First != 0 {
		whens++
		if r.First < 1 {
			return nil, bad("First must be at least 1")
		}
	}
	if g := r.Greylist; g != nil {
		whens++
		if g.Retry < 0 {
			return nil, bad("Greylist Retry must not be negative")
		}
		if !c.onlyAt(smtpd.StageRcpt) {
			return nil, bad("greylisting works at Stage \"rcpt\" (the triplet needs the recipient)")
		}
	}
	if rl := r.RateLimit; rl != nil {
		whens++
		if rl.Max < 0 || rl.Window <= 0 {
			return nil, bad("RateLimit needs Max ≥ 0 and a positive Window")
		}
	}
	if whens > 1 {
		return nil, bad("use at most one of Probability, Every, First, Greylist, RateLimit")
	}
	if r.Code == 0 && (r.Greylist != nil || r.RateLimit != nil) {
		switch {
		case r.Greylist != nil:
			c.Code, c.Enhanced, c.Text = 451, "4.7.1", "Greylisted, please try again later"
		case c.stages[smtpd.StageConnect]:
			c.Code, c.Enhanced, c.Text = 421, "4.7.0", "Too many connections, slow down"
		default:
			c.Code, c.Enhanced, c.Text = 451, "4.7.1", "Rate limit exceeded, try again later"
		}
	}
	if c.Code == 0 && !r.Disconnect && r.Delay == 0 && r.Throttle == 0 {
		return nil, bad("no action: set Code, Disconnect, Delay or Throttle")
	}
	if c.Code != 0 {
		text := c.Text
		if text == "" {
			text = defaultText(c.Code)
		}
		c.reply = &smtpd.Error{Code: c.Code, Enhanced: c.Enhanced, Message: text}
		if c.reply.Enhanced == "" {
			c.reply.Enhanced = defaultEnhanced(c.Code)
		}
	}
	return c, nil
}

// onlyAt reports whether the rule's stages are exactly {s}.
func (c *compiled) onlyAt(s smtpd.Stage) bool {
	return len(c.stages) == 1 && c.stages[s]
}

func stageList() string {
	names := make([]string, len(smtpd.Stages))
	for i, s := range smtpd.Stages {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// parsePrefix reads an address (a /32 or /128) or a CIDR.
func parsePrefix(s string) (netip.Prefix, error) {
	s = unbracket(strings.TrimSpace(s))
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// unbracket drops the brackets of an IPv6 address: "[::1]",
// "[2001:db8::/32]" and Postfix's "[2001:db8::]/32" all occur.
func unbracket(s string) string {
	return strings.NewReplacer("[", "", "]", "").Replace(s)
}

// validEnhanced checks an RFC 3463 code whose class matches code.
func validEnhanced(e string, code int) bool {
	parts := strings.Split(e, ".")
	if len(parts) != 3 || parts[0] != strconv.Itoa(code/100) {
		return false
	}
	for _, p := range parts[1:] {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 || p == "" {
			return false
		}
	}
	return true
}

// defaultEnhanced picks a plausible RFC 3463 code for a reply code.
func defaultEnhanced(code int) string {
	switch code {
	case 421:
		return "4.7.0"
	case 450:
		return "4.2.1"
	case 451:
		return "4.3.0"
	case 452:
		return "4.3.1"
	case 454:
		return "4.7.0"
	case 535:
		return "5.7.8"
	case 550:
		return "5.1.1"
	case 551:
		return "5.1.6"
	case 552:
		return "5.2.2"
	case 553:
		return "5.1.3"
	case 554:
		return "5.7.1"
	}
	return strconv.Itoa(code/100) + ".0.0"
}

// defaultText is the reply text of a rule without one.
func defaultText(code int) string {
	switch code {
	case 421:
		return "Service not available, closing transmission channel"
	case 450:
		return "Mailbox unavailable, try again later"
	case 451:
		return "Local error in processing, try again later"
	case 452:
		return "Insufficient system storage"
	case 454:
		return "Temporary authentication failure"
	case 535:
		return "Authentication credentials invalid"
	case 550:
		return "Mailbox unavailable"
	case 551:
		return "User not local"
	case 552:
		return "Exceeded storage allocation"
	case 553:
		return "Mailbox name not allowed"
	case 554:
		return "Transaction failed"
	}
	if code < 500 {
		return "Temporary failure (chaos)"
	}
	return "Permanent failure (chaos)"
}

// errNoRules is returned when an empty compact rule is parsed.
var errNoRules = errors.New("empty rule")
