package chaos

import (
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"mailsink/smtpd"
)

func prob(p float64) *float64 { return &p }

// quiet is Options with the log discarded.
func quiet() Options {
	return Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestParseRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Rule
	}{
		// The examples of ParseRule's doc comment.
		{"rcpt:to=*@bounce.test:550 5.1.1 No such user",
			Rule{Stage: "rcpt", Match: Match{To: "*@bounce.test"}, Code: 550, Enhanced: "5.1.1", Text: "No such user"}},
		{"mail:p=0.3:451 4.3.0 Try again later",
			Rule{Stage: "mail", Probability: prob(0.3), Code: 451, Enhanced: "4.3.0", Text: "Try again later"}},
		{"rcpt:greylist=2s", Rule{Stage: "rcpt", Greylist: &Greylist{Retry: Duration(2 * time.Second)}}},
		{"connect:rate=5/10s", Rule{Stage: "connect", RateLimit: &RateLimit{Max: 5, Window: Duration(10 * time.Second)}}},
		{"data:disconnect=1000", Rule{Stage: "data", Disconnect: true, AfterBytes: 1000}},
		{"*:delay=200ms~100ms", Rule{Stage: "*", Delay: Duration(200 * time.Millisecond), Jitter: Duration(100 * time.Millisecond)}},

		// Matches.
		{"connect:ip=[::1]:421", Rule{Stage: "connect", Match: Match{IP: "::1"}, Code: 421}},
		{"connect:ip=[2001:db8::/32]:554 5.7.1 Go away",
			Rule{Stage: "connect", Match: Match{IP: "2001:db8::/32"}, Code: 554, Enhanced: "5.7.1", Text: "Go away"}},
		{"connect:ip=[2001:db8::]/32:554", Rule{Stage: "connect", Match: Match{IP: "2001:db8::/32"}, Code: 554}},
		{"connect:ip=10.0.0.0/8:554", Rule{Stage: "connect", Match: Match{IP: "10.0.0.0/8"}, Code: 554}},
		{"message:header=X-Chaos=fail*:550", Rule{Stage: "message", Match: Match{Header: &HeaderMatch{Name: "X-Chaos", Value: "fail*"}}, Code: 550}},
		{"message:header=X-Chaos:550", Rule{Stage: "message", Match: Match{Header: &HeaderMatch{Name: "X-Chaos"}}, Code: 550}},
		{"message:size=1000-2000:552", Rule{Stage: "message", Match: Match{MinSize: 1000, MaxSize: 2000}, Code: 552}},
		{"message:size=1000-:552", Rule{Stage: "message", Match: Match{MinSize: 1000}, Code: 552}},
		{"message:size=-2000:552", Rule{Stage: "message", Match: Match{MaxSize: 2000}, Code: 552}},
		{"helo,mail:from=*@x.test,helo=bad*,name=spam:451",
			Rule{Name: "spam", Stage: "helo,mail", Match: Match{From: "*@x.test", Helo: "bad*"}, Code: 451}},
		{"auth:auth=bob*:535 5.7.8 No", Rule{Stage: "auth", Match: Match{Auth: "bob*"}, Code: 535, Enhanced: "5.7.8", Text: "No"}},
		{"rcpt:inbox=ci-*:451", Rule{Stage: "rcpt", Match: Match{Inbox: "ci-*"}, Code: 451}},

		// When.
		{"mail:p=25%:451", Rule{Stage: "mail", Probability: prob(0.25), Code: 451}},
		{"mail:probability=1:451", Rule{Stage: "mail", Probability: prob(1), Code: 451}},
		{"mail:every=3:451", Rule{Stage: "mail", Every: 3, Code: 451}},
		{"rcpt:first=2:450", Rule{Stage: "rcpt", First: 2, Code: 450}},
		{"rcpt:greylist=2s:450 4.2.0 Later", Rule{Stage: "rcpt", Greylist: &Greylist{Retry: Duration(2 * time.Second)}, Code: 450, Enhanced: "4.2.0", Text: "Later"}},

		// Actions.
		{"rcpt:to=a@b.test:550 5.1.1 Text: with, colons", Rule{Stage: "rcpt", Match: Match{To: "a@b.test"}, Code: 550, Enhanced: "5.1.1", Text: "Text: with, colons"}},
		{"rcpt:550 No: such user", Rule{Stage: "rcpt", Code: 550, Text: "No: such user"}},
		{`rcpt:550 5.1.1 line one\nline two`, Rule{Stage: "rcpt", Code: 550, Enhanced: "5.1.1", Text: "line one\nline two"}},
		{"mail:delay=100ms throttle=500 451 4.3.0 slow",
			Rule{Stage: "mail", Delay: Duration(100 * time.Millisecond), Throttle: 500, Code: 451, Enhanced: "4.3.0", Text: "slow"}},
		{"quit:disconnect", Rule{Stage: "quit", Disconnect: true}},
		{"  rcpt : 451  ", Rule{Stage: "rcpt", Code: 451}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRule(tt.in)
			if err != nil {
				t.Fatalf("ParseRule(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseRule(%q) =\n%s\nwant\n%s", tt.in, dump(got), dump(tt.want))
			}
		})
	}
}

func dump(r Rule) string {
	b, _ := json.Marshal(r)
	return string(b)
}

func TestParseRuleErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		wantErr string // a fragment of the error
	}{
		{"", "empty rule"},
		{"rcpt", "want STAGE:[TERMS:]ACTION"},
		{"rcpt:to=*@x.test", "no action"},
		{"rcpt:to=*@x.test:", "no action"},
		{"bogus:550", `unknown stage "bogus"`},
		{"rcpt,bogus:550", `unknown stage "bogus"`},
		{"rcpt:p=abc:451", `"p=abc"`},
		{"rcpt:p=150%:451", "Probability 1.5"},
		{"rcpt:every=x:451", `"every=x"`},
		// In a Rule, 0 means "unset" (fire every time); written out it is a mistake.
		{"rcpt:every=0:451", `"every=0": want a count of at least 1`},
		{"rcpt:first=0:451", `"first=0": want a count of at least 1`},
		{"rcpt:first=-1:451", `"first=-1": want a count of at least 1`},
		{"rcpt:rate=5:451", "MAX/WINDOW"},
		{"rcpt:rate=5/xs:451", `"rate=5/xs"`},
		{"rcpt:greylist=soon", `"greylist=soon"`},
		{"message:size=abc:552", "MIN-MAX"},
		{"message:size=a-b:552", `"size=a-b"`},
		{"message:size=2000-1000:552", "size range 2000–1000 is empty"},
		{"connect:ip=::1:421", `"ip=" has no value`},
		{"connect:ip=[nonsense]:421", `IP "nonsense" is not an address or CIDR`},
		{"connect:ip=:421", `"ip=" has no value`},
		{"data:disconnect=-5", `disconnect="-5"`},
		{"data:disconnect=x", `disconnect="x"`},
		{"rcpt:throttle=0", `throttle "0"`},
		{"rcpt:delay=xyz", `delay "xyz"`},
		{"rcpt:delay=1s~abc", `jitter "abc"`},
		{"rcpt:delay=11m", "Delay and Jitter must be between 0 and 10m0s"},
		{"rcpt:2000", "want delay=, throttle=, disconnect or a reply code"},
		{"rcpt:foo=bar:550", "want delay=, throttle=, disconnect or a reply code"},
		{"rcpt:250 Ok", "Code 250: want 400–599"},
		{"rcpt:600", "Code 600: want 400–599"},
		{"rcpt:550 4.1.1 wrong class", `Enhanced "4.1.1"`},
		{"mail:greylist=1s", `greylisting works at Stage "rcpt"`},
		{"rcpt,mail:greylist=1s", `greylisting works at Stage "rcpt"`},
		{"rcpt:header=X-A:550", `header and size matches need Stage "message"`},
		{"rcpt:size=1-:550", `header and size matches need Stage "message"`},
		{"rcpt:p=0.5,every=2:451", "at most one of"},
		{"data:disconnect 550", "Disconnect and Code exclude each other"},
		{"rcpt:to=:550", `"to=" has no value`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRule(tt.in)
			if err == nil {
				t.Fatalf("ParseRule(%q) = %s, want an error with %q", tt.in, dump(r), tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRule(%q) error = %q, want it to mention %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

// TestCompile covers the validation of rules as the JSON API and
// --chaos FILE give them, and the defaults compile fills in.
func TestCompile(t *testing.T) {
	t.Parallel()
	bad := []struct {
		name    string
		r       Rule
		wantErr string
	}{
		{"no stage", Rule{Code: 451}, `unknown stage ""`},
		{"no action", Rule{Stage: "rcpt"}, "no action"},
		{"enhanced without code", Rule{Stage: "rcpt", Enhanced: "4.3.0", Delay: Duration(time.Second)}, "Enhanced needs a Code"},
		{"enhanced malformed", Rule{Stage: "rcpt", Code: 451, Enhanced: "4.3"}, `Enhanced "4.3"`},
		{"enhanced not numeric", Rule{Stage: "rcpt", Code: 451, Enhanced: "4.x.0"}, `Enhanced "4.x.0"`},
		{"text without code", Rule{Stage: "rcpt", Text: "hi", Disconnect: true}, "Text needs a Code"},
		{"after bytes without disconnect", Rule{Stage: "data", AfterBytes: 10, Code: 451}, "AfterBytes needs Disconnect"},
		{"negative after bytes", Rule{Stage: "data", AfterBytes: -1, Disconnect: true}, "AfterBytes needs Disconnect"},
		{"negative delay", Rule{Stage: "rcpt", Delay: Duration(-time.Second)}, "Delay and Jitter"},
		{"delay plus jitter too long", Rule{Stage: "rcpt", Delay: Duration(9 * time.Minute), Jitter: Duration(2 * time.Minute)}, "Delay and Jitter"},
		{"negative throttle", Rule{Stage: "rcpt", Throttle: -1}, "Throttle must be positive"},
		{"probability above 1", Rule{Stage: "rcpt", Code: 451, Probability: prob(1.01)}, "Probability 1.01"},
		{"negative probability", Rule{Stage: "rcpt", Code: 451, Probability: prob(-0.1)}, "Probability -0.1"},
		{"negative every", Rule{Stage: "rcpt", Code: 451, Every: -2}, "Every must be at least 1"},
		{"negative first", Rule{Stage: "rcpt", Code: 451, First: -2}, "First must be at least 1"},
		{"greylist negative retry", Rule{Stage: "rcpt", Greylist: &Greylist{Retry: Duration(-1)}}, "Retry must not be negative"},
		{"rate limit without window", Rule{Stage: "mail", RateLimit: &RateLimit{Max: 1}}, "positive Window"},
		{"rate limit negative max", Rule{Stage: "mail", RateLimit: &RateLimit{Max: -1, Window: Duration(time.Second)}}, "Max ≥ 0"},
		{"two whens", Rule{Stage: "rcpt", Code: 451, First: 1, RateLimit: &RateLimit{Max: 1, Window: Duration(time.Second)}}, "at most one of"},
		{"header without name", Rule{Stage: "message", Code: 550, Match: Match{Header: &HeaderMatch{Name: " "}}}, "header match needs a Name"},
		{"size at two stages", Rule{Stage: "message,data", Code: 550, Match: Match{MinSize: 1}}, `need Stage "message"`},
		{"negative size", Rule{Stage: "message", Code: 550, Match: Match{MinSize: -1}}, "size range"},
		{"bad ip", Rule{Stage: "connect", Code: 554, Match: Match{IP: "300.1.1.1"}}, `IP "300.1.1.1"`},
		{"bad cidr", Rule{Stage: "connect", Code: 554, Match: Match{IP: "10.0.0.0/33"}}, `IP "10.0.0.0/33"`},
	}
	for i, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compile(tt.r, i)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("compile(%+v) = %v, want an error with %q", tt.r, err, tt.wantErr)
			}
			// Errors name the rule: its Name or its position.
			if err != nil && !strings.Contains(err.Error(), `rule "rule `) {
				t.Errorf("error %q does not name the rule", err)
			}
		})
	}

	good := []struct {
		name      string
		r         Rule
		wantName  string
		wantReply *smtpd.Error // nil: no reply
		wantStage []smtpd.Stage
	}{
		{"name defaults to position", Rule{Stage: "rcpt", Code: 550}, "rule 3",
			&smtpd.Error{Code: 550, Enhanced: "5.1.1", Message: "Mailbox unavailable"}, []smtpd.Stage{smtpd.StageRcpt}},
		{"greylist default reply", Rule{Name: "g", Stage: "rcpt", Greylist: &Greylist{}}, "g",
			&smtpd.Error{Code: 451, Enhanced: "4.7.1", Message: "Greylisted, please try again later"}, []smtpd.Stage{smtpd.StageRcpt}},
		{"rate limit at connect closes", Rule{Name: "r", Stage: "connect", RateLimit: &RateLimit{Max: 1, Window: Duration(time.Second)}}, "r",
			&smtpd.Error{Code: 421, Enhanced: "4.7.0", Message: "Too many connections, slow down"}, []smtpd.Stage{smtpd.StageConnect}},
		{"rate limit at mail", Rule{Name: "r", Stage: "mail", RateLimit: &RateLimit{Max: 1, Window: Duration(time.Second)}}, "r",
			&smtpd.Error{Code: 451, Enhanced: "4.7.1", Message: "Rate limit exceeded, try again later"}, []smtpd.Stage{smtpd.StageMail}},
		{"unusual code", Rule{Name: "u", Stage: " MAIL , Rcpt ", Code: 459}, "u",
			&smtpd.Error{Code: 459, Enhanced: "4.0.0", Message: "Temporary failure (chaos)"}, []smtpd.Stage{smtpd.StageMail, smtpd.StageRcpt}},
		{"delay only", Rule{Name: "d", Stage: "*", Delay: Duration(time.Second)}, "d", nil, smtpd.Stages},
		{"multi-line text kept", Rule{Name: "m", Stage: "quit", Code: 421, Enhanced: "4.3.2", Text: "a\nb"}, "m",
			&smtpd.Error{Code: 421, Enhanced: "4.3.2", Message: "a\nb"}, []smtpd.Stage{smtpd.StageQuit}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			c, err := compile(tt.r, 2)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if c.Name != tt.wantName {
				t.Errorf("Name = %q, want %q", c.Name, tt.wantName)
			}
			if !reflect.DeepEqual(c.reply, tt.wantReply) {
				t.Errorf("reply = %+v, want %+v", c.reply, tt.wantReply)
			}
			if len(c.stages) != len(tt.wantStage) {
				t.Errorf("stages = %v, want %v", c.stages, tt.wantStage)
			}
			for _, s := range tt.wantStage {
				if !c.stages[s] {
					t.Errorf("stages = %v, want %v", c.stages, tt.wantStage)
				}
			}
		})
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything@x.test", true},
		{"*@bounce.test", "user@bounce.test", true},
		{"*@bounce.test", "USER@Bounce.TEST", true},
		{"*@bounce.test", "user@bounce.test.evil", false},
		{"*@bounce.test", "user@notbounce.test", false},
		{"user?@x.test", "user1@x.test", true},
		{"user?@x.test", "user@x.test", false},
		{"user?@x.test", "user12@x.test", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXXbYYbZc", true},
		{"a*b*c", "aXXbYYcZ", false},
		{"*.bad.test", "mx.bad.test", true},
		{"*.bad.test", "bad.test", false},
		{"**a", "ba", true},
		{"é*", "Éric", true},
		{"ci-?", "ci-é", true}, // ? is one character, not one byte
		// A literal * or ? in the subject must not stop a pattern * from
		// matching across it.
		{"*a", "*ba", true},
		{"*b", "*?b", true},
		{"?", "*", true},
		{"a", "*", false},
	}
	for _, tt := range tests {
		if got := glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // "" for an error
	}{
		{"127.0.0.1", "127.0.0.1/32"},
		{"127.0.0.0/8", "127.0.0.0/8"},
		{"127.1.2.3/8", "127.0.0.0/8"}, // masked
		{"::1", "::1/128"},
		{"[::1]", "::1/128"},
		{"::ffff:10.1.2.3", "10.1.2.3/32"}, // unmapped: sessions see plain IPv4
		{"2001:db8::/32", "2001:db8::/32"},
		{"[2001:db8::/32]", "2001:db8::/32"},
		{"[2001:db8::]/32", "2001:db8::/32"}, // Postfix's notation
		{" 10.0.0.0/8 ", "10.0.0.0/8"},
		{"10.0.0.0/33", ""},
		{"example.test", ""},
		{"", ""},
	}
	for _, tt := range tests {
		p, err := parsePrefix(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("parsePrefix(%q) = %v, want an error", tt.in, p)
		case tt.want != "" && (err != nil || p.String() != tt.want):
			t.Errorf("parsePrefix(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	reads := []struct {
		in   string
		want time.Duration
	}{
		{`"1.5s"`, 1500 * time.Millisecond},
		{`"250ms"`, 250 * time.Millisecond},
		{`"2m"`, 2 * time.Minute},
		{`"0s"`, 0},
		{`1500`, 1500 * time.Millisecond},
		{`0.5`, 500 * time.Microsecond},
		{`0`, 0},
	}
	for _, tt := range reads {
		var d Duration
		if err := json.Unmarshal([]byte(tt.in), &d); err != nil {
			t.Errorf("Unmarshal(%s): %v", tt.in, err)
			continue
		}
		if time.Duration(d) != tt.want {
			t.Errorf("Unmarshal(%s) = %v, want %v", tt.in, time.Duration(d), tt.want)
		}
		// Round trip: the written form reads back as the same value.
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Errorf("round trip of %v: %s → %v, %v", tt.want, b, time.Duration(back), err)
		}
	}
	for _, in := range []string{`"soon"`, `"5"`, `true`, `{}`} {
		var d Duration
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("Unmarshal(%s) = %v, want an error", in, time.Duration(d))
		}
	}
	if b, _ := json.Marshal(Duration(1500 * time.Millisecond)); string(b) != `"1.5s"` {
		t.Errorf("Marshal(1.5s) = %s, want \"1.5s\"", b)
	}

	// A whole rule: durations read as milliseconds are written as strings
	// and zero durations are left out.
	var r Rule
	in := `{"Stage":"rcpt","Delay":250,"Greylist":{"Retry":"2s"}}`
	if err := json.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	want := Rule{Stage: "rcpt", Delay: Duration(250 * time.Millisecond), Greylist: &Greylist{Retry: Duration(2 * time.Second)}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("Unmarshal(%s) = %s", in, dump(r))
	}
	if got, wantJSON := dump(r), `{"Stage":"rcpt","Delay":"250ms","Greylist":{"Retry":"2s"}}`; got != wantJSON {
		t.Errorf("Marshal = %s, want %s", got, wantJSON)
	}
}

func TestMagicAction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rcpt string
		want string // "" no action; "reply CODE ENH", "delay D", "disconnect"
	}{
		{"user+smtp451@x.test", "reply 451 4.3.0"},
		{"smtp-550@x.test", "reply 550 5.1.1"},
		{"smtp550@x.test", "reply 550 5.1.1"},
		{"USER+SMTP421@X.TEST", "reply 421 4.7.0"},
		{"a+b+smtp552@x.test", "reply 552 5.2.2"},
		{"user+smtp-499@x.test", "reply 499 4.0.0"},
		{"user+delay5s@x.test", "delay 5s"},
		{"user+delay200ms@x.test", "delay 200ms"},
		{"user+delay2m@x.test", "delay 2m0s"},
		{"user+delay3@x.test", "delay 3s"}, // seconds without a unit
		{"user+disconnect@x.test", "disconnect"},
		{"disconnect@x.test", "disconnect"},
		{"user+smtp399@x.test", ""},
		{"user+smtp600@x.test", ""},
		{"user+smtp4510@x.test", ""},
		{"user+smtp45@x.test", ""},
		{"user+smtp+451@x.test", ""},
		{"smtpuser@x.test", ""},
		{"user+delay@x.test", ""},
		{"user+delayed@x.test", ""},
		{"user+delay11m@x.test", ""}, // beyond maxDelay
		{"user+delay-1s@x.test", ""},
		{"user+disconnected@x.test", ""},
		{"user@smtp451.test", ""}, // the domain does not count
		{"user@x.test", ""},
		{"", ""},
	}
	for _, tt := range tests {
		r, ok := magicAction(&smtpd.ChaosPoint{Stage: smtpd.StageRcpt, Rcpt: tt.rcpt})
		got := ""
		switch {
		case !ok:
		case r.disconnect:
			got = "disconnect"
		case r.reply != nil:
			got = "reply " + itoa(r.reply.Code) + " " + r.reply.Enhanced
			if !strings.HasSuffix(r.reply.Message, "(magic address)") {
				t.Errorf("%s: text %q does not say it is a magic address", tt.rcpt, r.reply.Message)
			}
		case r.delay > 0:
			got = "delay " + r.delay.String()
		default:
			got = "fired with no action"
		}
		if got != tt.want {
			t.Errorf("magicAction(%q) = %q, want %q", tt.rcpt, got, tt.want)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestSetConfigKeepsCallersRules: SetConfig fills in default names in
// its own copy; the caller's slice (e.g. a decoded API body the caller
// still holds) is left alone.
func TestSetConfigKeepsCallersRules(t *testing.T) {
	t.Parallel()
	rules := []Rule{{Stage: "rcpt", Code: 550}}
	e, err := New(Config{Enabled: true, Seed: 1, Rules: rules}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if rules[0].Name != "" {
		t.Errorf("caller's rule renamed to %q", rules[0].Name)
	}
	if got := e.Config().Rules[0].Name; got != "rule 1" {
		t.Errorf("Config().Rules[0].Name = %q, want \"rule 1\"", got)
	}
	// A failing SetConfig changes nothing.
	if err := e.SetConfig(Config{Enabled: true, Rules: []Rule{{Stage: "nowhere", Code: 550}}}); err == nil {
		t.Fatal("SetConfig with a bad rule succeeded")
	}
	if c := e.Config(); len(c.Rules) != 1 || c.Seed != 1 {
		t.Errorf("after a failed SetConfig: %+v", c)
	}
}

// TestDecideUnit checks evaluation order and the composition of
// actions at the engine level (the SMTP-level tests are in smtpd).
func TestDecideUnit(t *testing.T) {
	t.Parallel()
	e, err := New(Config{Enabled: true, Seed: 1, Rules: []Rule{
		{Name: "slow", Stage: "rcpt", Delay: Duration(10 * time.Millisecond), Throttle: 100},
		{Name: "off", Stage: "rcpt", Disabled: true, Code: 421},
		{Name: "bounce", Stage: "rcpt", Match: Match{To: "*@bounce.test"}, Code: 550},
		{Name: "also slow", Stage: "rcpt", Delay: Duration(5 * time.Millisecond)},
		{Name: "never reached", Stage: "rcpt", Match: Match{To: "*@bounce.test"}, Code: 451},
	}}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	act := e.Decide(&smtpd.ChaosPoint{Stage: smtpd.StageRcpt, Rcpt: "a@bounce.test"})
	if act.Delay != 10*time.Millisecond || act.Throttle != 100 || act.Reply == nil || act.Reply.Code != 550 || len(act.Notes) != 2 {
		t.Errorf("bounce: %+v", act)
	}
	act = e.Decide(&smtpd.ChaosPoint{Stage: smtpd.StageRcpt, Rcpt: "a@ok.test"})
	if act.Delay != 15*time.Millisecond || act.Reply != nil || len(act.Notes) != 2 {
		t.Errorf("ok: %+v", act)
	}
	if act = e.Decide(&smtpd.ChaosPoint{Stage: smtpd.StageMail}); !reflect.DeepEqual(act, smtpd.ChaosAction{}) {
		t.Errorf("other stage: %+v", act)
	}
	want := map[string][2]uint64{"slow": {2, 2}, "bounce": {1, 1}, "also slow": {1, 1}, "never reached": {0, 0}}
	st := e.Stats()
	for _, r := range st.Rules {
		if w, ok := want[r.Name]; ok && (r.Matched != w[0] || r.Fired != w[1]) {
			t.Errorf("%s: matched %d fired %d, want %v", r.Name, r.Matched, r.Fired, w)
		}
	}
	if st.Codes["550"] != 1 || st.Actions["delay"] != 3 || st.Actions["throttle"] != 2 || st.Actions["reply"] != 1 {
		t.Errorf("Codes %v Actions %v", st.Codes, st.Actions)
	}

	// Disabled as a whole: nothing fires and nothing is counted.
	cfg := e.Config()
	cfg.Enabled = false
	if err := e.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if e.Active() {
		t.Error("Active with Enabled false")
	}
	if act := e.Decide(&smtpd.ChaosPoint{Stage: smtpd.StageRcpt, Rcpt: "a@bounce.test"}); act.Reply != nil || act.Delay != 0 {
		t.Errorf("disabled: %+v", act)
	}
}

// TestJitter: delays vary within ± Jitter, and repeat with the seed.
func TestJitter(t *testing.T) {
	t.Parallel()
	cfg := Config{Enabled: true, Seed: 7, Rules: []Rule{{Stage: "mail", Delay: Duration(100 * time.Millisecond), Jitter: Duration(50 * time.Millisecond)}}}
	run := func() []time.Duration {
		e, err := New(cfg, quiet())
		if err != nil {
			t.Fatal(err)
		}
		var ds []time.Duration
		for range 50 {
			ds = append(ds, e.Decide(&smtpd.ChaosPoint{Stage: smtpd.StageMail}).Delay)
		}
		return ds
	}
	a, b := run(), run()
	if !reflect.DeepEqual(a, b) {
		t.Errorf("same seed, different delays:\n%v\n%v", a, b)
	}
	lo, hi := a[0], a[0]
	for _, d := range a {
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 50*time.Millisecond || hi > 150*time.Millisecond || hi-lo < 20*time.Millisecond {
		t.Errorf("delays range %v–%v, want spread within 50ms–150ms", lo, hi)
	}
}

// TestStatsSurviveUnrelatedChanges: toggling a rule keeps its counters
// (the UI's switches must not wipe what happened); changing it, or the
// rules, does not touch Mailpit's or Jim's; First restarts on every
// SetConfig so the same rules repeat the same decisions.
func TestStatsSurviveUnrelatedChanges(t *testing.T) {
	t.Parallel()
	e, err := New(Config{Enabled: true, Seed: 1, Rules: []Rule{
		{Name: "once", Stage: "rcpt", Code: 550, First: 1},
		{Name: "other", Stage: "mail", Code: 451},
	}}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetMailpitTriggers(MailpitTriggers{Authentication: MailpitTrigger{ErrorCode: 535}, Recipient: MailpitTrigger{ErrorCode: 451},
		Sender: MailpitTrigger{ErrorCode: 452, Probability: 100}}); err != nil {
		t.Fatal(err)
	}
	rcpt := &smtpd.ChaosPoint{Stage: smtpd.StageRcpt, Rcpt: "a@x.test"}
	for range 2 {
		e.Decide(rcpt)
	}
	e.Decide(&smtpd.ChaosPoint{Stage: smtpd.StageMail}) // "other" replies first: Mailpit's sender rule is not reached
	cfg := e.Config()
	cfg.Rules[1].Code = 452 // "other" changes
	cfg.Rules[1].Disabled = true
	if err := e.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	e.Decide(&smtpd.ChaosPoint{Stage: smtpd.StageMail}) // now Mailpit's sender rule fires
	stats := func() map[string][2]uint64 {
		m := map[string][2]uint64{}
		for _, r := range e.Stats().Rules {
			m[r.Name] = [2]uint64{r.Matched, r.Fired}
		}
		return m
	}
	if got := stats(); got["once"] != [2]uint64{2, 1} || got["other"] != [2]uint64{0, 0} || got["mailpit sender"] != [2]uint64{1, 1} {
		t.Errorf("stats after changing another rule = %v", got)
	}
	// First restarts with every SetConfig: the same definition fires once
	// more, then goes quiet again.
	if act := e.Decide(rcpt); act.Reply == nil || act.Reply.Code != 550 {
		t.Errorf("after SetConfig the First 1 rule did not fire: %+v", act)
	}
	if act := e.Decide(rcpt); act.Reply != nil {
		t.Errorf("First 1 fired twice after one SetConfig")
	}
	if got := stats(); got["once"] != [2]uint64{4, 2} || got["mailpit sender"] != [2]uint64{1, 1} {
		t.Errorf("stats after setting the same rules again = %v", got)
	}
}
