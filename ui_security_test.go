package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"
)

// attackerPage is another site's page that tries, from the browser of a
// developer who has mailsink open, everything a page can: read the API
// (CORS and no-cors), delete through fetch (CORS and no-cors), post JSON
// as text/plain without CORS, post a text/plain form, flip MailHog's Jim
// with a body-less POST, and open the event websocket. Each outcome lands
// in window.__results.
const attackerPage = `<!doctype html><title>cute cats</title><body><script>
const victim = new URL(location.href).searchParams.get('victim');
const results = {};
async function attempt(name, f) {
  try { results[name] = String(await f()); } catch (e) { results[name] = 'error: ' + e.name; }
}
const sendBody = (subject) => JSON.stringify({From: {Email: 'evil@x.test'}, To: [{Email: 'v@x.test'}], Subject: subject, Text: 'x'});
(async () => {
  await attempt('read', async () => (await fetch(victim + '/api/v1/messages')).text());
  await attempt('readNoCors', async () => { const r = await fetch(victim + '/api/v1/messages', {mode: 'no-cors'}); return r.type + ':' + await r.text(); });
  await attempt('readCredentials', async () => (await fetch(victim + '/api/v1/message/latest', {credentials: 'include'})).text());
  await attempt('sendNoCors', async () => (await fetch(victim + '/api/v1/send', {method: 'POST', mode: 'no-cors', body: sendBody('fetch injected')})).type);
  await attempt('jimNoCors', async () => (await fetch(victim + '/api/v2/jim', {method: 'POST', mode: 'no-cors'})).type);
  await attempt('form', () => new Promise((resolve) => {
    const sink = document.createElement('iframe');
    sink.name = 'sink';
    document.body.append(sink);
    const f = document.createElement('form');
    f.method = 'POST'; f.action = victim + '/api/v1/send'; f.enctype = 'text/plain'; f.target = 'sink';
    const i = document.createElement('input');
    // text/plain forms send name=value: this makes the body valid JSON.
    i.name = sendBody('form injected').slice(0, -1) + ',"pad":"';
    i.value = '"}';
    f.append(i);
    document.body.append(f);
    sink.onload = () => resolve('submitted');
    setTimeout(() => resolve('submitted (no load event)'), 3000);
    f.submit();
  }));
  await attempt('ws', () => new Promise((resolve) => {
    const ws = new WebSocket(victim.replace(/^http/, 'ws') + '/api/events');
    let got = '';
    ws.onopen = () => { got = 'open'; setTimeout(() => ws.close(), 200); };
    ws.onmessage = (e) => { got += ' ' + e.data; };
    ws.onclose = () => resolve(got || 'closed');
    setTimeout(() => resolve(got || 'timeout'), 5000);
  }));
  await attempt('deleteNoCors', async () => (await fetch(victim + '/api/v1/messages', {method: 'DELETE', mode: 'no-cors'})).type);
  await attempt('delete', async () => (await fetch(victim + '/api/v1/messages', {method: 'DELETE'})).status);
  window.__results = results;
  window.__done = true;
})();
</script>`

// attack serves attackerPage from its own origin (http://localhost:PORT,
// another site than the victim's http://127.0.0.1:PORT), opens it against
// victim and returns its results.
func attack(t *testing.T, b *browser, attacker *httptest.Server, victim *server) map[string]string {
	t.Helper()
	_, port, _ := net.SplitHostPort(attacker.Listener.Addr().String())
	page := "http://localhost:" + port + "/?victim=http://" + victim.http
	b.do(t, "run the attacker page", chromedp.Navigate(page), poll(`window.__done === true`))
	raw := eval[string](t, b, `JSON.stringify(window.__results)`)
	var res map[string]string
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		t.Fatalf("results %s: %v", raw, err)
	}
	for k, v := range res {
		if len(v) > 80 {
			v = v[:80] + "…"
		}
		t.Logf("attacker page against %s: %s = %s", victim.http, k, v)
	}
	return res
}

// messageCount is what the API says is stored, and the subjects.
func messageCount(t *testing.T, s *server) (int, string) {
	t.Helper()
	var list listReply
	getJSON(t, s.url("/api/v1/messages"), &list)
	var subjects []string
	for _, m := range list.Messages {
		subjects = append(subjects, m.Subject)
	}
	return len(list.Messages), strings.Join(subjects, "|")
}

// TestUICrossOriginAttack: a page of another origin, in the same browser,
// can neither read mail nor change anything: not by fetch, not by a form,
// not by the websocket. The control run against a server whose
// --cors-origin allows that origin shows the same page does succeed when
// the server lets it, so the attempts are real.
func TestUICrossOriginAttack(t *testing.T) {
	b := newBrowser(t)
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(attackerPage))
	}))
	t.Cleanup(attacker.Close)
	_, port, _ := net.SplitHostPort(attacker.Listener.Addr().String())
	attackerOrigin := "http://localhost:" + port

	victim := startServer(t, nil)
	deliver(t, victim, plainMail("secret reset link", "https://bank.test/reset?token=hunter2"))
	res := attack(t, b, attacker, victim)

	for _, k := range []string{"read", "readNoCors", "readCredentials", "ws"} {
		if strings.Contains(res[k], "secret") || strings.Contains(res[k], "hunter2") || strings.Contains(res[k], "open") {
			t.Errorf("%s: the attacker page got %q", k, res[k])
		}
	}
	if !strings.HasPrefix(res["read"], "error") {
		t.Errorf("read = %q, want a CORS error", res["read"])
	}
	if n, subjects := messageCount(t, victim); n != 1 || subjects != "secret reset link" {
		t.Errorf("after the attack: %d messages %q, want only the original", n, subjects)
	}
	if resp, err := http.Get(victim.url("/api/v2/jim")); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/v2/jim = %s after the attack, want 404 (Jim off)", resp.Status)
	}

	// Control: the same page against a server that allows its origin.
	lenient := startServer(t, map[string]string{"MAILSINK_CORS_ORIGIN": attackerOrigin})
	deliver(t, lenient, plainMail("secret reset link", "https://bank.test/reset?token=hunter2"))
	res = attack(t, b, attacker, lenient)
	if !strings.Contains(res["read"], "secret reset link") || !strings.HasPrefix(res["ws"], "open") || res["delete"] != "200" {
		t.Errorf("with --cors-origin=%s the page should read, listen and delete; got %v", attackerOrigin, res)
	}
	if n, subjects := messageCount(t, lenient); n != 0 {
		t.Errorf("with --cors-origin: %d messages %q left, want the page's DELETE to have worked", n, subjects)
	}
}

// TestUIBasicAuthLogin: behind --ui-auth htpasswd:FILE the browser asks
// for a login once (answered here through DevTools, as a user would type
// it), and then the UI, its API calls and its live websocket, which
// carries the login the browser keeps, all work.
func TestUIBasicAuthLogin(t *testing.T) {
	b := newBrowser(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte("ann:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, nil, "-ui-auth=htpasswd:"+file)

	// Listen may not run commands: hand the events to a goroutine.
	events := make(chan any, 256)
	var prompts atomic.Int32
	if err := chromedp.Listen(b.ctx, func(ev any) {
		switch ev.(type) {
		case *fetch.EventRequestPaused, *fetch.EventAuthRequired:
			events <- ev
		}
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			select {
			case <-b.ctx.Done():
				return
			case ev := <-events:
				switch ev := ev.(type) {
				case *fetch.EventRequestPaused:
					chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				case *fetch.EventAuthRequired:
					prompts.Add(1)
					chromedp.Call(b.ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: ev.RequestID,
						AuthChallengeResponse: &fetch.AuthChallengeResponse{
							Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: "ann", Password: "pw"}})
				}
			}
		}
	}()
	yes := true
	if _, err := chromedp.Call(b.ctx, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &yes}); err != nil {
		t.Fatal(err)
	}

	openApp(t, b, s, "") // waits for the list and the live websocket
	if prompts.Load() == 0 {
		t.Error("the browser was never asked to log in")
	}
	deliver(t, s, plainMail("behind a login", "x"))
	b.do(t, "live row", poll(rowSubjectsJS+` === 'behind a login'`))
}
