package smtpd_test

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/smtp"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailsink/smtpd"
	"mailsink/smtpd/chaos"
)

// These tests run the real chaos.Engine as Config.Chaos of a real
// server and talk SMTP to it over TCP.

// chaosEnv is a server with a chaos engine.
type chaosEnv struct {
	eng  *chaos.Engine
	be   *recorder
	addr string
	cert tls.Certificate // when the server offers STARTTLS
}

type chaosOpts struct {
	opts chaos.Options
	tls  bool
	auth smtpd.AuthMode
}

func newChaosServer(t *testing.T, cfg chaos.Config, o chaosOpts) *chaosEnv {
	t.Helper()
	o.opts.Log = discardLogger()
	eng, err := chaos.New(cfg, o.opts)
	if err != nil {
		t.Fatalf("chaos.New: %v", err)
	}
	env := &chaosEnv{eng: eng, be: &recorder{}}
	sc := testConfig()
	sc.Chaos = eng
	sc.Auth = o.auth
	if o.tls {
		env.cert = testCert(t)
		sc.TLS = &tls.Config{Certificates: []tls.Certificate{env.cert}}
	}
	_, env.addr = newTestServer(t, sc, env.be)
	return env
}

// rules is an enabled chaos configuration with a fixed seed.
func rules(rs ...chaos.Rule) chaos.Config {
	return chaos.Config{Enabled: true, Seed: 1, Rules: rs}
}

// fakeClock is chaos.Options.Now for greylisting and rate windows.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// dialNoGreeting connects without reading the greeting, for scripts
// that check it (or its absence) themselves.
func dialNoGreeting(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{nc: nc, tp: textproto.NewConn(nc)}
}

// sess is a raw client that reads whole replies and counts the octets
// it writes and reads (plaintext, CRLF included) for throttle bounds.
type sess struct {
	nc        net.Conn
	tp        *textproto.Conn
	sent, got int64
	last      int64 // octets of the last line read
}

func dialSess(t *testing.T, addr string) *sess {
	c := dialNoGreeting(t, addr)
	return &sess{nc: c.nc, tp: c.tp}
}

func (s *sess) write(t *testing.T, str string) {
	t.Helper()
	s.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	n, err := io.WriteString(s.nc, str)
	s.sent += int64(n)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
}

// reply reads one whole reply. An error means the connection ended
// before a reply started; one ending mid-reply, or a timeout, is fatal.
func (s *sess) reply(t *testing.T) ([]string, error) {
	t.Helper()
	var lines []string
	for {
		s.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		l, err := s.tp.ReadLine()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || len(lines) > 0 {
				t.Fatalf("read reply after %q: %v", lines, err)
			}
			return nil, err
		}
		s.got += int64(len(l)) + 2
		s.last = int64(len(l)) + 2
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return lines, nil
		}
	}
}

// cmd sends line and returns the reply, failing on a closed connection.
func (s *sess) cmd(t *testing.T, line string) []string {
	t.Helper()
	s.write(t, line+"\r\n")
	r, err := s.reply(t)
	if err != nil {
		t.Fatalf("%s: connection closed: %v", line, err)
	}
	return r
}

// expect sends line and checks the reply's lines against want (see matchReply).
func (s *sess) expect(t *testing.T, line string, want ...string) {
	t.Helper()
	got := s.cmd(t, line)
	if len(got) != len(want) {
		t.Fatalf("%s: reply %q, want %q", line, got, want)
	}
	for i := range got {
		if !matchReply(got[i], want[i]) {
			t.Fatalf("%s: reply %q, want %q", line, got, want)
		}
	}
}

// expectClosed checks the server hung up without another reply.
func (s *sess) expectClosed(t *testing.T) {
	t.Helper()
	if r, err := s.reply(t); err == nil {
		t.Fatalf("got %q, want the connection closed", r)
	}
}

func hasCode(lines []string, code string) bool {
	if len(lines) == 0 {
		return false
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, code) {
			return false
		}
	}
	return true
}

// chaosNotes returns the transcript's chaos lines.
func chaosNotes(tr []smtpd.TranscriptLine) []string {
	var out []string
	for _, l := range tr {
		if l.Dir == "*" && strings.HasPrefix(l.Text, "chaos: ") {
			out = append(out, l.Text)
		}
	}
	return out
}

func ruleStats(t *testing.T, st chaos.Stats, name string) chaos.RuleStats {
	t.Helper()
	for _, r := range st.Rules {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no stats for rule %q in %+v", name, st.Rules)
	return chaos.RuleStats{}
}

// chaosContent is a message of about 1000 octets.
var chaosContent = "Subject: chaos\r\n\r\n" +
	strings.Repeat("The quick brown fox jumps over the lazy dog, again and again and again.\r\n", 13)

// flowStep is one exchange of the session the stage tests run.
type flowStep struct {
	stages []smtpd.Stage // the chaos stages this step passes
	send   string        // what the client writes ("" for the greeting)
	code   string        // the normal reply's code
	retry  int           // after a chaos refusal the session goes on from this step
	after  func(t *testing.T, s *sess)
}

type stageCase struct {
	name            string
	stage           smtpd.Stage
	tls, auth, bdat bool
	// rate is the throttle used at this stage: slow enough that what
	// follows the stage takes measurable time.
	rate int64
}

// stageFlow is a whole session: greeting, EHLO, [STARTTLS], [AUTH],
// MAIL, RCPT, DATA or BDAT, QUIT.
func stageFlow(sc stageCase, env *chaosEnv) []flowStep {
	steps := []flowStep{
		{stages: []smtpd.Stage{smtpd.StageConnect}, code: "220"},
		{stages: []smtpd.Stage{smtpd.StageHelo}, send: "EHLO client.test\r\n", code: "250", retry: 1},
	}
	if sc.tls {
		steps = append(steps, flowStep{stages: []smtpd.Stage{smtpd.StageStartTLS}, send: "STARTTLS\r\n", code: "220", retry: len(steps),
			after: func(t *testing.T, s *sess) {
				tc := tls.Client(s.nc, tlsClientConfig(env.cert))
				tc.SetDeadline(time.Now().Add(10 * time.Second))
				if err := tc.Handshake(); err != nil {
					t.Fatalf("TLS handshake: %v", err)
				}
				s.nc, s.tp = tc, textproto.NewConn(tc)
				if r := s.cmd(t, "EHLO client.test"); !hasCode(r, "250") {
					t.Fatalf("EHLO after STARTTLS: %q", r)
				}
			}})
	}
	if sc.auth {
		steps = append(steps, flowStep{stages: []smtpd.Stage{smtpd.StageAuth}, send: "AUTH PLAIN " + b64("\x00user\x00pass") + "\r\n", code: "235", retry: len(steps)})
	}
	mail := len(steps)
	steps = append(steps,
		flowStep{stages: []smtpd.Stage{smtpd.StageMail}, send: "MAIL FROM:<from@x.test>\r\n", code: "250", retry: mail},
		flowStep{stages: []smtpd.Stage{smtpd.StageRcpt}, send: "RCPT TO:<to@y.test>\r\n", code: "250", retry: mail + 1})
	if sc.bdat {
		steps = append(steps, flowStep{stages: []smtpd.Stage{smtpd.StageData, smtpd.StageMessage},
			send: "BDAT " + strconv.Itoa(len(chaosContent)) + " LAST\r\n" + chaosContent, code: "250", retry: mail})
	} else {
		steps = append(steps,
			flowStep{stages: []smtpd.Stage{smtpd.StageData}, send: "DATA\r\n", code: "354", retry: mail},
			flowStep{stages: []smtpd.Stage{smtpd.StageMessage}, send: chaosContent + ".\r\n", code: "250", retry: mail})
	}
	return append(steps, flowStep{stages: []smtpd.Stage{smtpd.StageQuit}, send: "QUIT\r\n", code: "221", retry: -1})
}

// TestChaosStages runs every action at every stage: a whole session in
// which one rule (First: 1, so a retry succeeds) fires at the stage.
func TestChaosStages(t *testing.T) {
	t.Parallel()
	stages := []stageCase{
		{name: "connect", stage: smtpd.StageConnect, rate: 2000},
		{name: "helo", stage: smtpd.StageHelo, rate: 2000},
		{name: "starttls", stage: smtpd.StageStartTLS, tls: true, rate: 2000},
		{name: "auth", stage: smtpd.StageAuth, auth: true, rate: 2000},
		{name: "mail", stage: smtpd.StageMail, rate: 2000},
		{name: "rcpt", stage: smtpd.StageRcpt, rate: 2000},
		{name: "data DATA", stage: smtpd.StageData, rate: 2000},
		// BDAT sends the chunk with the command, so little traffic
		// follows the stage: a slower throttle makes it measurable.
		{name: "data BDAT", stage: smtpd.StageData, bdat: true, rate: 200},
		{name: "message DATA", stage: smtpd.StageMessage, rate: 200},
		{name: "message BDAT", stage: smtpd.StageMessage, bdat: true, rate: 200},
		{name: "quit", stage: smtpd.StageQuit, rate: 40},
	}
	const delay = 100 * time.Millisecond
	actions := []struct {
		name     string
		rule     chaos.Rule
		reply    []string // the chaos reply; nil: the normal one, or none with closes
		closes   bool     // the connection ends at the stage
		delay    bool
		throttle bool
		note     string // what the transcript line and the event say was done
	}{
		{name: "451", rule: chaos.Rule{Code: 451, Enhanced: "4.7.1", Text: "Try again later"},
			reply: []string{"451 4.7.1 Try again later"}, note: "reply 451 4.7.1 Try again later"},
		{name: "550 multi-line", rule: chaos.Rule{Code: 550, Enhanced: "5.7.1", Text: "a\nb"},
			reply: []string{"550-5.7.1 a", "550 5.7.1 b"}, note: "reply 550 5.7.1 a / b"},
		{name: "421", rule: chaos.Rule{Code: 421, Enhanced: "4.3.2", Text: "Going away"},
			reply: []string{"421 4.3.2 Going away"}, closes: true, note: "reply 421 4.3.2 Going away"},
		{name: "disconnect", rule: chaos.Rule{Disconnect: true}, closes: true, note: "disconnect"},
		{name: "delay", rule: chaos.Rule{Delay: chaos.Duration(delay)}, delay: true, note: "delay 100ms"},
		{name: "throttle", throttle: true}, // note and rate depend on the stage
	}
	for _, sc := range stages {
		for _, ac := range actions {
			t.Run(sc.name+"/"+ac.name, func(t *testing.T) {
				t.Parallel()
				rule, note := ac.rule, ac.note
				rule.Name, rule.Stage, rule.First = "chaos", string(sc.stage), 1
				if ac.throttle {
					rule.Throttle = sc.rate
					note = fmt.Sprintf("throttle %d B/s", sc.rate)
				}
				env := newChaosServer(t, rules(rule), chaosOpts{tls: sc.tls})
				dialed := time.Now() // the connect stage starts when the server accepts: after this
				s := dialSess(t, env.addr)
				steps := stageFlow(sc, env)

				fired := false
				var t0 time.Time
				var sent0, got0 int64
				i := 0
			session:
				for i < len(steps) {
					step := steps[i]
					trigger := !fired && slices.Contains(step.stages, sc.stage)
					start := time.Now()
					if i == 0 {
						start = dialed
					}
					if step.send != "" {
						s.write(t, step.send)
					}
					if trigger {
						fired, t0, sent0, got0 = true, start, s.sent, s.got
					}
					lines, err := s.reply(t)
					switch {
					case !trigger || ac.delay || ac.throttle: // the normal reply
						if err != nil || !hasCode(lines, step.code) {
							t.Fatalf("step %d (%v): reply %q, %v; want %s", i, step.stages, lines, err, step.code)
						}
						if trigger && ac.delay {
							if d := time.Since(start); d < delay {
								t.Errorf("reply after %v, want ≥ %v", d, delay)
							}
						}
						if step.after != nil {
							step.after(t, s)
						}
						i++
					case ac.reply == nil: // disconnect
						if err == nil {
							t.Fatalf("got %q, want the connection closed without a reply", lines)
						}
						break session
					default:
						if err != nil || !slices.Equal(lines, ac.reply) {
							t.Fatalf("reply %q, %v; want %q", lines, err, ac.reply)
						}
						switch {
						case ac.closes || sc.stage == smtpd.StageQuit:
							s.expectClosed(t)
							break session
						case sc.stage == smtpd.StageConnect:
							// RFC 5321 3.1: after a refused greeting only QUIT is served.
							s.expect(t, "EHLO client.test", "503 5.5.1")
							s.expect(t, "MAIL FROM:<from@x.test>", "503 5.5.1")
							s.expect(t, "QUIT", "221 2.0.0")
							s.expectClosed(t)
							break session
						}
						i = step.retry
					}
				}
				if i == len(steps) {
					s.expectClosed(t) // after 221
				}
				if ac.throttle {
					// Every octet through the paced connection after the
					// throttle costs 1/rate, and the server hangs up only
					// after the wait that follows its last write.
					octets := s.sent - sent0 + s.got - got0
					want := time.Duration(octets) * time.Second / time.Duration(sc.rate)
					if got := time.Since(t0); got < want*9/10 {
						t.Errorf("%d octets at %d B/s took %v, want ≥ %v", octets, sc.rate, got, want)
					}
				}

				wantStored, wantAborted := 1, 0
				switch {
				case ac.closes && sc.stage != smtpd.StageQuit:
					wantStored = 0
				case ac.reply != nil && sc.stage == smtpd.StageConnect:
					wantStored = 0
				}
				if sc.stage == smtpd.StageMessage && (ac.reply != nil || ac.closes) {
					wantAborted = 1 // refused after the content arrived: delivery aborted, nothing stored
				}
				msgs := env.be.messages()
				if len(msgs) != wantStored || len(env.be.abortedMessages()) != wantAborted {
					t.Fatalf("stored %d, aborted %d; want %d, %d", len(msgs), len(env.be.abortedMessages()), wantStored, wantAborted)
				}

				prefix := `chaos: rule "chaos" at ` + string(sc.stage) + ": " + note
				// The stored message's transcript tells what chaos did,
				// unless the session went on past it (QUIT) or it belonged
				// to the refused transaction (message stage).
				if wantStored == 1 && sc.stage != smtpd.StageQuit && !(sc.stage == smtpd.StageMessage && ac.reply != nil) {
					notes := chaosNotes(msgs[0].env.Transcript)
					if len(notes) != 1 || !strings.HasPrefix(notes[0], prefix) {
						t.Errorf("transcript chaos lines = %q, want one starting %q", notes, prefix)
					}
				}

				st := env.eng.Stats()
				if rs := ruleStats(t, st, "chaos"); rs.Fired != 1 {
					t.Errorf("Fired = %d, want 1", rs.Fired)
				}
				if len(st.Events) != 1 || st.Events[0].Rule != "chaos" || st.Events[0].Stage != string(sc.stage) ||
					st.Events[0].Remote != "127.0.0.1" || st.Events[0].Action != note {
					t.Errorf("Events = %+v, want one at %s doing %q", st.Events, sc.stage, note)
				}
				wantCodes := map[string]uint64{}
				if ac.reply != nil {
					wantCodes[ac.reply[0][:3]] = 1
				}
				if !maps.Equal(st.Codes, wantCodes) {
					t.Errorf("Codes = %v, want %v", st.Codes, wantCodes)
				}
			})
		}
	}
}

// TestChaosDisconnectAfterBytes: disconnect=N at the data stage reads N
// octets of content, then hangs up without a reply; nothing is stored.
func TestChaosDisconnectAfterBytes(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 998) + "\r\n"
	tests := []struct {
		name   string
		chunks []string // DATA content (one) or BDAT chunks
		bdat   bool
		want   string // the content Deliver saw before the cut
	}{
		{"DATA", []string{long}, false, long[:100]},
		{"DATA shorter than N", []string{"short\r\n"}, false, "short\r\n"},
		{"DATA dot-stuffing counts content octets", []string{strings.Repeat("..\r\n", 40)}, false, strings.Repeat(".\r\n", 33) + "."},
		{"BDAT LAST", []string{long}, true, long[:100]},
		{"BDAT chunks", []string{long[:60], long[:60]}, true, long[:100]},
		{"BDAT shorter than N", []string{"abc", "def"}, true, "abcdef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newChaosServer(t, rules(chaos.Rule{Stage: "data", Disconnect: true, AfterBytes: 100}), chaosOpts{})
			var script strings.Builder
			script.WriteString("S: 220 ...\nC: EHLO client.test\nS: 250 *\nC: MAIL FROM:<a@x.test>\nS: 250 2.1.0\nC: RCPT TO:<b@y.test>\nS: 250 2.1.5\n")
			if tt.bdat {
				sent := 0
				for i, ch := range tt.chunks {
					last := i == len(tt.chunks)-1
					fmt.Fprintf(&script, "C: BDAT %d%s\nR: %s\n", len(ch), map[bool]string{true: " LAST"}[last], strconv.Quote(ch))
					sent += len(ch)
					if sent < 100 && !last {
						fmt.Fprintf(&script, "S: 250 2.0.0 %d octets received\n", len(ch))
					}
				}
			} else {
				fmt.Fprintf(&script, "C: DATA\nS: 354 ...\nR: %s\nC: .\n", strconv.Quote(tt.chunks[0]))
			}
			script.WriteString("S: EOF\n")
			runTranscript(t, dialNoGreeting(t, env.addr), script.String())

			if n := len(env.be.messages()); n != 0 {
				t.Errorf("stored %d messages, want 0", n)
			}
			partial := env.be.abortedMessages()
			if len(partial) != 1 {
				t.Fatalf("aborted %d, want 1", len(partial))
			}
			if got := string(body(t, partial[0])); got != tt.want {
				t.Errorf("Deliver read %q, want %q", got, tt.want)
			}
			ev := env.eng.Stats().Events
			if len(ev) != 1 || ev[0].Action != "disconnect after 100 octets" {
				t.Errorf("Events = %+v", ev)
			}
		})
	}
}

// TestChaosMatch: each Match field decides whether a rule fires.
func TestChaosMatch(t *testing.T) {
	t.Parallel()
	// inbox routes like the store might: the AUTH user, else the +tag of
	// the first recipient.
	inbox := func(user string, _ textproto.MIMEHeader, rcpts []string) string {
		if user != "" {
			return user
		}
		for _, r := range rcpts {
			local, _, _ := strings.Cut(r, "@")
			if _, tag, ok := strings.Cut(local, "+"); ok {
				return tag
			}
		}
		return ""
	}
	const envelope = `
S: 220 ...
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 250 2.1.5
C: DATA
S: 354 ...`
	tests := []struct {
		name     string
		rule     chaos.Rule
		script   string
		wantMsgs int
	}{
		{"from glob", chaos.Rule{Stage: "mail", Match: chaos.Match{From: "*@spam.test"}, Code: 550, Enhanced: "5.7.1", Text: "No spam"}, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@spam.test>
S: 550 5.7.1 No spam
C: MAIL FROM:<A@SPAM.Test>
S: 550 5.7.1 No spam
C: MAIL FROM:<a@spam.test.example>
S: 250 2.1.0`, 0},
		{"to glob", chaos.Rule{Stage: "rcpt", Match: chaos.Match{To: "*@bounce.test"}, Code: 550, Enhanced: "5.1.1", Text: "No such user"}, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@bounce.test>
S: 550 5.1.1 No such user
C: RCPT TO:<b@ok.test>
S: 250 2.1.5
C: DATA
S: 354 ...
C: Subject: x
C:
C: .
S: 250 2.0.0`, 1},
		{"to matches any recipient after rcpt", chaos.Rule{Stage: "data", Match: chaos.Match{To: "*@bounce.test"}, Code: 554}, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@ok.test>
S: 250 2.1.5
C: RCPT TO:<c@bounce.test>
S: 250 2.1.5
C: DATA
S: 554 5.7.1 Transaction failed`, 0},
		{"ip in 127.0.0.0/8", chaos.Rule{Stage: "connect", Match: chaos.Match{IP: "127.0.0.0/8"}, Code: 554, Enhanced: "5.7.1", Text: "Not from loopback"}, `
S: 554 5.7.1 Not from loopback
C: EHLO client.test
S: 503 5.5.1
C: QUIT
S: 221 2.0.0
S: EOF`, 0},
		{"ip 127.0.0.1 exactly", chaos.Rule{Stage: "connect", Match: chaos.Match{IP: "127.0.0.1"}, Code: 421}, `
S: 421 4.7.0
S: EOF`, 0},
		{"ip outside 10.0.0.0/8", chaos.Rule{Stage: "connect", Match: chaos.Match{IP: "10.0.0.0/8"}, Code: 554}, `
S: 220 mx.test ESMTP mailsink
C: QUIT
S: 221 2.0.0`, 0},
		{"ip ::1 does not match IPv4", chaos.Rule{Stage: "connect", Match: chaos.Match{IP: "::1"}, Code: 554}, `
S: 220 mx.test ESMTP mailsink`, 0},
		{"helo glob", chaos.Rule{Stage: "helo", Match: chaos.Match{Helo: "*.bad.test"}, Code: 550, Enhanced: "5.7.1", Text: "Bad HELO"}, `
S: 220 ...
C: EHLO mx.bad.test
S: 550 5.7.1 Bad HELO
C: HELO mx.BAD.test
S: 550 5.7.1 Bad HELO
C: MAIL FROM:<a@x.test>
S: 503 5.5.1
C: EHLO good.test
S: 250 *`, 0},
		{"helo matched at later stages", chaos.Rule{Stage: "mail", Match: chaos.Match{Helo: "bad*"}, Code: 451}, `
S: 220 ...
C: EHLO bad.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 451 4.3.0
C: EHLO good.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0`, 0},
		{"auth user", chaos.Rule{Stage: "auth", Match: chaos.Match{Auth: "bad*"}, Code: 535, Enhanced: "5.7.8", Text: "No"}, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: AUTH PLAIN ` + b64("\x00baduser\x00pw") + `
S: 535 5.7.8 No
C: AUTH PLAIN ` + b64("\x00good\x00pw") + `
S: 235 2.7.0`, 0},
		{"header at message", chaos.Rule{Stage: "message", Match: chaos.Match{Header: &chaos.HeaderMatch{Name: "x-chaos", Value: "fail*"}}, Code: 550, Enhanced: "5.7.1", Text: "Header says fail"}, envelope + `
C: Subject: one
C: X-Chaos:   failure please
C:
C: X-Chaos: fail (in the body, not a header)
C: .
S: 550 5.7.1 Header says fail
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: DATA
S: 250 2.1.0
S: 250 2.1.5
S: 354 ...
C: Subject: two
C: X-Chaos: fine
C:
C: X-Chaos: fail (in the body, not a header)
C: .
S: 250 2.0.0`, 1},
		{"header presence", chaos.Rule{Stage: "message", Match: chaos.Match{Header: &chaos.HeaderMatch{Name: "X-Reject"}}, Code: 554}, envelope + `
C: X-Reject:
C:
C: body
C: .
S: 554 5.7.1
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: DATA
S: 250 2.1.0
S: 250 2.1.5
S: 354 ...
C: X-Other: 1
C:
C: X-Reject: in the body
C: .
S: 250 2.0.0`, 1},
		{"size at message", chaos.Rule{Stage: "message", Match: chaos.Match{MinSize: 200, MaxSize: 400}, Code: 552}, envelope + `
R: "` + strings.Repeat("a", 298) + `\r\n"
C: .
S: 552 5.2.2
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: DATA
S: 250 2.1.0
S: 250 2.1.5
S: 354 ...
R: "` + strings.Repeat("a", 198) + `\r\n"
C: .
S: 552 5.2.2
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: DATA
S: 250 2.1.0
S: 250 2.1.5
S: 354 ...
R: "` + strings.Repeat("a", 197) + `\r\n"
C: .
S: 250 2.0.0
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: DATA
S: 250 2.1.0
S: 250 2.1.5
S: 354 ...
R: "` + strings.Repeat("a", 399) + `\r\n"
C: .
S: 250 2.0.0`, 2},
		{"inbox of the recipient", chaos.Rule{Stage: "rcpt", Match: chaos.Match{Inbox: "ci-1"}, Code: 451, Enhanced: "4.3.0", Text: "Inbox ci-1 is failing"}, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<dev+ci-1@x.test>
S: 451 4.3.0 Inbox ci-1 is failing
C: RCPT TO:<dev+ci-2@x.test>
S: 250 2.1.5
C: RCPT TO:<dev+ci-1@x.test>
S: 250 2.1.5`, 0},
		{"inbox of the auth user", chaos.Rule{Stage: "message", Match: chaos.Match{Inbox: "ci-*"}, Code: 554}, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: AUTH PLAIN ` + b64("\x00ci-7\x00pw") + `
S: 235 2.7.0
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 250 2.1.5
C: DATA
S: 354 ...
C: .
S: 554 5.7.1`, 0},
		{"all fields must hold", chaos.Rule{Stage: "rcpt", Match: chaos.Match{From: "a@*", To: "b@*", IP: "127.0.0.0/8", Helo: "client.test"}, Code: 450}, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<c@y.test>
S: 250 2.1.5
C: RCPT TO:<b@y.test>
S: 450 4.2.1
C: RSET
S: 250 2.0.0
C: MAIL FROM:<z@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 250 2.1.5`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newChaosServer(t, rules(tt.rule), chaosOpts{opts: chaos.Options{Inbox: inbox}})
			runTranscript(t, dialNoGreeting(t, env.addr), tt.script)
			if got := len(env.be.messages()); got != tt.wantMsgs {
				t.Errorf("stored %d, want %d", got, tt.wantMsgs)
			}
		})
	}
}

// TestChaosRuntimeChange: SetConfig takes effect at the next command
// of a session that is already open.
func TestChaosRuntimeChange(t *testing.T) {
	t.Parallel()
	env := newChaosServer(t, chaos.Config{}, chaosOpts{})
	c := dialNoGreeting(t, env.addr)
	runTranscript(t, c, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 250 2.1.5`)
	if err := env.eng.SetConfig(rules(chaos.Rule{Stage: "rcpt,data", Code: 550, Enhanced: "5.1.1", Text: "Gone now"})); err != nil {
		t.Fatal(err)
	}
	runTranscript(t, c, `
C: RCPT TO:<c@y.test>
S: 550 5.1.1 Gone now
C: DATA
S: 550 5.1.1 Gone now`)
	if err := env.eng.SetConfig(chaos.Config{Enabled: false, Rules: env.eng.Config().Rules}); err != nil {
		t.Fatal(err)
	}
	runTranscript(t, c, `
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<c@y.test>
S: 250 2.1.5
C: DATA
S: 354 ...
C: .
S: 250 2.0.0`)
	msgs := env.be.messages()
	if len(msgs) != 1 {
		t.Fatalf("stored %d, want 1", len(msgs))
	}
	notes := chaosNotes(msgs[0].env.Transcript)
	if len(notes) != 2 || !strings.HasPrefix(notes[0], `chaos: rule "rule 1" at rcpt: reply 550 5.1.1 Gone now`) ||
		!strings.HasPrefix(notes[1], `chaos: rule "rule 1" at data: reply 550`) {
		t.Errorf("transcript chaos lines = %q", notes)
	}
}

// TestChaosGreylistSendMail: Go's SMTP client against a greylisting
// rule: refused with 451 4.7.1, refused again on an immediate retry,
// accepted once the Retry time has passed.
func TestChaosGreylistSendMail(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	const retry = 5 * time.Minute
	env := newChaosServer(t, rules(chaos.Rule{Stage: "rcpt", Greylist: &chaos.Greylist{Retry: chaos.Duration(retry)}}),
		chaosOpts{opts: chaos.Options{Now: clock.Now}})
	msg := []byte("Subject: greylist\r\n\r\nhello\r\n")
	send := func(from string) error { return smtp.SendMail(env.addr, nil, from, []string{"b@y.test"}, msg) }
	greylisted := func(step string, err error) {
		t.Helper()
		var te *textproto.Error
		if !errors.As(err, &te) || te.Code != 451 || !strings.HasPrefix(te.Msg, "4.7.1 Greylisted") {
			t.Fatalf("%s: SendMail = %v, want 451 4.7.1 Greylisted", step, err)
		}
	}
	greylisted("first attempt", send("a@x.test"))
	greylisted("immediate retry", send("a@x.test"))
	clock.advance(retry - time.Second)
	greylisted("retry too early", send("a@x.test"))
	clock.advance(time.Second)
	if err := send("a@x.test"); err != nil {
		t.Fatalf("retry after %v: %v", retry, err)
	}
	if err := send("a@x.test"); err != nil {
		t.Fatalf("later message of a passed triplet: %v", err)
	}
	greylisted("another sender", send("other@x.test"))
	if n := len(env.be.messages()); n != 2 {
		t.Errorf("stored %d, want 2", n)
	}
	rs := ruleStats(t, env.eng.Stats(), "rule 1")
	if rs.Matched != 6 || rs.Fired != 4 {
		t.Errorf("Matched, Fired = %d, %d; want 6, 4", rs.Matched, rs.Fired)
	}
}

// TestChaosGreylistRaw: the same with a raw client in one session; the
// triplet is per recipient, and a plain RCPT retry works.
func TestChaosGreylistRaw(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	env := newChaosServer(t, rules(chaos.Rule{Stage: "rcpt", Greylist: &chaos.Greylist{Retry: chaos.Duration(time.Minute)}}),
		chaosOpts{opts: chaos.Options{Now: clock.Now}})
	c := dialNoGreeting(t, env.addr)
	runTranscript(t, c, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 451 4.7.1 Greylisted, please try again later
C: RCPT TO:<b@y.test>
S: 451 4.7.1 Greylisted`)
	clock.advance(time.Minute)
	runTranscript(t, c, `
C: RCPT TO:<B@Y.TEST>
S: 250 2.1.5
C: RCPT TO:<c@y.test>
S: 451 4.7.1 Greylisted
C: DATA
S: 354 ...
C: Subject: greylisted once
C:
C: .
S: 250 2.0.0
C: QUIT
S: 221 2.0.0`)
	msgs := env.be.messages()
	if len(msgs) != 1 || len(msgs[0].env.Rcpts) != 1 || msgs[0].env.Rcpts[0].Address != "B@Y.TEST" {
		t.Fatalf("stored %+v, want one message to B@Y.TEST", msgs)
	}
	if notes := chaosNotes(msgs[0].env.Transcript); len(notes) != 3 {
		t.Errorf("transcript chaos lines = %q, want 3 greylistings", notes)
	}
}

// TestChaosRateLimit: at most Max per Window per client IP; refused
// attempts do not count.
func TestChaosRateLimit(t *testing.T) {
	t.Parallel()
	const window = 300 * time.Millisecond
	rl := &chaos.RateLimit{Max: 2, Window: chaos.Duration(window)}

	t.Run("mail", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		env := newChaosServer(t, rules(chaos.Rule{Stage: "mail", RateLimit: rl}), chaosOpts{opts: chaos.Options{Now: clock.Now}})
		c := dialNoGreeting(t, env.addr)
		runTranscript(t, c, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RSET
S: 250 2.0.0
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RSET
S: 250 2.0.0
C: MAIL FROM:<a@x.test>
S: 451 4.7.1 Rate limit exceeded, try again later`)
		clock.advance(window - time.Millisecond)
		runTranscript(t, c, `
C: MAIL FROM:<a@x.test>
S: 451 4.7.1 Rate limit exceeded`)
		clock.advance(time.Millisecond)
		runTranscript(t, c, `
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RSET
S: 250 2.0.0
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RSET
S: 250 2.0.0
C: MAIL FROM:<a@x.test>
S: 451 4.7.1`)

		// Another client IP has its own window (Linux routes all of
		// 127.0.0.0/8 to loopback).
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
		nc, err := d.Dial("tcp", env.addr)
		if err != nil {
			t.Skipf("cannot dial from 127.0.0.2: %v", err)
		}
		t.Cleanup(func() { nc.Close() })
		runTranscript(t, &client{nc: nc, tp: textproto.NewConn(nc)}, `
S: 220 ...
C: EHLO other.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0`)
	})

	t.Run("connect", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		env := newChaosServer(t, rules(chaos.Rule{Stage: "connect", RateLimit: rl}), chaosOpts{opts: chaos.Options{Now: clock.Now}})
		greet := func(want string) {
			t.Helper()
			runTranscript(t, dialNoGreeting(t, env.addr), want)
		}
		greet("S: 220 mx.test ESMTP mailsink")
		greet("S: 220 mx.test ESMTP mailsink")
		greet("S: 421 4.7.0 Too many connections, slow down\nS: EOF")
		clock.advance(window)
		greet("S: 220 mx.test ESMTP mailsink")
		rs := ruleStats(t, env.eng.Stats(), "rule 1")
		if rs.Matched != 4 || rs.Fired != 1 {
			t.Errorf("Matched, Fired = %d, %d; want 4, 1", rs.Matched, rs.Fired)
		}
	})
}

// mailOutcomes sends n MAIL commands in one session and returns the
// outcome of each: 'x' refused, '.' accepted (then reset).
func mailOutcomes(t *testing.T, addr string, n int) string {
	t.Helper()
	s := dialSess(t, addr)
	if r, err := s.reply(t); err != nil || !hasCode(r, "220") {
		t.Fatalf("greeting %q, %v", r, err)
	}
	if r := s.cmd(t, "EHLO client.test"); !hasCode(r, "250") {
		t.Fatalf("EHLO: %q", r)
	}
	var b strings.Builder
	for range n {
		switch r := s.cmd(t, "MAIL FROM:<a@x.test>"); {
		case hasCode(r, "250"):
			b.WriteByte('.')
			s.expect(t, "RSET", "250 2.0.0")
		case hasCode(r, "451"):
			b.WriteByte('x')
		default:
			t.Fatalf("MAIL: %q", r)
		}
	}
	s.expect(t, "QUIT", "221 2.0.0")
	return b.String()
}

// TestChaosProbabilitySeed: with a fixed seed, a probability rule makes
// the same decisions again; another seed makes others.
func TestChaosProbabilitySeed(t *testing.T) {
	t.Parallel()
	half := 0.5
	cfg := chaos.Config{Enabled: true, Seed: 42, Rules: []chaos.Rule{{Stage: "mail", Probability: &half, Code: 451}}}
	env := newChaosServer(t, cfg, chaosOpts{})
	const n = 32
	first := mailOutcomes(t, env.addr, n)
	if !strings.Contains(first, "x") || !strings.Contains(first, ".") {
		t.Fatalf("p=0.5 gave %q", first)
	}
	if rs := ruleStats(t, env.eng.Stats(), "rule 1"); rs.Matched != n || rs.Fired != uint64(strings.Count(first, "x")) {
		t.Errorf("Matched, Fired = %d, %d; the client saw %d MAIL, %d refused", rs.Matched, rs.Fired, n, strings.Count(first, "x"))
	}
	if err := env.eng.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if again := mailOutcomes(t, env.addr, n); again != first {
		t.Errorf("same seed, different sequence:\n%s\n%s", first, again)
	}
	cfg.Seed = 43
	if err := env.eng.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if other := mailOutcomes(t, env.addr, n); other == first {
		t.Errorf("seeds 42 and 43 gave the same sequence %s", first)
	}
}

func TestChaosEveryFirst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rule chaos.Rule
		want string
	}{
		{"every 3", chaos.Rule{Stage: "mail", Every: 3, Code: 451}, "..x..x..x."},
		{"every 1", chaos.Rule{Stage: "mail", Every: 1, Code: 451}, "xxxxxxxxxx"},
		{"first 2", chaos.Rule{Stage: "mail", First: 2, Code: 451}, "xx........"},
		{"always", chaos.Rule{Stage: "mail", Code: 451}, "xxxxxxxxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newChaosServer(t, rules(tt.rule), chaosOpts{})
			if got := mailOutcomes(t, env.addr, len(tt.want)); got != tt.want {
				t.Errorf("outcomes %s, want %s", got, tt.want)
			}
			rs := ruleStats(t, env.eng.Stats(), "rule 1")
			if rs.Matched != uint64(len(tt.want)) || rs.Fired != uint64(strings.Count(tt.want, "x")) {
				t.Errorf("Matched, Fired = %d, %d", rs.Matched, rs.Fired)
			}
		})
	}
}

// TestChaosMagic: with Config.Magic, a recipient address alone picks
// the failure.
func TestChaosMagic(t *testing.T) {
	t.Parallel()
	env := newChaosServer(t, chaos.Config{Magic: true}, chaosOpts{})
	s := dialSess(t, env.addr)
	if r, err := s.reply(t); err != nil || !hasCode(r, "220") {
		t.Fatalf("greeting %q, %v", r, err)
	}
	if r := s.cmd(t, "EHLO client.test"); !hasCode(r, "250") {
		t.Fatalf("EHLO: %q", r)
	}
	s.expect(t, "MAIL FROM:<a@x.test>", "250 2.1.0")
	s.expect(t, "RCPT TO:<user+smtp451@x.test>", "451 4.3.0 Local error in processing, try again later (magic address)")
	s.expect(t, "RCPT TO:<smtp-550@x.test>", "550 5.1.1 Mailbox unavailable (magic address)")
	s.expect(t, "RCPT TO:<plain@x.test>", "250 2.1.5")
	s.expect(t, "RSET", "250 2.0.0") // MaxRecipients is 3
	s.expect(t, "MAIL FROM:<a@x.test>", "250 2.1.0")
	start := time.Now()
	s.expect(t, "RCPT TO:<user+delay200ms@x.test>", "250 2.1.5")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("delay200ms answered after %v", d)
	}

	// Magic addresses have their own switch.
	if err := env.eng.SetConfig(chaos.Config{}); err != nil {
		t.Fatal(err)
	}
	s.expect(t, "RCPT TO:<user+smtp451@x.test>", "250 2.1.5")
	if err := env.eng.SetConfig(chaos.Config{Magic: true}); err != nil {
		t.Fatal(err)
	}
	s.write(t, "RCPT TO:<user+disconnect@x.test>\r\n")
	s.expectClosed(t)

	st := env.eng.Stats()
	if st.Codes["451"] != 1 || st.Codes["550"] != 1 {
		t.Errorf("Codes = %v, want 451 and 550 once each", st.Codes)
	}
	var actions []string
	for _, ev := range st.Events {
		actions = append(actions, ev.Rule+": "+ev.Action)
	}
	want := []string{
		"magic address: reply 451 4.3.0 Local error in processing, try again later (magic address)",
		"magic address: reply 550 5.1.1 Mailbox unavailable (magic address)",
		"magic address: delay 200ms",
		"magic address: disconnect",
	}
	if !slices.Equal(actions, want) {
		t.Errorf("events:\n%s\nwant\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
	}
}

// TestChaosMailpit: Mailpit's triggers at 100 % fail their command.
func TestChaosMailpit(t *testing.T) {
	t.Parallel()
	auth := "C: AUTH PLAIN " + b64("\x00u\x00p")
	tests := []struct {
		name   string
		set    func(*chaos.MailpitTriggers)
		script string
	}{
		{"sender", func(m *chaos.MailpitTriggers) { m.Sender = chaos.MailpitTrigger{ErrorCode: 451, Probability: 100} }, `
C: MAIL FROM:<a@x.test>
S: 451 4.3.0 Sender rejected (chaos)`},
		{"recipient", func(m *chaos.MailpitTriggers) { m.Recipient = chaos.MailpitTrigger{ErrorCode: 550, Probability: 100} }, `
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 550 5.1.1 Recipient rejected (chaos)`},
		{"authentication", func(m *chaos.MailpitTriggers) {
			m.Authentication = chaos.MailpitTrigger{ErrorCode: 535, Probability: 100}
		}, auth + `
S: 535 5.7.8 Authentication rejected (chaos)
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 250 2.1.5`},
		{"zero probability", func(m *chaos.MailpitTriggers) { m.Sender = chaos.MailpitTrigger{ErrorCode: 451, Probability: 0} }, auth + `
S: 235 2.7.0
C: MAIL FROM:<a@x.test>
S: 250 2.1.0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newChaosServer(t, chaos.Config{}, chaosOpts{})
			m := chaos.DefaultMailpitTriggers()
			tt.set(&m)
			if err := env.eng.SetMailpitTriggers(m); err != nil {
				t.Fatal(err)
			}
			runTranscript(t, dialNoGreeting(t, env.addr), "S: 220 ...\nC: EHLO client.test\nS: 250 *\n"+tt.script)
		})
	}
}

// TestChaosJim: MailHog's Jim, configured from JSON bodies as the API
// gets them: omitted fields are 0, so "{}" refuses every connection.
func TestChaosJim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		script string
	}{
		{"empty body: AcceptChance 0", `{}`, `
S: EOF`},
		{"reject recipient", `{"AcceptChance": 1, "RejectRecipientChance": 1}`, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 550 5.1.1 Invalid recipient (Jim)`},
		{"reject sender", `{"AcceptChance": 1, "RejectSenderChance": 1}`, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: MAIL FROM:<a@x.test>
S: 550 5.1.0 Invalid sender (Jim)`},
		{"reject auth", `{"AcceptChance": 1, "RejectAuthChance": 1}`, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: AUTH PLAIN ` + b64("\x00u\x00p") + `
S: 535 5.7.8 Authentication rejected (Jim)`},
		{"disconnect", `{"AcceptChance": 1, "DisconnectChance": 1}`, `
S: 220 ...
C: EHLO client.test
S: EOF`},
		{"everything else 0", `{"AcceptChance": 1}`, `
S: 220 ...
C: EHLO client.test
S: 250 *
C: AUTH PLAIN ` + b64("\x00u\x00p") + `
S: 235 2.7.0
C: MAIL FROM:<a@x.test>
S: 250 2.1.0
C: RCPT TO:<b@y.test>
S: 250 2.1.5
C: DATA
S: 354 ...
C: .
S: 250 2.0.0
C: QUIT
S: 221 2.0.0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newChaosServer(t, chaos.Config{}, chaosOpts{})
			var j chaos.JimConfig
			if err := json.Unmarshal([]byte(tt.body), &j); err != nil {
				t.Fatal(err)
			}
			if err := env.eng.SetJim(&j); err != nil {
				t.Fatal(err)
			}
			runTranscript(t, dialNoGreeting(t, env.addr), tt.script)
		})
	}

	t.Run("link speed", func(t *testing.T) {
		t.Parallel()
		env := newChaosServer(t, chaos.Config{}, chaosOpts{})
		const rate = 4000
		if err := env.eng.SetJim(&chaos.JimConfig{AcceptChance: 1, LinkSpeedAffect: 1, LinkSpeedMin: rate, LinkSpeedMax: rate}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		s := dialSess(t, env.addr)
		if r, err := s.reply(t); err != nil || !hasCode(r, "220") {
			t.Fatalf("greeting %q, %v", r, err)
		}
		s.cmd(t, "EHLO client.test")
		s.expect(t, "MAIL FROM:<a@x.test>", "250 2.1.0")
		s.expect(t, "RCPT TO:<b@y.test>", "250 2.1.5")
		s.expect(t, "DATA", "354 ...")
		s.expect(t, strings.Repeat(chaosContent, 2)+".", "250 2.0.0")
		octets := s.sent + s.got - min(s.last, rate/4)
		want := time.Duration(octets) * time.Second / rate
		if got := time.Since(start); got < want*9/10 {
			t.Errorf("%d octets at %d B/s took %v, want ≥ %v", octets, rate, got, want)
		}
	})
}

// TestChaosCounters: the engine's counters agree with what a client saw.
func TestChaosCounters(t *testing.T) {
	t.Parallel()
	env := newChaosServer(t, rules(
		chaos.Rule{Name: "slow rcpt", Stage: "rcpt", First: 3, Delay: chaos.Duration(time.Millisecond)},
		chaos.Rule{Name: "busy", Stage: "mail", Every: 2, Code: 451, Enhanced: "4.3.2", Text: "Busy"},
		chaos.Rule{Name: "bounce", Stage: "rcpt", Match: chaos.Match{To: "*@bounce.test"}, Code: 550, Enhanced: "5.1.1", Text: "No such user"},
		chaos.Rule{Name: "unreached", Stage: "rcpt", Match: chaos.Match{To: "*@bounce.test"}, Code: 554},
	), chaosOpts{})
	s := dialSess(t, env.addr)
	if r, err := s.reply(t); err != nil || !hasCode(r, "220") {
		t.Fatalf("greeting %q, %v", r, err)
	}
	s.cmd(t, "EHLO client.test")
	seen := map[string]uint64{}
	mails, rcpts, bounces := 0, 0, 0
	for range 6 {
		mails++
		r := s.cmd(t, "MAIL FROM:<a@x.test>")
		seen[r[0][:3]]++
		if !hasCode(r, "250") {
			continue
		}
		for _, to := range []string{"ok@y.test", "x@bounce.test"} {
			rcpts++
			if strings.HasSuffix(to, "@bounce.test") {
				bounces++
			}
			seen[s.cmd(t, "RCPT TO:<"+to+">")[0][:3]]++
		}
		s.expect(t, "RSET", "250 2.0.0")
	}
	s.expect(t, "QUIT", "221 2.0.0")

	st := env.eng.Stats()
	want := map[string][2]int{ // matched, fired
		"slow rcpt": {rcpts, min(rcpts, 3)},
		"busy":      {mails, int(seen["451"])},
		"bounce":    {bounces, int(seen["550"])},
		"unreached": {0, 0},
	}
	for name, w := range want {
		if rs := ruleStats(t, st, name); rs.Matched != uint64(w[0]) || rs.Fired != uint64(w[1]) {
			t.Errorf("%s: Matched, Fired = %d, %d; want %d, %d", name, rs.Matched, rs.Fired, w[0], w[1])
		}
	}
	if seen["451"] != 3 || seen["550"] != 3 {
		t.Errorf("client saw %v, want 3 × 451 and 3 × 550", seen)
	}
	if wantCodes := map[string]uint64{"451": seen["451"], "550": seen["550"]}; !maps.Equal(st.Codes, wantCodes) {
		t.Errorf("Codes = %v, want %v", st.Codes, wantCodes)
	}
	if a := st.Actions; a["reply"] != seen["451"]+seen["550"] || a["delay"] != 3 || len(a) != 2 {
		t.Errorf("Actions = %v", a)
	}
	if len(st.Events) != 9 {
		t.Errorf("%d events, want 9", len(st.Events))
	}

	env.eng.ResetCounters()
	st = env.eng.Stats()
	if rs := ruleStats(t, st, "busy"); rs.Matched != 0 || rs.Fired != 0 || len(st.Codes) != 0 || len(st.Events) != 0 {
		t.Errorf("after ResetCounters: %+v", st)
	}
}

// TestChaosPipelining: chaos keeps the reply order and the stream in
// sync when commands are pipelined.
func TestChaosPipelining(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		rule   chaos.Rule
		script string
	}{
		{"refused recipient in a group", chaos.Rule{Stage: "rcpt", Match: chaos.Match{To: "*@bounce.test"}, Code: 550, Enhanced: "5.1.1", Text: "No such user"}, `
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@bounce.test>
C: RCPT TO:<c@ok.test>
C: DATA
S: 250 2.1.0
S: 550 5.1.1 No such user
S: 250 2.1.5
S: 354 ...
C: .
S: 250 2.0.0`},
		{"earlier replies go out before a disconnect", chaos.Rule{Stage: "rcpt", Disconnect: true}, `
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: RCPT TO:<c@y.test>
S: 250 2.1.0
S: EOF`},
		{"earlier replies go out before a 421", chaos.Rule{Stage: "rcpt", Code: 421, Text: "Bye"}, `
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: RCPT TO:<c@y.test>
S: 250 2.1.0
S: 421 4.7.0 Bye
S: EOF`},
		{"refused BDAT chunk is discarded, the stream stays in sync", chaos.Rule{Stage: "data", First: 1, Code: 452, Enhanced: "4.3.1", Text: "Full"}, `
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: BDAT 12
R: "RSET\r\nQUIT\r\n"
C: BDAT 6 LAST
R: "NOOP\r\n"
C: NOOP
S: 250 2.1.0
S: 250 2.1.5
S: 452 4.3.1 Full
S: 503 5.5.1
S: 250 2.0.0
C: MAIL FROM:<a@x.test>
C: RCPT TO:<b@y.test>
C: BDAT 6 LAST
R: "hello\n"
S: 250 2.1.0
S: 250 2.1.5
S: 250 2.0.0 Ok: queued as`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newChaosServer(t, rules(tt.rule), chaosOpts{})
			runTranscript(t, dialNoGreeting(t, env.addr), "S: 220 ...\nC: EHLO client.test\nS: 250 *\n"+tt.script)
		})
	}

	// A delay holds back only its own reply: the replies before it in the
	// group arrive first (measured as a gap, a lower bound).
	t.Run("delay", func(t *testing.T) {
		t.Parallel()
		const delay = 200 * time.Millisecond
		env := newChaosServer(t, rules(chaos.Rule{Stage: "rcpt", Delay: chaos.Duration(delay)}), chaosOpts{})
		s := dialSess(t, env.addr)
		s.reply(t)
		s.cmd(t, "EHLO client.test")
		s.write(t, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n")
		if r, _ := s.reply(t); !hasCode(r, "250") {
			t.Fatalf("MAIL: %q", r)
		}
		t1 := time.Now()
		if r, _ := s.reply(t); !hasCode(r, "250") {
			t.Fatalf("RCPT: %q", r)
		}
		if gap := time.Since(t1); gap < delay/2 { // held back, both would arrive together
			t.Errorf("RCPT reply %v after the MAIL reply, want ≥ %v: the MAIL reply waited for the delay", gap, delay)
		}
	})
}
