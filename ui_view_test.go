package main

import (
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// rowTagsJS lists the tags shown in the list row of a message.
func rowTagsJS(id string) string {
	return `[...document.querySelectorAll('message-list li[data-id="` + id + `"] .tags .tag')].map(e => e.textContent).join(',')`
}

// TestUIMessageViewActionsAndTags: tags show in the list rows and follow
// changes made through the API; the message view's Mark unread and Delete
// buttons change the store and the list.
func TestUIMessageViewActionsAndTags(t *testing.T) {
	b := newBrowser(t)
	s := startServer(t, nil)
	tagged := deliver(t, s, []byte("From: shop@example.org\r\nTo: bob@example.net\r\nSubject: Tagged order\r\n"+
		"X-Tags: urgent, billing\r\n\r\nYour order.\r\n"))
	plain := deliver(t, s, plainMail("Plain one", "hello"))
	openApp(t, b, s, "")
	b.do(t, "rows", poll(rowsJS+` === 2`))

	if got := eval[string](t, b, rowTagsJS(tagged)); got != "billing,urgent" {
		t.Errorf("tags in the tagged row = %q, want billing,urgent", got)
	}
	if got := eval[string](t, b, rowTagsJS(plain)); got != "" {
		t.Errorf("tags in the plain row = %q, want none", got)
	}
	// Tags set elsewhere arrive live.
	apiDo(t, http.MethodPut, s.url("/api/v1/tags"), `{"IDs":["`+plain+`"],"Tags":["qa"]}`)
	b.do(t, "live tags", poll(rowTagsJS(plain)+` === 'qa'`))

	// Open: read. Mark unread in the view: back to the list, unread again.
	b.do(t, "open tagged",
		click(`message-list li[data-id="`+tagged+`"] a.row`),
		visible("message-view .msg-actions"),
		poll(`document.title === '(1) mailsink'`),
		poll(`document.querySelector('message-list li[data-id="`+tagged+`"]').classList.contains('read')`),
	)
	if got := text(t, b, "message-view .addrs"); !strings.Contains(got, "billing") || !strings.Contains(got, "urgent") {
		t.Errorf("message view header lacks the tags: %q", got)
	}
	b.do(t, "mark unread from the view",
		click(`message-view button[data-action="unread"]`),
		poll(`location.hash === '#/'`),
		poll(`document.querySelector('message-list li[data-id="`+tagged+`"]').classList.contains('unread')`),
		poll(`document.title === '(2) mailsink'`),
	)
	var m summary
	var list listReply
	getJSON(t, s.url("/api/v1/messages"), &list)
	for _, x := range list.Messages {
		if x.ID == tagged {
			m = x
		}
	}
	if m.ID != tagged || m.Read {
		t.Errorf("after Mark unread the store has %+v, want %s unread", m, tagged)
	}

	// Delete from the view: gone from the store and the list.
	b.do(t, "delete from the view",
		chromedp.Navigate(s.url("/#/message/"+tagged+"/")),
		visible("message-view .msg-actions"),
		click(`message-view button[data-action="delete"]`),
		poll(`location.hash === '#/'`),
		poll(`!document.querySelector('message-list li[data-id="`+tagged+`"]')`),
		poll(rowsJS+` === 1`),
		poll(`document.querySelector('#count').textContent === '1 messages, 1 unread'`),
	)
	if code, body := fetchStatus(t, s.url("/api/v1/message/"+tagged)); code != http.StatusNotFound {
		t.Errorf("GET deleted message = %d %s, want 404", code, body)
	}
}

// TestUINotifications: off until turned on; then a message arriving while
// the page is in the background shows one notification, a burst shows one
// summary notification, and nothing shows while the page has focus or
// after turning them off. The choice survives a reload.
func TestUINotifications(t *testing.T) {
	b := newBrowser(t)
	s := startServer(t, nil)
	_, err := chromedp.Call(b.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"},
		Setting:    cdpbrowser.PermissionSettingGranted,
	})
	if err != nil {
		t.Fatalf("grant notifications: %v", err)
	}
	// Record the notifications the page creates (the real constructor
	// still runs, so a call the browser would refuse fails here too).
	_, err = chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__notes = []; { const N = window.Notification;
			window.Notification = class extends N { constructor(t, o) { super(t, o); window.__notes.push(t + ' | ' + (o?.body ?? '')); } }; }`,
	})
	if err != nil {
		t.Fatal(err)
	}
	openApp(t, b, s, "")
	const notesJS = `window.__notes.join('; ')`
	if got := eval[string](t, b, `document.querySelector('#notify').getAttribute('aria-pressed') + ' ' + Notification.permission`); got != "false granted" {
		t.Fatalf("toggle and permission = %q, want off and granted", got)
	}

	// Off: nothing, even in the background.
	eval[bool](t, b, `window.dispatchEvent(new Event('blur'))`)
	deliver(t, s, plainMail("While off", "x"))
	b.do(t, "row while off", poll(rowsJS+` === 1`))

	b.do(t, "turn on",
		click("#notify"),
		poll(`document.querySelector('#notify').getAttribute('aria-pressed') === 'true'`),
	)
	// Focused: the user sees the list, no notification.
	eval[bool](t, b, `window.dispatchEvent(new Event('focus'))`)
	deliver(t, s, plainMail("While focused", "x"))
	b.do(t, "row while focused", poll(rowsJS+` === 2`))

	// Background: one notification naming sender and subject.
	eval[bool](t, b, `window.dispatchEvent(new Event('blur'))`)
	deliver(t, s, plainMail("Background one", "x"))
	b.do(t, "one notification", poll(`window.__notes.length === 1`))
	if got := eval[string](t, b, notesJS); got != "New mail from Alice | Background one" {
		t.Errorf("notification = %q", got)
	}

	// A burst: one summary.
	if err := sendMany(s.smtp, "Burst", 5); err != nil {
		t.Fatal(err)
	}
	b.do(t, "summary notification", poll(rowsJS+` === 8`), poll(`window.__notes.length === 2`))
	time.Sleep(2500 * time.Millisecond) // longer than the coalescing window: no more come
	notes := eval[[]string](t, b, `window.__notes`)
	if len(notes) != 2 || notes[1] != "5 new messages | Burst-0\nBurst-1\nBurst-2" {
		t.Errorf("notifications after the burst = %q, want one summary of 5", notes)
	}

	// Reload: still on. Then off: nothing.
	b.do(t, "reload", chromedp.Reload(), poll(`document.querySelector('#notify')?.getAttribute('aria-pressed') === 'true'`),
		poll(`document.querySelector('message-list').dataset.state === 'ready' && document.querySelector('#live').dataset.state === 'on'`),
		click("#notify"),
		poll(`document.querySelector('#notify').getAttribute('aria-pressed') === 'false'`),
	)
	eval[bool](t, b, `window.dispatchEvent(new Event('blur'))`)
	deliver(t, s, plainMail("After off", "x"))
	b.do(t, "row after off", poll(rowsJS+` === 9`))
	time.Sleep(300 * time.Millisecond)
	if got := eval[string](t, b, notesJS); got != "" {
		t.Errorf("notifications after turning off (page reloaded, so the list restarts) = %q", got)
	}
}

// TestUICorpusMessages opens real-world messages from the public corpus
// in the browser and checks what each tab shows against the source: a
// multipart/alternative with an inline image and a PDF, an RFC 2231
// attachment name, 93 Received headers, and a multipart without its
// closing boundary.
func TestUICorpusMessages(t *testing.T) {
	dir := corpusDir(t)
	b := newBrowser(t)
	s := startServer(t, nil)
	read := func(name string) []byte {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	inline := deliver(t, s, read("mixed-inline-plus-attachment-nested.eml"))
	rfc2231 := deliver(t, s, read("attachment-rfc2231-utf8-filename.eml"))
	received := deliver(t, s, read("hugeheader-93-received-headers.eml"))
	broken := deliver(t, s, read("malformed-no-closing-boundary.eml"))
	openApp(t, b, s, "#/message/"+inline+"/html")
	const loadedJS = `document.querySelector('message-view iframe')?.dataset.loaded === document.querySelector('message-view iframe')?.getAttribute('src')`
	open := func(id, tab, sel string) {
		t.Helper()
		b.do(t, "open "+id+"/"+tab,
			chromedp.Navigate(s.url("/#/message/"+id+"/"+tab)),
			poll(`document.querySelector('message-view section.panel')?.dataset.tab === '`+tab+`'`),
			visible("message-view "+sel),
		)
	}

	// Inline image: the preview's cid: reference points at the JPEG part,
	// which the server serves; the PDF is an attachment, the JPEG inline.
	b.do(t, "html preview", visible("message-view iframe"), poll(loadedJS))
	code, body := fetchStatus(t, s.url("/view/"+inline+".html"))
	if code != http.StatusOK || strings.Contains(string(body), "cid:") {
		t.Fatalf("preview = %d, still has cid: %v", code, strings.Contains(string(body), "cid:"))
	}
	img := regexp.MustCompile(`src="([^"]*part/[^"]*)"`).FindSubmatch(body)
	if img == nil {
		t.Fatalf("no part URL in the preview: %.300s", body)
	}
	base, err := url.Parse(s.url("/view/" + inline + ".html"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := base.Parse(html.UnescapeString(string(img[1])))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ref.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("inline image %s = %d %s, want 200 image/jpeg", img[1], resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	open(inline, "attachments", "ul.attachments")
	if got := eval[string](t, b, `[...document.querySelectorAll('message-view ul.attachments a.fname')].map(a => a.textContent).join('|')`); got != "Sample PDF.pdf|inline-image.jpg" {
		t.Errorf("attachments = %q", got)
	}
	open(inline, "parts", "ul.tree")
	tree := text(t, b, "message-view ul.tree")
	for _, want := range []string{"multipart/mixed", "multipart/alternative", "multipart/related", "text/html", "image/jpeg", "inline-image.jpg", "application/pdf", "Sample PDF.pdf"} {
		if !strings.Contains(tree, want) {
			t.Errorf("parts tree lacks %q:\n%s", want, tree)
		}
	}

	// RFC 2231: filename*=UTF-8''%61…%C3%BC is attachment.äöü.
	open(rfc2231, "attachments", "ul.attachments")
	if got := eval[string](t, b, `[...document.querySelectorAll('message-view ul.attachments a.fname')].map(a => a.textContent).join('|')`); got != "attachment.äöü" {
		t.Errorf("RFC 2231 attachment name = %q, want attachment.äöü", got)
	}

	// 93 Received headers plus our own: 94 hops, oldest first, ours last.
	open(received, "received", "table.hops")
	hops := eval[[]string](t, b, `[...document.querySelectorAll('message-view tr.hop')].map(r => r.cells[2].textContent)`)
	if len(hops) != 94 || !strings.Contains(hops[93], "mx.test") {
		t.Errorf("%d hops (last %q), want 94 ending with mailsink's own", len(hops), hops[len(hops)-1:])
	}
	open(received, "headers", "table.headers")
	if n := eval[int](t, b, `[...document.querySelectorAll('message-view table.headers tbody th')].filter(e => e.textContent === 'Received').length`); n != 94 {
		t.Errorf("headers tab shows %d Received fields, want 94", n)
	}

	// Malformed: stored, the finding shown, the source intact.
	open(broken, "findings", "ul.findings")
	if codes := eval[string](t, b, `[...document.querySelectorAll('message-view li.finding')].map(l => l.dataset.code).join(',')`); !strings.Contains(codes, "unclosed-boundary") {
		t.Errorf("findings of the unclosed multipart = %q", codes)
	}
	open(broken, "raw", "pre.raw")
	src := eval[string](t, b, `document.querySelector('message-view pre.raw').textContent`)
	if want := strings.ReplaceAll(string(read("malformed-no-closing-boundary.eml")), "\r\n", "\n"); !strings.HasSuffix(strings.ReplaceAll(src, "\r\n", "\n"), want) {
		t.Errorf("raw tab does not end with the file's bytes")
	}
}
