package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// chaosState is the part of GET /api/v1/chaos these tests read.
type chaosState struct {
	Active  bool
	Enabled bool
	Seed    int64
	Magic   bool
	Rules   []struct{ Name, Stage string }
	Stats   struct {
		Rules []struct {
			Name           string
			Matched, Fired uint64
		}
		Codes  map[string]uint64
		Events []struct{ Rule, Stage, Action string }
	}
}

func chaosGet(t *testing.T, s *server) chaosState {
	t.Helper()
	var st chaosState
	getJSON(t, s.url("/api/v1/chaos"), &st)
	return st
}

// chaosDo sends an API request and returns the status.
func chaosDo(t *testing.T, method, url, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // only the status matters
	resp.Body.Close()
	return resp.StatusCode
}

// TestChaosEndToEnd: rules from flags, magic addresses, counters in the
// API, a rule PUT at run time taking effect in an open session, the chaos
// lines in a stored message's transcript, and everything off again.
func TestChaosEndToEnd(t *testing.T) {
	s := startServer(t, map[string]string{"MAILSINK_CHAOS_SEED": "3"},
		"--chaos-rule=rcpt:to=*@bounce.test:550 5.1.1 No such user",
		"--chaos-rule=message:header=X-Slow=yes:delay=50ms",
		"--chaos-magic")

	st := chaosGet(t, s)
	if !st.Active || !st.Enabled || st.Seed != 3 || !st.Magic || len(st.Rules) != 2 || st.Rules[0].Stage != "rcpt" {
		t.Fatalf("chaos at start = %+v", st)
	}

	c := dialSMTP(t, s.smtp)
	c.cmd(250, "EHLO app.test")
	c.cmd(250, "MAIL FROM:<app@app.test>")
	if msg := c.cmd(550, "RCPT TO:<gone@bounce.test>"); !strings.HasPrefix(msg, "5.1.1 No such user") {
		t.Errorf("bounce reply %q", msg)
	}
	if msg := c.cmd(451, "RCPT TO:<bob+smtp451@example.test>"); !strings.HasPrefix(msg, "4.") {
		t.Errorf("magic 451 reply %q", msg)
	}
	c.cmd(250, "RCPT TO:<bob@example.test>")
	c.cmd(354, "DATA")
	if _, err := io.WriteString(c.nc, "Subject: slow one\r\nX-Slow: yes\r\n\r\nbody\r\n.\r\n"); err != nil {
		t.Fatal(err)
	}
	id := queuedID.FindStringSubmatch(c.expect(250))
	if id == nil {
		t.Fatal("no queue ID")
	}

	// The delayed message was stored, its transcript says why it was slow.
	var tr []struct{ Dir, Text string }
	getJSON(t, s.url("/api/v1/message/"+id[1]+"/transcript"), &tr)
	var notes []string
	for _, l := range tr {
		if strings.HasPrefix(l.Text, "chaos: ") {
			notes = append(notes, l.Text)
		}
	}
	// The transaction's refused recipients are in it too.
	if len(notes) != 3 || !strings.Contains(notes[0], "at rcpt: reply 550 5.1.1 No such user") ||
		!strings.Contains(notes[1], `"magic address" at rcpt: reply 451`) || !strings.Contains(notes[2], "at message: delay 50ms") {
		t.Errorf("transcript chaos lines = %q, want the two refused RCPTs and the message-stage delay", notes)
	}

	// A rule put at run time applies to the next command of this session.
	c.cmd(250, "MAIL FROM:<app@app.test>")
	if code := chaosDo(t, http.MethodPut, s.url("/api/v1/chaos"), `{"Rules":["rcpt:550 5.7.1 Closed for today"]}`); code != http.StatusOK {
		t.Fatalf("PUT rules = %d", code)
	}
	if msg := c.cmd(550, "RCPT TO:<bob@example.test>"); msg != "5.7.1 Closed for today" {
		t.Errorf("runtime rule reply %q", msg)
	}

	st = chaosGet(t, s)
	counts := map[string]uint64{}
	for _, r := range st.Stats.Rules {
		counts[r.Name] = r.Fired
	}
	// The PUT replaced both rules; its own "rule 1" counts from zero (one
	// refusal since), magic addresses stay on with their count.
	if counts["rule 1"] != 1 || len(st.Rules) != 1 || counts["rule 2"] != 0 || counts["magic address"] != 1 {
		t.Errorf("after the PUT: rules %+v, fired %v", st.Rules, counts)
	}
	if st.Stats.Codes["550"] != 2 || st.Stats.Codes["451"] != 1 {
		t.Errorf("codes = %v, want 550×2 (bounce, runtime rule), 451×1 (magic)", st.Stats.Codes)
	}

	// All off: the same session works normally again.
	if code := chaosDo(t, http.MethodDelete, s.url("/api/v1/chaos"), ""); code != http.StatusOK {
		t.Fatalf("DELETE = %d", code)
	}
	c.cmd(250, "RCPT TO:<gone@bounce.test>")
	c.cmd(250, "RCPT TO:<bob+smtp451@example.test>")
	c.cmd(221, "QUIT")
	if st := chaosGet(t, s); st.Active {
		t.Errorf("after DELETE chaos is still active: %+v", st)
	}
}

// TestChaosJimEndToEnd: MailHog's Jim with a body that leaves
// AcceptChance out refuses every connection (Jim's rule: omitted = 0);
// sending him away restores service.
func TestChaosJimEndToEnd(t *testing.T) {
	s := startServer(t, nil)
	if code := chaosDo(t, http.MethodGet, s.url("/api/v2/jim"), ""); code != http.StatusNotFound {
		t.Fatalf("GET jim while off = %d, want 404", code)
	}
	if code := chaosDo(t, http.MethodPost, s.url("/api/v2/jim"), `{"AcceptChance": 1}`); code != http.StatusCreated {
		t.Fatalf("POST jim = %d, want 201", code)
	}
	c := dialSMTP(t, s.smtp) // AcceptChance 1, everything else 0: a normal session
	c.cmd(250, "EHLO app.test")
	c.cmd(221, "QUIT")

	if code := chaosDo(t, http.MethodPut, s.url("/api/v2/jim"), `{"RejectSenderChance": 1}`); code != http.StatusOK {
		t.Fatalf("PUT jim = %d", code)
	}
	nc, err := net.Dial("tcp", s.smtp)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(nc)
	nc.Close()
	if len(b) != 0 || err != nil && !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("with AcceptChance left out the server said %q (%v), want the connection closed without a greeting", b, err)
	}
	var jim map[string]float64
	getJSON(t, s.url("/api/v2/jim"), &jim)
	if jim["AcceptChance"] != 0 || jim["RejectSenderChance"] != 1 {
		t.Errorf("jim = %v", jim)
	}

	if code := chaosDo(t, http.MethodDelete, s.url("/api/v2/jim"), ""); code != http.StatusOK {
		t.Fatalf("DELETE jim = %d", code)
	}
	c = dialSMTP(t, s.smtp)
	c.cmd(250, "EHLO app.test")
	c.cmd(221, "QUIT")
}

// isReset reports a connection reset by the peer.
func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && strings.Contains(ne.Err.Error(), "reset")
}

// TestChaosFileFlag: --chaos FILE with a greylisting rule; the retry
// after the delay goes through.
func TestChaosFileFlag(t *testing.T) {
	file := t.TempDir() + "/chaos.json"
	rules := `{"Seed": 11, "Rules": [{"Name": "grey", "Stage": "rcpt", "Greylist": {"Retry": "300ms"}}]}`
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, nil, "--chaos="+file)
	c := dialSMTP(t, s.smtp)
	c.cmd(250, "EHLO app.test")
	c.cmd(250, "MAIL FROM:<a@app.test>")
	if msg := c.cmd(451, "RCPT TO:<b@example.test>"); !strings.HasPrefix(msg, "4.7.1") {
		t.Errorf("first attempt %q, want 451 4.7.1", msg)
	}
	c.cmd(451, "RCPT TO:<b@example.test>") // too early
	time.Sleep(350 * time.Millisecond)
	c.cmd(250, "RCPT TO:<b@example.test>")
	c.cmd(221, "QUIT")
	var st chaosState
	getJSON(t, s.url("/api/v1/chaos"), &st)
	if st.Seed != 11 || len(st.Stats.Rules) == 0 || st.Stats.Rules[0].Matched != 3 || st.Stats.Rules[0].Fired != 2 {
		t.Errorf("state = %+v", st)
	}
}
