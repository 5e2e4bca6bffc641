package chaos

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"mailsink/smtpd"
)

// MailpitTrigger is one of Mailpit's chaos triggers: fail a command with
// ErrorCode, Probability percent of the time.
type MailpitTrigger struct {
	ErrorCode   int     `json:"ErrorCode"`
	Probability float64 `json:"Probability"` // 0–100
}

// MailpitTriggers is Mailpit's chaos configuration (PUT /api/v1/chaos):
// Sender fails MAIL, Recipient fails RCPT, Authentication fails AUTH.
type MailpitTriggers struct {
	Authentication MailpitTrigger `json:"Authentication"`
	Recipient      MailpitTrigger `json:"Recipient"`
	Sender         MailpitTrigger `json:"Sender"`
}

// DefaultMailpitTriggers are Mailpit's defaults: 535, 451, 451, all at 0 %.
func DefaultMailpitTriggers() MailpitTriggers {
	return MailpitTriggers{
		Authentication: MailpitTrigger{ErrorCode: 535},
		Recipient:      MailpitTrigger{ErrorCode: 451},
		Sender:         MailpitTrigger{ErrorCode: 451},
	}
}

// MailpitTriggers returns Mailpit's triggers in force.
func (e *Engine) MailpitTriggers() MailpitTriggers {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mailpit
}

// SetMailpitTriggers validates and puts Mailpit's triggers in force.
func (e *Engine) SetMailpitTriggers(t MailpitTriggers) error {
	for _, x := range []struct {
		name string
		t    MailpitTrigger
	}{{"Authentication", t.Authentication}, {"Recipient", t.Recipient}, {"Sender", t.Sender}} {
		if x.t.ErrorCode < 400 || x.t.ErrorCode > 599 {
			return fmt.Errorf("%s.ErrorCode %d: want 400–599", x.name, x.t.ErrorCode)
		}
		if x.t.Probability < 0 || x.t.Probability > 100 {
			return fmt.Errorf("%s.Probability %v: want 0–100", x.name, x.t.Probability)
		}
	}
	e.mu.Lock()
	e.mailpit = t
	e.mailpitRules = t.rules(e.cfg.Seed)
	e.refresh()
	e.mu.Unlock()
	e.changed()
	return nil
}

// rules translates the triggers with a probability above 0.
func (t MailpitTriggers) rules(seed int64) []*state {
	var out []*state
	add := func(name string, stage smtpd.Stage, tr MailpitTrigger, text string) {
		if tr.Probability <= 0 {
			return
		}
		p := tr.Probability / 100
		c := &compiled{
			Rule:   Rule{Name: name, Stage: string(stage), Code: tr.ErrorCode, Probability: &p},
			stages: map[smtpd.Stage]bool{stage: true},
			reply:  &smtpd.Error{Code: tr.ErrorCode, Enhanced: defaultEnhanced(tr.ErrorCode), Message: text},
		}
		out = append(out, newState(c, "mailpit", seed))
	}
	add("mailpit sender", smtpd.StageMail, t.Sender, "Sender rejected (chaos)")
	add("mailpit recipient", smtpd.StageRcpt, t.Recipient, "Recipient rejected (chaos)")
	add("mailpit authentication", smtpd.StageAuth, t.Authentication, "Authentication rejected (chaos)")
	return out
}

// JimConfig is MailHog's Jim, the chaos monkey of /api/v2/jim, with
// MailHog's field names. Chances are 0–1; link speeds bytes/second.
type JimConfig struct {
	DisconnectChance      float64
	AcceptChance          float64
	LinkSpeedAffect       float64
	LinkSpeedMin          float64
	LinkSpeedMax          float64
	RejectSenderChance    float64
	RejectRecipientChance float64
	RejectAuthChance      float64
}

// DefaultJim is Jim with MailHog's default flags.
func DefaultJim() JimConfig {
	return JimConfig{
		DisconnectChance:      0.005,
		AcceptChance:          0.99,
		LinkSpeedAffect:       0.1,
		LinkSpeedMin:          1024,
		LinkSpeedMax:          10240,
		RejectSenderChance:    0.05,
		RejectRecipientChance: 0.05,
		RejectAuthChance:      0.05,
	}
}

// Jim returns Jim's configuration, or false when Jim is off.
func (e *Engine) Jim() (JimConfig, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.jim == nil {
		return JimConfig{}, false
	}
	return *e.jim, true
}

// SetJim invites Jim with j, or sends him away with nil. Values are
// taken as they are, as MailHog does (a field left out of a JSON body is
// 0: AcceptChance 0 refuses every connection).
func (e *Engine) SetJim(j *JimConfig) error {
	if j != nil {
		for name, v := range map[string]float64{"DisconnectChance": j.DisconnectChance, "AcceptChance": j.AcceptChance,
			"LinkSpeedAffect": j.LinkSpeedAffect, "RejectSenderChance": j.RejectSenderChance,
			"RejectRecipientChance": j.RejectRecipientChance, "RejectAuthChance": j.RejectAuthChance} {
			if v < 0 || v > 1 {
				return fmt.Errorf("%s %v: want 0–1", name, v)
			}
		}
		if j.LinkSpeedMin < 0 || j.LinkSpeedMax < j.LinkSpeedMin {
			return fmt.Errorf("link speed %v–%v bytes/second is not a range", j.LinkSpeedMin, j.LinkSpeedMax)
		}
		c := *j
		j = &c
	}
	e.mu.Lock()
	e.jim = j
	e.jimRules = j.rules(e.cfg.Seed)
	e.refresh()
	e.mu.Unlock()
	e.changed()
	return nil
}

// rules translates Jim into rules, in the order MailHog applies them:
// refuse the connection, slow the link, hang up at any command, reject
// MAIL, RCPT or AUTH.
func (j *JimConfig) rules(seed int64) []*state {
	if j == nil {
		return nil
	}
	var out []*state
	add := func(name string, p float64, stages []smtpd.Stage, r Rule, reply *smtpd.Error, speed *[2]float64) {
		r.Name, r.Probability = name, &p
		names := make([]string, len(stages))
		c := &compiled{Rule: r, stages: map[smtpd.Stage]bool{}, reply: reply}
		for i, s := range stages {
			c.stages[s] = true
			names[i] = string(s)
		}
		c.Stage = strings.Join(names, ",")
		st := newState(c, "jim", seed)
		st.speed = speed
		out = append(out, st)
	}
	add("jim accept", 1-j.AcceptChance, []smtpd.Stage{smtpd.StageConnect}, Rule{Disconnect: true}, nil, nil)
	if j.LinkSpeedMax > 0 {
		add("jim link speed", j.LinkSpeedAffect, []smtpd.Stage{smtpd.StageConnect}, Rule{Throttle: 1}, nil, &[2]float64{max(j.LinkSpeedMin, 1), max(j.LinkSpeedMax, 1)})
	}
	add("jim disconnect", j.DisconnectChance, []smtpd.Stage{smtpd.StageHelo, smtpd.StageStartTLS, smtpd.StageAuth,
		smtpd.StageMail, smtpd.StageRcpt, smtpd.StageData, smtpd.StageQuit}, Rule{Disconnect: true}, nil, nil)
	add("jim reject sender", j.RejectSenderChance, []smtpd.Stage{smtpd.StageMail}, Rule{Code: 550},
		&smtpd.Error{Code: 550, Enhanced: "5.1.0", Message: "Invalid sender (Jim)"}, nil)
	add("jim reject recipient", j.RejectRecipientChance, []smtpd.Stage{smtpd.StageRcpt}, Rule{Code: 550},
		&smtpd.Error{Code: 550, Enhanced: "5.1.1", Message: "Invalid recipient (Jim)"}, nil)
	add("jim reject auth", j.RejectAuthChance, []smtpd.Stage{smtpd.StageAuth}, Rule{Code: 535},
		&smtpd.Error{Code: 535, Enhanced: "5.7.8", Message: "Authentication rejected (Jim)"}, nil)
	return out
}

// magicAction reads a magic recipient address: a local part or +tag
// naming a code (smtp451, smtp-550), a delay (delay5s, delay250ms,
// delay2m; seconds without a unit) or "disconnect".
func magicAction(p *smtpd.ChaosPoint) (ruleAction, bool) {
	local := p.Rcpt
	if i := strings.LastIndexByte(local, '@'); i >= 0 {
		local = local[:i]
	}
	for part := range strings.SplitSeq(strings.ToLower(local), "+") {
		switch {
		case part == "disconnect":
			return ruleAction{disconnect: true}, true
		case strings.HasPrefix(part, "smtp"):
			n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(part, "smtp"), "-"))
			if err == nil && n >= 400 && n <= 599 && len(strings.TrimPrefix(strings.TrimPrefix(part, "smtp"), "-")) == 3 {
				return ruleAction{reply: &smtpd.Error{Code: n, Enhanced: defaultEnhanced(n), Message: defaultText(n) + " (magic address)"}}, true
			}
		case strings.HasPrefix(part, "delay"):
			v := strings.TrimPrefix(part, "delay")
			if v != "" && v[len(v)-1] >= '0' && v[len(v)-1] <= '9' {
				v += "s"
			}
			if d, err := time.ParseDuration(v); err == nil && d >= 0 && d <= maxDelay {
				return ruleAction{delay: d}, true
			}
		}
	}
	return ruleAction{}, false
}
