package webui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"mailsink/smtpd/chaos"
)

// This file is the control surface of chaos mode: our own configuration
// and Mailpit's chaos triggers on /api/v1/chaos, MailHog's Jim on
// /api/v2/jim. The rules themselves live in smtpd/chaos; the SMTP server
// consults them at its next command, so every change here takes effect
// on open sessions too.

// Chaos is the subset of *chaos.Engine the handlers use. It is defined
// here, by its consumer; tests use a real engine.
type Chaos interface {
	Config() chaos.Config
	SetConfig(chaos.Config) error
	Reset()
	ResetCounters()
	Active() bool
	Stats() chaos.Stats
	MailpitTriggers() chaos.MailpitTriggers
	SetMailpitTriggers(chaos.MailpitTriggers) error
	Jim() (chaos.JimConfig, bool)
	SetJim(*chaos.JimConfig) error
}

// errNoChaos answers the chaos routes of a Server built without a Chaos.
var errNoChaos = errors.New("chaos is not available")

// chaosRoutes registers /api/v1/chaos and MailHog's /api/v2/jim.
func (s *Server) chaosRoutes() {
	s.api.HandleFunc("GET /api/v1/chaos", s.handleGetChaos)
	s.api.HandleFunc("PUT /api/v1/chaos", s.handlePutChaos)
	s.api.HandleFunc("DELETE /api/v1/chaos", s.handleDeleteChaos)
	s.api.HandleFunc("DELETE /api/v1/chaos/counters", s.handleDeleteChaosCounters)

	s.api.HandleFunc("GET /api/v2/jim", s.handleGetJim)
	s.api.HandleFunc("POST /api/v2/jim", s.handleCreateJim)
	s.api.HandleFunc("PUT /api/v2/jim", s.handleUpdateJim)
	s.api.HandleFunc("DELETE /api/v2/jim", s.handleDeleteJim)
}

// chaosState is the reply of every /api/v1/chaos route: Mailpit's
// ChaosTriggers (the first three fields, so Mailpit's clients read it
// unchanged) plus our configuration, Jim and the counters.
type chaosState struct {
	Authentication chaos.MailpitTrigger `json:"Authentication"`
	Recipient      chaos.MailpitTrigger `json:"Recipient"`
	Sender         chaos.MailpitTrigger `json:"Sender"`

	Active  bool             `json:"Active"`  // anything can fire: rules, a trigger, Jim or magic addresses
	Enabled bool             `json:"Enabled"` // the Rules as a whole
	Seed    int64            `json:"Seed"`    // the effective seed
	Magic   bool             `json:"Magic"`
	Rules   []chaos.Rule     `json:"Rules"`
	Jim     *chaos.JimConfig `json:"Jim"` // null when Jim is off
	Stats   chaos.Stats      `json:"Stats"`
}

func chaosStateOf(c Chaos) chaosState {
	cfg := c.Config()
	t := c.MailpitTriggers()
	st := chaosState{
		Authentication: t.Authentication,
		Recipient:      t.Recipient,
		Sender:         t.Sender,
		Active:         c.Active(),
		Enabled:        cfg.Enabled,
		Seed:           cfg.Seed,
		Magic:          cfg.Magic,
		Rules:          nonNil(cfg.Rules),
		Stats:          c.Stats(),
	}
	if j, on := c.Jim(); on {
		st.Jim = &j
	}
	return st
}

// chaosUpdate is the body of PUT /api/v1/chaos. Pointers tell an omitted
// key from a zero value; keys match case-insensitively (encoding/json).
type chaosUpdate struct {
	// Ours: any of these replaces the configuration (see applyChaosUpdate).
	Enabled *bool              `json:"Enabled"`
	Seed    *int64             `json:"Seed"`
	Magic   *bool              `json:"Magic"`
	Rules   *[]json.RawMessage `json:"Rules"` // each a chaos.Rule object or its compact string

	// Mailpit's ChaosTriggers.
	Authentication *chaos.MailpitTrigger `json:"Authentication"`
	Recipient      *chaos.MailpitTrigger `json:"Recipient"`
	Sender         *chaos.MailpitTrigger `json:"Sender"`
}

// handleGetChaos: GET /api/v1/chaos. Mailpit answers 400 while chaos is
// disabled (it needs --enable-chaos); ours is always available, with
// every trigger at 0 % until someone sets one.
func (s *Server) handleGetChaos(w http.ResponseWriter, r *http.Request) {
	c := s.cfg.Chaos
	if c == nil {
		s.writeError(w, r, errNoChaos)
		return
	}
	s.writeJSON(w, r, http.StatusOK, chaosStateOf(c))
}

// handlePutChaos: PUT /api/v1/chaos, our configuration, Mailpit's
// triggers or both; unknown keys are refused. The reply is the new state.
func (s *Server) handlePutChaos(w http.ResponseWriter, r *http.Request) {
	c := s.cfg.Chaos
	if c == nil {
		s.writeError(w, r, errNoChaos)
		return
	}
	var raw json.RawMessage
	if err := decodeBody(w, r, &raw); err != nil {
		s.writeError(w, r, err)
		return
	}
	var in chaosUpdate
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields() // a typo must not pass for "reset"
		if err := dec.Decode(&in); err != nil {
			s.writeError(w, r, fmt.Errorf("%w: body: %v", errBadRequest, err))
			return
		}
	}
	s.chaosMu.Lock()
	defer s.chaosMu.Unlock()
	if err := applyChaosUpdate(c, in); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, chaosStateOf(c))
}

// applyChaosUpdate puts in into force, all or nothing.
//
// Mailpit's part follows Mailpit: the triggers given are set, the omitted
// ones go back to their defaults (their ErrorCode, 0 %), and a body
// without any of our keys (such as Mailpit's default {}) resets them all.
// An ErrorCode of 0 means the trigger's default code.
//
// Our part starts from the configuration in force: Rules replace the
// rules and switch them on unless Enabled says otherwise; an omitted Seed
// keeps the current one, so the random sequences stay repeatable.
func applyChaosUpdate(c Chaos, in chaosUpdate) error {
	ours := in.Enabled != nil || in.Seed != nil || in.Magic != nil || in.Rules != nil
	mailpit := in.Authentication != nil || in.Recipient != nil || in.Sender != nil || !ours

	var rules []chaos.Rule
	if in.Rules != nil {
		var err error
		if rules, err = parseChaosRules(*in.Rules); err != nil {
			return err
		}
	}

	// Mailpit's triggers first: if the rules then fail, putting the old
	// triggers back cannot fail, while putting old rules back would reset
	// their memories (greylist, rate windows).
	old := c.MailpitTriggers()
	if mailpit {
		t := chaos.DefaultMailpitTriggers()
		for _, x := range []struct{ dst, in *chaos.MailpitTrigger }{
			{&t.Authentication, in.Authentication}, {&t.Recipient, in.Recipient}, {&t.Sender, in.Sender},
		} {
			if x.in != nil {
				x.dst.Probability = x.in.Probability
				if x.in.ErrorCode != 0 {
					x.dst.ErrorCode = x.in.ErrorCode
				}
			}
		}
		if err := c.SetMailpitTriggers(t); err != nil {
			return fmt.Errorf("%w: %v", errBadRequest, err)
		}
	}
	if !ours {
		return nil
	}
	cfg := c.Config()
	if in.Rules != nil {
		cfg.Rules, cfg.Enabled = rules, true // putting rules means using them
	}
	if in.Enabled != nil {
		cfg.Enabled = *in.Enabled
	}
	if in.Seed != nil {
		cfg.Seed = *in.Seed // 0 asks the engine for a fresh random seed
	}
	if in.Magic != nil {
		cfg.Magic = *in.Magic
	}
	if err := c.SetConfig(cfg); err != nil {
		if mailpit {
			if rerr := c.SetMailpitTriggers(old); rerr != nil {
				return fmt.Errorf("restore Mailpit triggers after %v: %w", err, rerr)
			}
		}
		return fmt.Errorf("%w: %v", errBadRequest, err)
	}
	return nil
}

// parseChaosRules reads rules given as objects or in the compact form of
// --chaos-rule ("rcpt:to=*@x.test:550 5.1.1 No such user").
func parseChaosRules(raws []json.RawMessage) ([]chaos.Rule, error) {
	rules := make([]chaos.Rule, 0, len(raws))
	for i, raw := range raws {
		var rule chaos.Rule
		var compact string
		if json.Unmarshal(raw, &compact) == nil {
			var err error
			if rule, err = chaos.ParseRule(compact); err != nil {
				return nil, fmt.Errorf("%w: Rules[%d]: %v", errBadRequest, i, err)
			}
		} else {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&rule); err != nil {
				return nil, fmt.Errorf("%w: Rules[%d]: %v", errBadRequest, i, err)
			}
		}
		rules = append(rules, rule)
	}
	return rules, nil
}

// handleDeleteChaos: DELETE /api/v1/chaos turns everything off (rules,
// Mailpit's triggers, Jim, magic addresses, counters); replies the state.
func (s *Server) handleDeleteChaos(w http.ResponseWriter, r *http.Request) {
	c := s.cfg.Chaos
	if c == nil {
		s.writeError(w, r, errNoChaos)
		return
	}
	s.chaosMu.Lock()
	defer s.chaosMu.Unlock()
	c.Reset()
	s.writeJSON(w, r, http.StatusOK, chaosStateOf(c))
}

// handleDeleteChaosCounters: DELETE /api/v1/chaos/counters zeroes the
// counters and forgets the events, keeping the rules; replies the state.
func (s *Server) handleDeleteChaosCounters(w http.ResponseWriter, r *http.Request) {
	c := s.cfg.Chaos
	if c == nil {
		s.writeError(w, r, errNoChaos)
		return
	}
	c.ResetCounters()
	s.writeJSON(w, r, http.StatusOK, chaosStateOf(c))
}

// The Jim routes copy MailHog's (mailhog/MailHog-Server api/v2.go),
// status codes and quirks included: 404 while Jim is off, 400 for a
// second POST, empty bodies except GET's JSON. cypress-mailhog's
// mhGetJimMode and mhSetJimMode look at the status only. A Server
// without a Chaos has no Jim: 404 everywhere.

// handleGetJim: GET /api/v2/jim, Jim's configuration; 404 when off.
func (s *Server) handleGetJim(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Chaos == nil {
		writeEmpty(w, http.StatusNotFound)
		return
	}
	j, on := s.cfg.Chaos.Jim()
	if !on {
		writeEmpty(w, http.StatusNotFound)
		return
	}
	s.writeJSON(w, r, http.StatusOK, j)
}

// handleCreateJim: POST /api/v2/jim invites Jim: 201, or 400 when he is
// already there. Like MailHog, a body that decodes replaces the defaults
// entirely (an omitted field is 0, and AcceptChance 0 refuses every
// connection); a missing or malformed body keeps the defaults. Values the
// engine refuses (a chance outside 0–1) are a 400 and Jim stays away.
func (s *Server) handleCreateJim(w http.ResponseWriter, r *http.Request) {
	c := s.cfg.Chaos
	if c == nil {
		writeEmpty(w, http.StatusNotFound)
		return
	}
	j, ok, err := readJim(w, r)
	if err != nil {
		s.mailhogError(w, r, err)
		return
	}
	if !ok {
		j = chaos.DefaultJim()
	}
	s.chaosMu.Lock()
	defer s.chaosMu.Unlock()
	if _, on := c.Jim(); on {
		writeEmpty(w, http.StatusBadRequest)
		return
	}
	if err := c.SetJim(&j); err != nil {
		writeEmpty(w, http.StatusBadRequest)
		return
	}
	writeEmpty(w, http.StatusCreated)
}

// handleUpdateJim: PUT /api/v2/jim replaces Jim's configuration; 404
// when Jim is off, 400 for a body that does not decode (or values the
// engine refuses). As in MailHog the body is decoded into a zero
// configuration: {"RejectSenderChance":1} also sets AcceptChance to 0.
func (s *Server) handleUpdateJim(w http.ResponseWriter, r *http.Request) {
	c := s.cfg.Chaos
	if c == nil {
		writeEmpty(w, http.StatusNotFound)
		return
	}
	j, ok, err := readJim(w, r)
	if err != nil {
		s.mailhogError(w, r, err)
		return
	}
	s.chaosMu.Lock()
	defer s.chaosMu.Unlock()
	if _, on := c.Jim(); !on {
		writeEmpty(w, http.StatusNotFound)
		return
	}
	if !ok || c.SetJim(&j) != nil {
		writeEmpty(w, http.StatusBadRequest)
		return
	}
	writeEmpty(w, http.StatusOK)
}

// handleDeleteJim: DELETE /api/v2/jim sends Jim away; 404 when off.
func (s *Server) handleDeleteJim(w http.ResponseWriter, r *http.Request) {
	c := s.cfg.Chaos
	if c == nil {
		writeEmpty(w, http.StatusNotFound)
		return
	}
	s.chaosMu.Lock()
	defer s.chaosMu.Unlock()
	if _, on := c.Jim(); !on {
		writeEmpty(w, http.StatusNotFound)
		return
	}
	if err := c.SetJim(nil); err != nil {
		s.writeError(w, r, err) // SetJim(nil) validates nothing: a bug if it fails
		return
	}
	writeEmpty(w, http.StatusOK)
}

// readJim decodes a Jim body as MailHog does: the first JSON value, into
// a zero configuration, unknown keys ignored. ok is false when the body
// is empty or does not decode; err is for a body that cannot be read
// (too large, or the client went away).
func readJim(w http.ResponseWriter, r *http.Request) (j chaos.JimConfig, ok bool, err error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return j, false, fmt.Errorf("read body: %w", err)
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&j); err != nil {
		return chaos.JimConfig{}, false, nil
	}
	return j, true, nil
}
