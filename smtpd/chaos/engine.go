package chaos

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mailsink/smtpd"
)

// Options are an Engine's dependencies.
type Options struct {
	// Inbox routes a message to its inbox the way the store does (AUTH
	// user, inbox header, +tag of a recipient); nil: inbox matches see "".
	Inbox func(authUser string, header textproto.MIMEHeader, rcpts []string) string
	Now   func() time.Time // default time.Now
	Log   *slog.Logger     // default slog.Default()
	// Changed is called (without locks held) after the configuration
	// changed, e.g. to tell browsers; not for the one New starts with.
	Changed func()
}

// maxEvents is how many recent chaos events Stats keeps.
const maxEvents = 100

// Engine evaluates chaos rules; it implements smtpd.Chaos. Safe for
// concurrent use.
type Engine struct {
	opts   Options
	active atomic.Bool // fast path: anything configured at all

	mu      sync.Mutex
	cfg     Config // as set (Seed is the effective one)
	rules   []*state
	mailpit MailpitTriggers
	jim     *JimConfig
	magic   *state

	mailpitRules, jimRules []*state // derived from mailpit and jim
	codes                  map[int]uint64
	actions                map[string]uint64
	events                 []Event
}

// state is a compiled rule with its counters and memory.
type state struct {
	*compiled
	origin  string      // "rule", "mailpit", "jim", "magic"
	speed   *[2]float64 // Jim's link speed: a random throttle in [min, max]
	rng     *rand.Rand
	seen    uint64 // matches since the rule was (re)defined: what Every and First count
	matched uint64 // statistics: kept while the rule stays the same, zeroed by ResetCounters
	fired   uint64
	grey    map[string]time.Time   // greylist: triplet → first attempt
	window  map[string][]time.Time // rate limit: client IP → recent counted matches
}

// Stats are the counters and the recent events.
type Stats struct {
	Rules   []RuleStats       `json:"Rules"`
	Codes   map[string]uint64 `json:"Codes"`   // reply code → times sent by chaos
	Actions map[string]uint64 `json:"Actions"` // "reply", "disconnect", "delay", "throttle" → times
	Events  []Event           `json:"Events"`  // the last 100, oldest first
}

// RuleStats counts one rule.
type RuleStats struct {
	Name    string `json:"Name"`
	Origin  string `json:"Origin"` // "rule", "mailpit", "jim" or "magic"
	Stage   string `json:"Stage"`
	Matched uint64 `json:"Matched"`
	Fired   uint64 `json:"Fired"`
}

// Event is one time chaos did something.
type Event struct {
	Time   time.Time `json:"Time"`
	Rule   string    `json:"Rule"`
	Stage  string    `json:"Stage"`
	Action string    `json:"Action"` // e.g. "reply 550 5.1.1", "delay 2s", "disconnect"
	Remote string    `json:"Remote"`
	From   string    `json:"From"`
	Rcpt   string    `json:"Rcpt"`
}

// New returns an Engine with cfg in force.
func New(cfg Config, opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	changed := opts.Changed
	opts.Changed = nil // the start-up configuration is no change to announce
	e := &Engine{opts: opts, codes: map[int]uint64{}, actions: map[string]uint64{}, mailpit: DefaultMailpitTriggers()}
	if err := e.SetConfig(cfg); err != nil {
		return nil, err
	}
	e.opts.Changed = changed
	return e, nil
}

// Config returns the configuration in force, with the effective seed.
func (e *Engine) Config() Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.cfg
	c.Rules = append([]Rule{}, c.Rules...)
	return c
}

// SetConfig validates cfg and puts it in force: rules start afresh (their
// greylist and rate memories, random sequences, Every/First counts), so
// putting the same rules and seed again repeats the same decisions. The
// statistics of a rule that stays the same (toggling Disabled included)
// are kept. Mailpit's triggers and Jim are kept.
func (e *Engine) SetConfig(cfg Config) error {
	if cfg.Seed == 0 {
		cfg.Seed = rand.Int64N(1<<53) + 1 // exactly representable in JSON numbers
	}
	cfg.Rules = slices.Clone(cfg.Rules) // names are filled in below: not in the caller's slice
	states := make([]*state, 0, len(cfg.Rules))
	for i, r := range cfg.Rules {
		c, err := compile(r, i)
		if err != nil {
			return err
		}
		cfg.Rules[i].Name = c.Name
		states = append(states, newState(c, "rule", cfg.Seed))
	}
	e.mu.Lock()
	old := map[string]*state{}
	for _, s := range e.rules {
		old[s.key()] = s
	}
	for _, s := range states {
		if o, ok := old[s.key()]; ok {
			s.matched, s.fired = o.matched, o.fired
		}
	}
	seedChanged := cfg.Seed != e.cfg.Seed
	e.cfg = cfg
	e.cfg.Rules = append([]Rule{}, cfg.Rules...)
	e.rules = states
	if seedChanged {
		e.mailpitRules = e.mailpit.rules(cfg.Seed)
		e.jimRules = e.jim.rules(cfg.Seed)
	}
	switch {
	case !cfg.Magic:
		e.magic = nil
	case e.magic == nil: // kept (with its counters) while it stays on
		e.magic = newState(&compiled{Rule: Rule{Name: "magic address", Stage: "rcpt"}, stages: map[smtpd.Stage]bool{smtpd.StageRcpt: true}}, "magic", cfg.Seed)
	}
	e.refresh()
	e.mu.Unlock()
	e.changed()
	return nil
}

// Reset turns everything off: rules, Mailpit's triggers, Jim, magic
// addresses and all counters.
func (e *Engine) Reset() {
	e.mu.Lock()
	e.cfg = Config{Seed: e.cfg.Seed}
	e.rules, e.magic, e.jim = nil, nil, nil
	e.mailpit = DefaultMailpitTriggers()
	e.mailpitRules, e.jimRules = nil, nil
	e.codes, e.actions, e.events = map[int]uint64{}, map[string]uint64{}, nil
	e.refresh()
	e.mu.Unlock()
	e.changed()
}

// ResetCounters zeroes the counters and forgets the events; the rules
// and their memories stay.
func (e *Engine) ResetCounters() {
	e.mu.Lock()
	for _, s := range e.all() {
		s.matched, s.fired = 0, 0
	}
	e.codes, e.actions, e.events = map[int]uint64{}, map[string]uint64{}, nil
	e.mu.Unlock()
	e.changed()
}

// Active reports whether anything can fire: enabled rules, magic
// addresses, a Mailpit trigger or Jim.
func (e *Engine) Active() bool { return e.active.Load() }

// Stats returns the counters and recent events.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := Stats{Rules: []RuleStats{}, Codes: map[string]uint64{}, Actions: map[string]uint64{}, Events: append([]Event{}, e.events...)}
	for _, s := range e.all() {
		st.Rules = append(st.Rules, RuleStats{Name: s.Name, Origin: s.origin, Stage: s.Stage, Matched: s.matched, Fired: s.fired})
	}
	for c, n := range e.codes {
		st.Codes[strconv.Itoa(c)] = n
	}
	for a, n := range e.actions {
		st.Actions[a] = n
	}
	return st
}

func (e *Engine) changed() {
	if e.opts.Changed != nil {
		e.opts.Changed()
	}
}

// all lists every rule in evaluation order: the configured rules (when
// enabled), Mailpit's triggers, Jim's, then magic addresses. mu held.
func (e *Engine) all() []*state {
	var out []*state
	if e.cfg.Enabled {
		out = append(out, e.rules...)
	}
	out = append(out, e.mailpitRules...)
	out = append(out, e.jimRules...)
	if e.magic != nil {
		out = append(out, e.magic)
	}
	return out
}

// key identifies a rule's definition, Disabled aside.
func (s *state) key() string {
	r := s.Rule
	r.Disabled = false
	b, _ := json.Marshal(r)
	return s.origin + "\x00" + string(b)
}

// refresh recomputes the fast-path flag. mu held.
func (e *Engine) refresh() {
	active := e.magic != nil || len(e.mailpitRules) > 0 || len(e.jimRules) > 0
	if e.cfg.Enabled {
		for _, s := range e.rules {
			active = active || !s.Disabled
		}
	}
	e.active.Store(active)
}

func newState(c *compiled, origin string, seed int64) *state {
	h := fnv.New64a()
	h.Write([]byte(origin + "\x00" + c.Name))
	return &state{
		compiled: c,
		origin:   origin,
		rng:      rand.New(rand.NewPCG(uint64(seed), h.Sum64())),
		grey:     map[string]time.Time{},
		window:   map[string][]time.Time{},
	}
}

// Decide evaluates the rules in order at p: delays and throttles add up,
// the first rule that replies or disconnects ends the evaluation.
func (e *Engine) Decide(p *smtpd.ChaosPoint) smtpd.ChaosAction {
	var act smtpd.ChaosAction
	if !e.active.Load() {
		return act
	}
	now := e.opts.Now()
	inbox := ""
	if e.opts.Inbox != nil {
		rcpts := p.Rcpts
		if p.Rcpt != "" {
			rcpts = append(append([]string{}, rcpts...), p.Rcpt)
		}
		inbox = e.opts.Inbox(p.AuthUser, p.Header, rcpts)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.all() {
		if s.Disabled || !s.stages[p.Stage] {
			continue
		}
		var fire bool
		var r ruleAction
		if s.origin == "magic" {
			r, fire = magicAction(p)
			if fire {
				s.seen++
				s.matched++
			}
		} else {
			if !s.matches(p, inbox) {
				continue
			}
			s.seen++
			s.matched++
			fire = s.fires(p, now)
			r = ruleAction{reply: s.reply, disconnect: s.Disconnect, after: s.AfterBytes,
				delay: time.Duration(s.Delay), jitter: time.Duration(s.Jitter), throttle: s.Throttle}
			if s.speed != nil { // Jim's link speed: random per session
				r.throttle = int64(s.speed[0] + (s.speed[1]-s.speed[0])*s.rng.Float64())
			}
		}
		if !fire {
			continue
		}
		s.fired++
		if e.apply(&act, s, r, p, now) {
			break
		}
	}
	return act
}

// ruleAction is what one firing rule does.
type ruleAction struct {
	reply      *smtpd.Error
	disconnect bool
	after      int64
	delay      time.Duration
	jitter     time.Duration
	throttle   int64
}

// apply adds a firing rule's action to act, counts it and records the
// event; true when the action ends the evaluation. mu held.
func (e *Engine) apply(act *smtpd.ChaosAction, s *state, r ruleAction, p *smtpd.ChaosPoint, now time.Time) bool {
	var did []string
	if r.delay > 0 || r.jitter > 0 {
		d := r.delay
		if r.jitter > 0 {
			d += time.Duration(s.rng.Int64N(int64(2*r.jitter)+1)) - r.jitter
		}
		d = max(d, 0)
		act.Delay += d
		did = append(did, "delay "+d.Round(time.Millisecond).String())
		e.actions["delay"]++
	}
	if r.throttle > 0 {
		act.Throttle = r.throttle
		did = append(did, "throttle "+strconv.FormatInt(r.throttle, 10)+" B/s")
		e.actions["throttle"]++
	}
	final := false
	switch {
	case r.disconnect:
		act.Disconnect, act.AfterBytes = true, r.after
		if r.after > 0 {
			did = append(did, "disconnect after "+strconv.FormatInt(r.after, 10)+" octets")
		} else {
			did = append(did, "disconnect")
		}
		e.actions["disconnect"]++
		final = true
	case r.reply != nil:
		act.Reply = r.reply
		did = append(did, fmt.Sprintf("reply %d %s %s", r.reply.Code, r.reply.Enhanced, strings.ReplaceAll(r.reply.Message, "\n", " / ")))
		e.actions["reply"]++
		e.codes[r.reply.Code]++
		final = true
	}
	what := strings.Join(did, ", ")
	act.Notes = append(act.Notes, fmt.Sprintf("rule %q at %s: %s", s.Name, p.Stage, what))
	ev := Event{Time: now, Rule: s.Name, Stage: string(p.Stage), Action: what, Remote: p.Remote.String(), From: p.From, Rcpt: p.Rcpt}
	if len(e.events) >= maxEvents {
		e.events = append(e.events[:0], e.events[1:]...)
	}
	e.events = append(e.events, ev)
	e.opts.Log.Info("chaos", "rule", s.Name, "stage", string(p.Stage), "action", what, "remote", ev.Remote)
	return final
}

// matches checks the rule's Match against p.
func (s *state) matches(p *smtpd.ChaosPoint, inbox string) bool {
	m := s.Match
	if m.From != "" && !glob(m.From, p.From) {
		return false
	}
	if m.To != "" {
		ok := false
		if p.Rcpt != "" {
			ok = glob(m.To, p.Rcpt)
		} else {
			for _, r := range p.Rcpts {
				ok = ok || glob(m.To, r)
			}
		}
		if !ok {
			return false
		}
	}
	if s.prefix.IsValid() && (!p.Remote.IsValid() || !s.prefix.Contains(p.Remote)) {
		return false
	}
	if m.Helo != "" && !glob(m.Helo, p.Helo) {
		return false
	}
	if m.Auth != "" && !glob(m.Auth, p.AuthUser) {
		return false
	}
	if m.Inbox != "" && !glob(m.Inbox, inbox) {
		return false
	}
	if h := m.Header; h != nil {
		vs, ok := p.Header[textproto.CanonicalMIMEHeaderKey(h.Name)]
		if !ok {
			return false
		}
		if h.Value != "" {
			any := false
			for _, v := range vs {
				any = any || glob(h.Value, strings.TrimSpace(v))
			}
			if !any {
				return false
			}
		}
	}
	if m.MinSize > 0 && p.Size < m.MinSize || m.MaxSize > 0 && p.Size > m.MaxSize {
		return false
	}
	return true
}

// fires decides whether a matching rule acts this time.
func (s *state) fires(p *smtpd.ChaosPoint, now time.Time) bool {
	switch {
	case s.Probability != nil:
		return s.rng.Float64() < *s.Probability
	case s.Every > 0:
		return s.seen%uint64(s.Every) == 0
	case s.First > 0:
		return s.seen <= uint64(s.First)
	case s.Greylist != nil:
		key := p.Remote.String() + "\x00" + strings.ToLower(p.From) + "\x00" + strings.ToLower(p.Rcpt)
		first, seen := s.grey[key]
		if !seen {
			s.forgetGrey(now)
			s.grey[key] = now
			return true
		}
		return now.Sub(first) < time.Duration(s.Greylist.Retry)
	case s.RateLimit != nil:
		key := p.Remote.String()
		win := time.Duration(s.RateLimit.Window)
		kept := s.window[key][:0]
		for _, t := range s.window[key] {
			if now.Sub(t) < win {
				kept = append(kept, t)
			}
		}
		if len(kept) >= s.RateLimit.Max {
			s.window[key] = kept
			return true
		}
		s.window[key] = append(kept, now)
		if len(s.window) > maxMemory {
			for k, ts := range s.window { // clients whose window has passed
				if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= win {
					delete(s.window, k)
				}
			}
		}
		return false
	}
	return true
}

// maxMemory bounds how many greylist triplets or rate-limited clients a
// rule remembers, so a long run with many senders cannot grow it forever.
const maxMemory = 100_000

// forgetGrey makes room in a full greylist: triplets first seen over a
// day ago go (real greylisters forget after days too), then, if that
// was not enough, all of them.
func (s *state) forgetGrey(now time.Time) {
	if len(s.grey) < maxMemory {
		return
	}
	for k, t := range s.grey {
		if now.Sub(t) > 24*time.Hour {
			delete(s.grey, k)
		}
	}
	if len(s.grey) >= maxMemory {
		clear(s.grey)
	}
}

// glob matches s against a pattern of * and ? ignoring case.
func glob(pattern, s string) bool {
	return globRunes([]rune(strings.ToLower(pattern)), []rune(strings.ToLower(s)))
}

func globRunes(p, s []rune) bool {
	// Iterative matching with one backtrack point for the last *.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*': // before the literal case: a '*' in s is just a character
			star, mark = pi, si
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
