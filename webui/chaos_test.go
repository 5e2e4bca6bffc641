package webui_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"mailsink/smtpd"
	"mailsink/smtpd/chaos"
	"mailsink/webui"
)

// newTestChaos is a real chaos engine whose changes reach hub, wired the
// way main wires it.
func newTestChaos(tb testing.TB, hub *webui.Hub) *chaos.Engine {
	tb.Helper()
	var engine *chaos.Engine
	engine, err := chaos.New(chaos.Config{}, chaos.Options{
		Log: slog.New(slog.DiscardHandler),
		Changed: func() {
			if engine != nil { // nil while New applies the initial configuration
				hub.ChaosChanged(engine.Active())
			}
		},
	})
	if err != nil {
		tb.Fatalf("chaos.New: %v", err)
	}
	return engine
}

// chaosReply is the reply of the /api/v1/chaos routes.
type chaosReply struct {
	Authentication, Recipient, Sender chaos.MailpitTrigger
	Active, Enabled, Magic            bool
	Seed                              int64
	Rules                             []chaos.Rule
	Jim                               *chaos.JimConfig
	Stats                             chaos.Stats
}

// chaosDo sends a chaos request with a JSON body ("" for none), wants
// status and, for 200, decodes the reply strictly.
func chaosDo(tb testing.TB, s *testServer, method, path, body string, status int) (chaosReply, response) {
	tb.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var res response
	if rd == nil {
		res = s.do(tb, method, path, nil)
	} else {
		res = s.do(tb, method, path, rd)
	}
	if res.status != status {
		tb.Fatalf("%s %s %s: status = %d, want %d; body %s", method, path, body, res.status, status, res.body)
	}
	var st chaosReply
	if status == http.StatusOK {
		wantJSON(tb, res, &st)
	}
	return st, res
}

func getChaos(tb testing.TB, s *testServer) chaosReply {
	tb.Helper()
	st, _ := chaosDo(tb, s, http.MethodGet, "/api/v1/chaos", "", http.StatusOK)
	return st
}

// defaultTriggers are Mailpit's: 535, 451, 451 at 0 %.
var defaultTriggers = chaos.DefaultMailpitTriggers()

func triggersOf(st chaosReply) chaos.MailpitTriggers {
	return chaos.MailpitTriggers{Authentication: st.Authentication, Recipient: st.Recipient, Sender: st.Sender}
}

func TestChaosGetDefaults(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	st, res := chaosDo(t, s, http.MethodGet, "/api/v1/chaos", "", http.StatusOK)
	if got := triggersOf(st); got != defaultTriggers {
		t.Errorf("triggers = %+v, want Mailpit's defaults %+v", got, defaultTriggers)
	}
	if st.Active || st.Enabled || st.Magic || st.Jim != nil || st.Seed == 0 {
		t.Errorf("state = %+v, want everything off with a seed", st)
	}
	// Slices are [] and Jim is null, never left out.
	for _, frag := range []string{`"Rules":[]`, `"Jim":null`, `"Events":[]`, `"Codes":{}`, `"Actions":{}`,
		`"Authentication":{"ErrorCode":535,"Probability":0}`} {
		if !bytes.Contains(res.body, []byte(frag)) {
			t.Errorf("reply lacks %s: %s", frag, res.body)
		}
	}
	if seed := getChaos(t, s).Seed; seed != st.Seed {
		t.Errorf("seed moved from %d to %d by reading", st.Seed, seed)
	}
}

// wantRcpt550 is what both forms of the same rule give.
func wantRcpt550(t *testing.T, st chaosReply) {
	t.Helper()
	if !st.Enabled || !st.Active || len(st.Rules) != 1 {
		t.Fatalf("state = %+v, want one enabled rule", st)
	}
	r := st.Rules[0]
	if r.Name != "rule 1" || r.Stage != "rcpt" || r.Match.To != "*@x.test" || r.Code != 550 || r.Enhanced != "5.1.1" || r.Text != "No" {
		t.Errorf("rule = %+v", r)
	}
}

func TestChaosPut(t *testing.T) {
	t.Parallel()
	const (
		ruleObject  = `{"Stage":"rcpt","Match":{"To":"*@x.test"},"Code":550,"Enhanced":"5.1.1","Text":"No"}`
		ruleCompact = `"rcpt:to=*@x.test:550 5.1.1 No"`
	)
	tests := []struct {
		name  string
		setup []string // bodies PUT first, each wanting 200
		body  string
		check func(t *testing.T, before, after chaosReply)
	}{
		{"rule as object", nil, `{"Rules":[` + ruleObject + `]}`, func(t *testing.T, _, st chaosReply) {
			wantRcpt550(t, st)
		}},
		{"rule in compact form", nil, `{"Rules":[` + ruleCompact + `]}`, func(t *testing.T, _, st chaosReply) {
			wantRcpt550(t, st)
		}},
		{"both forms in one list", nil, `{"Rules":[` + ruleObject + `,"mail:p=25%:451 4.3.0 Later",{"Stage":"*","Delay":250,"Jitter":"100ms"}]}`,
			func(t *testing.T, _, st chaosReply) {
				if len(st.Rules) != 3 {
					t.Fatalf("rules = %+v", st.Rules)
				}
				if r := st.Rules[1]; r.Name != "rule 2" || r.Stage != "mail" || r.Probability == nil || *r.Probability != 0.25 || r.Code != 451 {
					t.Errorf("compact rule = %+v", r)
				}
				if r := st.Rules[2]; time.Duration(r.Delay) != 250*time.Millisecond || time.Duration(r.Jitter) != 100*time.Millisecond {
					t.Errorf("delay rule = %+v", r)
				}
			}},
		{"keys in any case", nil, `{"rules":[` + ruleCompact + `],"sender":{"errorcode":452,"probability":5}}`,
			func(t *testing.T, _, st chaosReply) {
				wantRcpt550(t, st)
				if st.Sender != (chaos.MailpitTrigger{ErrorCode: 452, Probability: 5}) {
					t.Errorf("Sender = %+v", st.Sender)
				}
			}},
		{"rules with Enabled false stay off", nil, `{"Enabled":false,"Rules":[` + ruleCompact + `]}`,
			func(t *testing.T, _, st chaosReply) {
				if st.Enabled || st.Active || len(st.Rules) != 1 {
					t.Errorf("state = %+v, want the rule kept but off", st)
				}
			}},
		{"Enabled alone keeps the rules", []string{`{"Rules":[` + ruleCompact + `]}`}, `{"Enabled":false}`,
			func(t *testing.T, before, st chaosReply) {
				if st.Enabled || st.Active || len(st.Rules) != 1 || st.Seed != before.Seed {
					t.Errorf("state = %+v, want the rule kept, off, same seed", st)
				}
			}},
		{"seed kept when omitted", []string{`{"Seed":42}`}, `{"Rules":[` + ruleCompact + `]}`,
			func(t *testing.T, _, st chaosReply) {
				if st.Seed != 42 {
					t.Errorf("Seed = %d, want 42 kept", st.Seed)
				}
			}},
		{"seed changed when given", []string{`{"Seed":42}`}, `{"Seed":7}`, func(t *testing.T, _, st chaosReply) {
			if st.Seed != 7 {
				t.Errorf("Seed = %d, want 7", st.Seed)
			}
		}},
		{"seed 0 draws a new one", []string{`{"Seed":42}`}, `{"Seed":0}`, func(t *testing.T, _, st chaosReply) {
			if st.Seed == 42 || st.Seed == 0 {
				t.Errorf("Seed = %d, want a fresh random seed", st.Seed)
			}
		}},
		{"magic alone leaves the triggers", []string{`{"Sender":{"Probability":5}}`}, `{"Magic":true}`,
			func(t *testing.T, _, st chaosReply) {
				if !st.Magic || !st.Active || st.Sender.Probability != 5 {
					t.Errorf("state = %+v, want magic on and Sender at 5 %%", st)
				}
			}},
		{"Mailpit trigger", nil, `{"Sender":{"ErrorCode":452,"Probability":50}}`, func(t *testing.T, _, st chaosReply) {
			want := defaultTriggers
			want.Sender = chaos.MailpitTrigger{ErrorCode: 452, Probability: 50}
			if got := triggersOf(st); got != want || !st.Active || st.Enabled {
				t.Errorf("state = %+v, want triggers %+v, active, rules off", st, want)
			}
		}},
		{"Mailpit resets omitted triggers", []string{`{"Recipient":{"ErrorCode":550,"Probability":10},"Authentication":{"ErrorCode":454,"Probability":1}}`},
			`{"Sender":{"Probability":20}}`, func(t *testing.T, _, st chaosReply) {
				want := defaultTriggers
				want.Sender.Probability = 20 // ErrorCode absent: the default 451
				if got := triggersOf(st); got != want {
					t.Errorf("triggers = %+v, want %+v", got, want)
				}
			}},
		{"Mailpit ErrorCode 0 is the default", nil, `{"Authentication":{"ErrorCode":0,"Probability":100}}`,
			func(t *testing.T, _, st chaosReply) {
				if st.Authentication != (chaos.MailpitTrigger{ErrorCode: 535, Probability: 100}) {
					t.Errorf("Authentication = %+v", st.Authentication)
				}
			}},
		{"{} resets the triggers, not the rules", []string{`{"Rules":[` + ruleCompact + `],"Sender":{"Probability":30}}`}, `{}`,
			func(t *testing.T, before, st chaosReply) {
				if got := triggersOf(st); got != defaultTriggers {
					t.Errorf("triggers = %+v, want defaults", got)
				}
				wantRcpt550(t, st)
				if st.Seed != before.Seed {
					t.Errorf("Seed = %d, want %d", st.Seed, before.Seed)
				}
			}},
		{"empty body is {}", []string{`{"Recipient":{"Probability":30}}`}, ``, func(t *testing.T, _, st chaosReply) {
			if got := triggersOf(st); got != defaultTriggers {
				t.Errorf("triggers = %+v, want defaults", got)
			}
		}},
		{"ours and Mailpit's in one body", nil, `{"Sender":{"ErrorCode":421,"Probability":100},"Rules":[` + ruleObject + `],"Magic":true}`,
			func(t *testing.T, _, st chaosReply) {
				wantRcpt550(t, st)
				if st.Sender != (chaos.MailpitTrigger{ErrorCode: 421, Probability: 100}) || !st.Magic {
					t.Errorf("state = %+v", st)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			for _, b := range tt.setup {
				chaosDo(t, s, http.MethodPut, "/api/v1/chaos", b, http.StatusOK)
			}
			before := getChaos(t, s)
			st, _ := chaosDo(t, s, http.MethodPut, "/api/v1/chaos", tt.body, http.StatusOK)
			tt.check(t, before, st)
			if again := getChaos(t, s); !equalJSON(t, again, st) {
				t.Errorf("GET after PUT = %+v, want the PUT's reply %+v", again, st)
			}
		})
	}
}

func TestChaosPutRefused(t *testing.T) {
	t.Parallel()
	// Each case starts from rules and triggers in force, which must survive.
	const setup = `{"Seed":42,"Rules":["rcpt:to=*@x.test:550 5.1.1 No"],"Recipient":{"Probability":10}}`
	tests := []struct {
		name, body string
		want       string // in the error text
	}{
		{"unknown stage", `{"Rules":[{"Stage":"nope","Code":550}]}`, `unknown stage "nope"`},
		{"rule without action", `{"Rules":[{"Stage":"rcpt"}]}`, "no action"},
		{"bad compact rule", `{"Rules":["rcpt:to=*@x.test:999 nope"]}`, "Rules[0]"},
		{"second rule bad", `{"Rules":["mail:451",{"Stage":"rcpt","Code":200}]}`, `rule "rule 2": Code 200`},
		{"unknown rule key", `{"Rules":[{"Stage":"rcpt","Code":550,"Cod":1}]}`, `unknown field "Cod"`},
		{"unknown key", `{"Rulez":[]}`, `unknown field "Rulez"`},
		{"unknown trigger key", `{"Sender":{"Chance":5}}`, `unknown field "Chance"`},
		{"trigger code out of range", `{"Sender":{"ErrorCode":250,"Probability":5}}`, "Sender.ErrorCode 250"},
		{"trigger probability out of range", `{"Sender":{"Probability":101}}`, "Sender.Probability"},
		{"bad rule with good triggers", `{"Sender":{"Probability":100},"Rules":[{"Stage":"x","Code":550}]}`, `unknown stage "x"`},
		{"good rule with bad triggers", `{"Sender":{"ErrorCode":600},"Rules":["mail:451"]}`, "Sender.ErrorCode 600"},
		{"malformed", `{"Rules":`, "body"},
		{"not an object", `["rcpt:550"]`, "body"},
		{"bad duration", `{"Rules":[{"Stage":"rcpt","Delay":"soon"}]}`, `duration "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			chaosDo(t, s, http.MethodPut, "/api/v1/chaos", setup, http.StatusOK)
			before := getChaos(t, s)
			msg := wantError(t, s.do(t, http.MethodPut, "/api/v1/chaos", strings.NewReader(tt.body)), http.StatusBadRequest)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("Error = %q, want it to mention %q", msg, tt.want)
			}
			if after := getChaos(t, s); !equalJSON(t, after, before) {
				t.Errorf("a refused PUT changed the state:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

// equalJSON compares two values by their JSON encoding.
func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

// rcptPoint is a RCPT TO:<rcpt> from 192.0.2.1.
func rcptPoint(rcpt string) *smtpd.ChaosPoint {
	return &smtpd.ChaosPoint{Stage: smtpd.StageRcpt, Remote: netip.MustParseAddr("192.0.2.1"), From: "app@example.test", Rcpt: rcpt}
}

func TestChaosDelete(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	chaosDo(t, s, http.MethodPut, "/api/v1/chaos",
		`{"Seed":42,"Magic":true,"Rules":["rcpt:to=*@x.test:550 5.1.1 No"],"Sender":{"Probability":10}}`, http.StatusOK)
	chaosDo(t, s, http.MethodPost, "/api/v2/jim", "", http.StatusCreated)
	for range 3 {
		if act := s.chaos.Decide(rcptPoint("bob@x.test")); act.Reply == nil || act.Reply.Code != 550 {
			t.Fatalf("Decide = %+v, want the rule's 550", act)
		}
	}

	// Counters: zeroed, the configuration stays.
	before := getChaos(t, s)
	if before.Stats.Codes["550"] != 3 || len(before.Stats.Events) != 3 {
		t.Fatalf("stats = %+v, want three 550s", before.Stats)
	}
	st, _ := chaosDo(t, s, http.MethodDelete, "/api/v1/chaos/counters", "", http.StatusOK)
	if len(st.Stats.Codes) != 0 || len(st.Stats.Actions) != 0 || len(st.Stats.Events) != 0 {
		t.Errorf("stats after DELETE counters = %+v, want empty", st.Stats)
	}
	for _, r := range st.Stats.Rules {
		if r.Matched != 0 || r.Fired != 0 {
			t.Errorf("rule %q counts %d/%d after DELETE counters", r.Name, r.Matched, r.Fired)
		}
	}
	if !st.Active || !st.Enabled || !st.Magic || len(st.Rules) != 1 || st.Jim == nil || st.Sender.Probability != 10 {
		t.Errorf("DELETE counters changed the configuration: %+v", st)
	}

	// Everything: off, the seed stays.
	st, _ = chaosDo(t, s, http.MethodDelete, "/api/v1/chaos", "", http.StatusOK)
	if st.Active || st.Enabled || st.Magic || len(st.Rules) != 0 || st.Jim != nil || triggersOf(st) != defaultTriggers ||
		len(st.Stats.Rules) != 0 || st.Seed != 42 {
		t.Errorf("after DELETE: %+v, want everything off, seed 42", st)
	}
	if act := s.chaos.Decide(rcptPoint("bob@x.test")); act.Reply != nil || act.Disconnect {
		t.Errorf("Decide after DELETE = %+v, want nothing", act)
	}
	chaosDo(t, s, http.MethodGet, "/api/v2/jim", "", http.StatusNotFound)
}

// jimFields are MailHog's names for Jim's settings, all of them.
type jimReply struct {
	DisconnectChance, AcceptChance, LinkSpeedAffect, LinkSpeedMin, LinkSpeedMax float64
	RejectSenderChance, RejectRecipientChance, RejectAuthChance                 float64
}

// wantEmptyReply checks a MailHog-style reply: status, no body.
func wantEmptyReply(tb testing.TB, res response, status int) {
	tb.Helper()
	if res.status != status || len(res.body) != 0 {
		tb.Fatalf("reply = %d %q, want %d with an empty body", res.status, res.body, status)
	}
	if ct := res.header.Get("Content-Type"); ct != "text/json" {
		tb.Errorf("Content-Type = %q, want MailHog's text/json", ct)
	}
}

func getJim(tb testing.TB, s *testServer) jimReply {
	tb.Helper()
	var j jimReply
	s.getJSON(tb, "/api/v2/jim", &j)
	return j
}

func TestJim(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	jim := func(method, body string) response {
		t.Helper()
		if body == "" {
			return s.do(t, method, "/api/v2/jim", nil)
		}
		return s.do(t, method, "/api/v2/jim", strings.NewReader(body))
	}
	steps := []struct {
		name, method, body string
		status             int
		want               *jimReply // GET's reply afterwards; nil: Jim is off
	}{
		{"off at first", "GET", "", 404, nil},
		{"PUT while off", "PUT", `{"AcceptChance":1}`, 404, nil},
		{"DELETE while off", "DELETE", "", 404, nil},
		{"invite", "POST", "", 201, &jimReply{0.005, 0.99, 0.1, 1024, 10240, 0.05, 0.05, 0.05}},
		{"invite again", "POST", "", 400, &jimReply{0.005, 0.99, 0.1, 1024, 10240, 0.05, 0.05, 0.05}},
		// MailHog's quirk: omitted fields are 0, so Jim now refuses every connection.
		{"PUT one field", "PUT", `{"RejectSenderChance":1}`, 200, &jimReply{RejectSenderChance: 1}},
		{"PUT ignores unknown keys", "PUT", `{"acceptchance":0.5,"Mood":"grumpy"}`, 200, &jimReply{AcceptChance: 0.5}},
		{"PUT malformed", "PUT", `{"AcceptChance":`, 400, &jimReply{AcceptChance: 0.5}},
		{"PUT empty", "PUT", ``, 400, &jimReply{AcceptChance: 0.5}},
		{"PUT out of range", "PUT", `{"AcceptChance":50}`, 400, &jimReply{AcceptChance: 0.5}},
		{"send away", "DELETE", "", 200, nil},
		{"send away again", "DELETE", "", 404, nil},
		{"invite with a body", "POST", `{"AcceptChance":1,"RejectRecipientChance":0.5}`, 201, &jimReply{AcceptChance: 1, RejectRecipientChance: 0.5}},
		{"away", "DELETE", "", 200, nil},
		{"invite with a malformed body", "POST", `nonsense`, 201, &jimReply{0.005, 0.99, 0.1, 1024, 10240, 0.05, 0.05, 0.05}},
		{"away once more", "DELETE", "", 200, nil},
		{"invite with values out of range", "POST", `{"AcceptChance":2}`, 400, nil},
	}
	for _, st := range steps {
		res := jim(st.method, st.body)
		if st.method == "GET" && st.status == 200 {
			continue // checked below
		}
		if res.status != st.status {
			t.Fatalf("%s: %s %s = %d, want %d", st.name, st.method, st.body, res.status, st.status)
		}
		wantEmptyReply(t, res, st.status)
		if st.want == nil {
			wantEmptyReply(t, jim("GET", ""), http.StatusNotFound)
			if getChaos(t, s).Jim != nil {
				t.Errorf("%s: /api/v1/chaos shows Jim while GET /api/v2/jim says he is off", st.name)
			}
			continue
		}
		if got := getJim(t, s); got != *st.want {
			t.Errorf("%s: GET /api/v2/jim = %+v, want %+v", st.name, got, *st.want)
		}
		if cs := getChaos(t, s); cs.Jim == nil || !cs.Active {
			t.Errorf("%s: /api/v1/chaos = %+v, want Jim on and Active", st.name, cs)
		}
	}
}

// TestJimRejects checks Jim's settings reach the engine: a RejectSenderChance
// of 1 fails MAIL, an AcceptChance of 0 (the omitted-field quirk) hangs up.
func TestJimRejects(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	wantEmptyReply(t, s.do(t, "POST", "/api/v2/jim", strings.NewReader(`{"AcceptChance":1,"RejectSenderChance":1}`)), http.StatusCreated)
	mail := &smtpd.ChaosPoint{Stage: smtpd.StageMail, Remote: netip.MustParseAddr("192.0.2.1"), From: "app@example.test"}
	if act := s.chaos.Decide(mail); act.Reply == nil || act.Reply.Code != 550 {
		t.Errorf("MAIL with RejectSenderChance 1: %+v, want 550", act)
	}
	wantEmptyReply(t, s.do(t, "PUT", "/api/v2/jim", strings.NewReader(`{"RejectSenderChance":0}`)), http.StatusOK)
	conn := &smtpd.ChaosPoint{Stage: smtpd.StageConnect, Remote: netip.MustParseAddr("192.0.2.1")}
	if act := s.chaos.Decide(conn); !act.Disconnect {
		t.Errorf("connect with AcceptChance omitted (0): %+v, want a disconnect", act)
	}
}

func TestChaosWithoutEngine(t *testing.T) {
	t.Parallel()
	s := startServer(t, failing{err: errors.New("unused")}, nil, nil)
	doc := fetchOpenAPI(t, s)
	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/api/v1/chaos", ""},
		{"PUT", "/api/v1/chaos", `{"Rules":["rcpt:550"]}`},
		{"DELETE", "/api/v1/chaos", ""},
		{"DELETE", "/api/v1/chaos/counters", ""},
	} {
		res := s.do(t, tt.method, tt.path, strings.NewReader(tt.body))
		if msg := wantError(t, res, http.StatusNotFound); msg != "chaos is not available" {
			t.Errorf("%s %s: Error = %q", tt.method, tt.path, msg)
		}
		r, ok := doc.response(tt.method, tt.path, res.status)
		if !ok {
			t.Errorf("%s %s: openapi.json does not declare 404", tt.method, tt.path)
			continue
		}
		checkReply(t, doc, tt.method+" "+tt.path, r, res)
	}
	for _, method := range []string{"GET", "POST", "PUT", "DELETE"} {
		res := s.do(t, method, "/api/v2/jim", strings.NewReader(`{}`))
		wantEmptyReply(t, res, http.StatusNotFound)
	}
	var cfg struct{ ChaosEnabled bool }
	if err := json.Unmarshal(s.get(t, "/api/v1/webui").body, &cfg); err != nil || cfg.ChaosEnabled {
		t.Errorf("webui ChaosEnabled = %v (%v), want false", cfg.ChaosEnabled, err)
	}
}

// TestChaosWebUIEnabled: like Mailpit's ChaosEnabled, the flag says the
// chaos API can be used (Mailpit answers 400 to chaos calls otherwise), so
// clients that check it first go on to set their triggers.
func TestChaosWebUIEnabled(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	var cfg struct{ ChaosEnabled bool }
	if err := json.Unmarshal(s.get(t, "/api/v1/webui").body, &cfg); err != nil {
		t.Fatal(err)
	}
	if !cfg.ChaosEnabled {
		t.Error("ChaosEnabled = false with a chaos engine, want true (the API is available)")
	}
}

func TestChaosEvents(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	doc := fetchOpenAPI(t, s)
	c := dialEvents(t, s)
	active := func(want bool) {
		t.Helper()
		ev := nextEvent(t, c, "chaos")
		var frame any
		if err := oaDecode(must(json.Marshal(ev)), &frame); err != nil {
			t.Fatal(err)
		}
		for _, p := range doc.shapeProblems(map[string]any{"$ref": "#/components/schemas/Event"}, frame, "frame") {
			t.Errorf("chaos event: %s", p)
		}
		var data struct{ Active bool }
		if err := json.Unmarshal(ev.Data, &data); err != nil || data.Active != want {
			t.Errorf("chaos event Data = %s (%v), want Active %v", ev.Data, err, want)
		}
	}
	chaosDo(t, s, http.MethodPut, "/api/v1/chaos", `{"Rules":["rcpt:550"]}`, http.StatusOK)
	active(true)
	chaosDo(t, s, http.MethodDelete, "/api/v1/chaos", "", http.StatusOK)
	active(false)
	wantEmptyReply(t, s.do(t, "POST", "/api/v2/jim", nil), http.StatusCreated)
	active(true)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestChaosReplyMatchesOpenAPI checks a reply with every part filled
// (rules of each kind, triggers, Jim, counters and events) against the
// documented schema.
func TestChaosReplyMatchesOpenAPI(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	doc := fetchOpenAPI(t, s)
	body := `{"Seed":9,"Magic":true,"Sender":{"Probability":1},"Rules":[
		{"Name":"bounce","Stage":"rcpt","Match":{"To":"*@x.test","From":"*","IP":"192.0.2.0/24","Helo":"*","Auth":"*","Inbox":"*"},"Code":550,"Enhanced":"5.1.1","Text":"No\nsuch user"},
		{"Stage":"message","Match":{"Header":{"Name":"X-Test","Value":"a*"},"MinSize":1,"MaxSize":100},"Disconnect":true},
		{"Stage":"data","Disconnect":true,"AfterBytes":10,"Every":2},
		{"Stage":"*","Delay":"1ms","Jitter":"1ms","Throttle":1000,"First":1},
		"rcpt:greylist=2s",
		"connect:rate=5/10s",
		{"Stage":"quit","Code":421,"Disabled":true}]}`
	chaosDo(t, s, http.MethodPut, "/api/v1/chaos", body, http.StatusOK)
	wantEmptyReply(t, s.do(t, "POST", "/api/v2/jim", nil), http.StatusCreated)
	s.chaos.Decide(rcptPoint("bob@x.test"))
	s.chaos.Decide(rcptPoint("ann+smtp451@y.test"))

	res := s.get(t, "/api/v1/chaos")
	var st chaosReply
	wantJSON(t, res, &st)
	if len(st.Rules) != 7 || st.Jim == nil || len(st.Stats.Events) == 0 || len(st.Stats.Codes) == 0 {
		t.Fatalf("state is not filled enough to check the schema: %s", res.body)
	}
	r, ok := doc.response("GET", "/api/v1/chaos", 200)
	if !ok {
		t.Fatal("openapi.json does not declare GET /api/v1/chaos 200")
	}
	checkReply(t, doc, "GET /api/v1/chaos", r, res)

	// What GET returns can be PUT back unchanged (counters aside).
	var back map[string]json.RawMessage
	if err := json.Unmarshal(res.body, &back); err != nil {
		t.Fatal(err)
	}
	delete(back, "Active")
	delete(back, "Jim")
	delete(back, "Stats")
	again, _ := chaosDo(t, s, http.MethodPut, "/api/v1/chaos", string(must(json.Marshal(back))), http.StatusOK)
	if !equalJSON(t, again.Rules, st.Rules) || again.Seed != st.Seed || triggersOf(again) != triggersOf(st) {
		t.Errorf("PUT of GET's reply changed the configuration:\nbefore %+v\nafter  %+v", st, again)
	}
}
