package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// uiChaosState is the part of GET /api/v1/chaos the chaos UI test reads.
type uiChaosState struct {
	Active  bool
	Enabled bool
	Rules   []struct {
		Name, Stage string
		Code        int
		Disabled    bool
	}
	Stats struct {
		Rules []struct {
			Name, Origin   string
			Matched, Fired uint64
		}
		Codes map[string]uint64
	}
}

// saveEditor presses the editor's Save button from script: the panel
// redraws its tables every 2 s, and under load a click at coordinates
// taken just before could land on a row that moved into its place.
var saveEditor = chromedp.Evaluate[chromedp.Void](`document.querySelector('chaos-panel form.chaos-editor button[type="submit"]').click()`)

func uiChaosGet(t *testing.T, s *server) uiChaosState {
	t.Helper()
	var st uiChaosState
	getJSON(t, s.url("/api/v1/chaos"), &st)
	return st
}

// Selectors and expressions of the chaos UI.
const (
	chaosBannerJS = `document.querySelector('#chaos-banner .chaos-on')`
	editorJS      = `document.querySelector('#chaos-rules-json')`
	editErrJS     = `document.querySelector('chaos-panel [data-part="edit-error"]')`
)

// chaosCell is the text of a cell (by class) of rule row i.
func chaosCell(i int, class string) string {
	return `(document.querySelector('chaos-panel tr[data-rule="` + strconv.Itoa(i) + `"] td.` + class + `')?.textContent ?? '')`
}

// TestUIChaosPanel drives chaos mode through the UI against real SMTP:
// the banner, the panel's rule table and live counters, a rule toggled
// off, rules edited as JSON (and a rejected edit), counters reset, all
// chaos off and back on from another client, all without a reload.
func TestUIChaosPanel(t *testing.T) {
	b := newBrowser(t)
	s := startServer(t, nil, "--chaos-rule=rcpt:to=*@bounce.test:550 5.1.1 No such user")
	dir := screenshotDir(t)
	openApp(t, b, s, "")
	eval[int](t, b, `window.__noReload = 5`)

	// The banner says chaos is on and what, and links to the panel.
	b.do(t, "banner", visible("#chaos-banner .chaos-on"))
	banner := eval[map[string]string](t, b, `(() => { const el = document.querySelector('#chaos-banner');
		return {text: el.textContent, role: el.getAttribute('role'), href: el.querySelector('a').getAttribute('href')}; })()`)
	if !strings.Contains(banner["text"], "Chaos on") || !strings.Contains(banner["text"], "1 rule") ||
		banner["role"] != "status" || banner["href"] != "#/chaos" {
		t.Errorf("banner = %v", banner)
	}

	// The Chaos link opens the panel in place of the list.
	b.do(t, "open panel",
		click("#chaos-link"),
		poll(`location.hash === '#/chaos'`),
		visible(`chaos-panel tr[data-rule="0"]`),
		poll(`!document.querySelector('message-list').checkVisibility()`),
	)
	row := map[string]string{}
	for _, c := range []string{"name", "stage", "match", "action", "when", "matched", "fired"} {
		row[c] = eval[string](t, b, chaosCell(0, c))
	}
	if row["name"] != "rule 1" || row["stage"] != "rcpt" || !strings.Contains(row["action"], "reply 550 5.1.1 No such user") ||
		row["match"] != "to=*@bounce.test" || row["when"] != "always" || row["matched"] != "0" || row["fired"] != "0" {
		t.Errorf("rule row = %v", row)
	}
	if on := eval[bool](t, b, `document.querySelector('#chaos-enabled').checked && !document.querySelector('#chaos-magic').checked &&
		document.querySelector('#chaos-seed').textContent !== ''`); !on {
		t.Error("switches: want rules enabled, magic off, a seed shown")
	}
	if n := eval[int](t, b, `[...document.querySelectorAll('chaos-panel input, chaos-panel textarea, chaos-panel button')]
		.filter(e => !e.labels?.length && !e.getAttribute('aria-label') && !e.textContent.trim()).length`); n != 0 {
		t.Errorf("%d controls in the chaos panel have no label", n)
	}

	// The rule fires over SMTP; the panel counts it without a reload.
	c := dialSMTP(t, s.smtp)
	c.cmd(250, "EHLO chaos.test")
	c.cmd(250, "MAIL FROM:<a@chaos.test>")
	c.cmd(550, "RCPT TO:<x@bounce.test>")
	c.cmd(250, "RSET")
	b.do(t, "fired",
		poll(chaosCell(0, "fired")+` === '1' && `+chaosCell(0, "matched")+` === '1'`),
		poll(`document.querySelector('chaos-panel tr[data-code="550"]')?.textContent.includes('1')`),
		poll(`document.querySelector('chaos-panel .chaos-events-table tbody tr')?.textContent.includes('x@bounce.test')`),
		screenshot(t, dir, "ui-chaos-panel"),
	)

	// Toggling the rule off (from the keyboard) PUTs it Disabled; SMTP
	// accepts again, and with nothing left to fire the banner goes.
	b.do(t, "toggle off",
		chromedp.Focus(chromedp.CSS(`chaos-panel tr[data-rule="0"] input.rule-toggle`)),
		chromedp.KeyEvent(" "),
		poll(`fetch('api/v1/chaos').then(r => r.json()).then(d => d.Rules[0].Disabled === true)`),
		poll(`document.querySelector('chaos-panel tr[data-rule="0"]').classList.contains('off')`),
		poll(`!`+chaosBannerJS),
	)
	if st := uiChaosGet(t, s); len(st.Rules) != 1 || !st.Rules[0].Disabled || st.Active {
		t.Errorf("after toggle: %+v", st)
	}
	if focus := eval[string](t, b, `document.activeElement?.dataset.key ?? ''`); focus != "toggle-0" {
		t.Errorf("focus after toggling is on %q, want the rule's switch", focus)
	}
	c.cmd(250, "MAIL FROM:<a@chaos.test>")
	c.cmd(250, "RCPT TO:<x@bounce.test>")
	c.cmd(250, "RSET")

	// The editor shows the rules as JSON (now with Disabled); add one in
	// the compact form and save.
	b.do(t, "editor follows", poll(editorJS+`.value.includes('"Disabled": true')`))
	b.do(t, "add rule",
		chromedp.Evaluate[chromedp.Void](`(() => { const ta = `+editorJS+`;
			const rules = JSON.parse(ta.value); rules.push('mail:451 4.3.0 Busy');
			ta.value = JSON.stringify(rules, null, 2); ta.dispatchEvent(new Event('input', {bubbles: true})); })()`),
		saveEditor,
		poll(`fetch('api/v1/chaos').then(r => r.json()).then(d => d.Rules.length === 2)`),
		poll(`document.querySelector('chaos-panel tr[data-rule="1"]') !== null`),
		poll(chaosBannerJS),
	)
	if got := eval[string](t, b, chaosCell(1, "action")); got != "reply 451 4.3.0 Busy" {
		t.Errorf("second rule action = %q", got)
	}
	if got := eval[string](t, b, editorJS+`.value`); !strings.Contains(got, `"Code": 451`) {
		t.Errorf("editor after save (want the rule as an object): %s", got)
	}
	st := uiChaosGet(t, s)
	if len(st.Rules) != 2 || !st.Rules[0].Disabled || st.Rules[1].Stage != "mail" || st.Rules[1].Code != 451 || !st.Enabled {
		t.Errorf("after save: %+v", st)
	}
	c.cmd(451, "MAIL FROM:<a@chaos.test>")

	// Bad JSON is caught in the page; a bad rule comes back as the
	// server's 400 text. Either way the edit stays and nothing changes.
	b.do(t, "bad json",
		chromedp.Evaluate[chromedp.Void](`(() => { const ta = `+editorJS+`; ta.value = '[{"Stage": "rcpt",'; ta.dispatchEvent(new Event('input')); })()`),
		saveEditor,
		poll(editErrJS+`.checkVisibility() && `+editErrJS+`.textContent.startsWith('Not valid JSON')`),
	)
	const badRule = `[{"Stage": "nowhere", "Code": 550}]`
	b.do(t, "bad rule",
		chromedp.Evaluate[chromedp.Void](`(() => { const ta = `+editorJS+`; ta.value = `+strconv.Quote(badRule)+`; ta.dispatchEvent(new Event('input')); })()`),
		saveEditor,
		poll(editErrJS+`.textContent.includes('unknown stage')`),
	)
	if msg := eval[string](t, b, editErrJS+`.textContent`); !strings.Contains(msg, `"nowhere"`) {
		t.Errorf("error shown = %q", msg)
	}
	// The panel goes on refreshing (the rule fires again and the count
	// shows up) and keeps the edit.
	c.cmd(451, "MAIL FROM:<a@chaos.test>")
	b.do(t, "refreshed", poll(chaosCell(1, "fired")+` === '2'`))
	if got := eval[string](t, b, editorJS+`.value`); got != badRule {
		t.Errorf("a refresh replaced the edit with %q", got)
	}
	if st := uiChaosGet(t, s); len(st.Rules) != 2 || st.Rules[1].Code != 451 {
		t.Errorf("a rejected save changed the rules: %+v", st)
	}
	b.do(t, "discard", click(`chaos-panel button[data-action="revert"]`), poll(editorJS+`.value.includes('"Code": 451')`),
		poll(`!`+editErrJS+`.checkVisibility()`))

	// Reset counters.
	b.do(t, "reset counters",
		click(`chaos-panel button[data-action="reset-counters"]`),
		poll(chaosCell(1, "fired")+` === '0' && `+chaosCell(1, "matched")+` === '0'`),
		poll(`!document.querySelector('chaos-panel tr[data-code]')`),
	)
	for _, r := range uiChaosGet(t, s).Stats.Rules {
		if r.Matched != 0 || r.Fired != 0 {
			t.Errorf("after reset: %+v", r)
		}
	}

	// Dark mode and a phone-sized screen.
	b.do(t, "dark narrow",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
			})
			return err
		}),
		chromedp.EmulateViewport(360, 740),
		poll(`getComputedStyle(document.body).backgroundColor === 'rgb(28, 28, 30)'`),
		screenshot(t, dir, "ui-chaos-panel-dark-narrow"),
	)
	if w := eval[int](t, b, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("chaos panel is %d px wide at a 360 px viewport", w)
	}
	b.do(t, "light wide",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}},
			})
			return err
		}),
		chromedp.EmulateViewport(1280, 900),
	)

	// Turn all chaos off (confirming): the banner goes, live.
	b.do(t, "all off",
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		click(`chaos-panel button[data-action="all-off"]`),
		poll(`!`+chaosBannerJS),
		poll(`!document.querySelector('chaos-panel tr[data-rule]')`),
	)
	if st := uiChaosGet(t, s); st.Active || len(st.Rules) != 0 {
		t.Errorf("after all off: %+v", st)
	}
	c.cmd(250, "MAIL FROM:<a@chaos.test>")
	c.cmd(250, "RCPT TO:<x@bounce.test>")
	c.cmd(221, "QUIT")

	// Esc goes back to the list, where nothing polls: when another client
	// turns chaos on, the websocket event alone brings the banner back,
	// and its link opens the panel with the new rules.
	b.do(t, "escape", chromedp.Evaluate[chromedp.Void](`document.activeElement?.blur()`), chromedp.KeyEvent(kEscape),
		poll(`location.hash === '#/'`), visible("message-list .list-footer"))
	apiDo(t, http.MethodPut, s.url("/api/v1/chaos"), `{"Rules":["rcpt:to=*@bounce.test:550 5.1.1 No such user","mail:p=0.25:451"]}`)
	b.do(t, "on from elsewhere",
		poll(chaosBannerJS+`?.textContent.includes('2 rules')`),
		click("#chaos-banner a"),
		poll(`location.hash === '#/chaos'`),
		poll(chaosCell(1, "when")+` === 'p=25%'`),
	)
	if marker := eval[int](t, b, `window.__noReload`); marker != 5 {
		t.Errorf("page reloaded (marker %d)", marker)
	}
}
