package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"mailsink/internal/mailmut"
)

// raceEnabled reports whether the test binary was built with -race, which
// the build info records; it spares the root package a pair of
// build-tagged files for one constant.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// utf8Decode decodes raw the way the browser's fetch().text() does (the
// WHATWG UTF-8 decoder): a leading BOM is dropped and each maximal invalid
// subpart becomes one U+FFFD. Go's own decoding replaces byte by byte,
// which would count differently.
func utf8Decode(raw []byte) string {
	b := strings.TrimPrefix(string(raw), "\uFEFF")
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			sb.WriteByte(c)
			i++
			continue
		}
		need, lo, hi := 0, byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c >= 0xE0 && c <= 0xEF:
			need = 2
			if c == 0xE0 {
				lo = 0xA0
			} else if c == 0xED {
				hi = 0x9F
			}
		case c >= 0xF0 && c <= 0xF4:
			need = 3
			if c == 0xF0 {
				lo = 0x90
			} else if c == 0xF4 {
				hi = 0x8F
			}
		default:
			sb.WriteRune(utf8.RuneError)
			i++
			continue
		}
		j := i + 1
		for ; j <= i+need && j < len(b) && b[j] >= lo && b[j] <= hi; j++ {
			lo, hi = 0x80, 0xBF // only the first continuation byte is narrowed
		}
		if j == i+need+1 {
			sb.WriteString(b[i:j])
		} else {
			sb.WriteRune(utf8.RuneError) // the byte that broke the sequence starts afresh
		}
		i = j
	}
	return sb.String()
}

// rawTabText is the textContent the Raw tab must show for a source: the
// text split at CRLF or LF (a final empty line dropped), each line followed
// by a line feed, with NUL and a lone CR shown as the Control Pictures
// ␀ and ␍ (the HTML parser would otherwise drop or break on them), and
// only the first rawMaxLines lines shown; nothing else may change.
func rawTabText(raw []byte) (text string, lines, total int) {
	ls := strings.Split(strings.ReplaceAll(utf8Decode(raw), "\r\n", "\n"), "\n")
	if len(ls) > 1 && ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	total = len(ls)
	if len(ls) > rawMaxLines {
		ls = ls[:rawMaxLines]
	}
	r := strings.NewReplacer("\r", "\u240d", "\x00", "\u2400")
	var sb strings.Builder
	for _, l := range ls {
		sb.WriteString(r.Replace(l))
		sb.WriteByte('\n')
	}
	return sb.String(), len(ls), total
}

// rawMaxLines is RAW_MAX_LINES in assets/js/tabs/raw-tab.js.
const rawMaxLines = 20000

// openRawJS opens the Raw tab of message id and resolves, as soon as the
// view has settled on the tab's text or on an error, to what it shows. A
// MutationObserver sees the settling the moment it happens, where polling
// would add its interval to each of hundreds of messages.
func openRawJS(id string) string {
	q := strconv.Quote(id)
	return `new Promise((resolve, reject) => {
	const v = document.querySelector('message-view');
	const read = () => {
		if (v.messageID !== ` + q + `) return null;
		const err = v.querySelector('p.error');
		const pre = v.querySelector('section.panel[data-tab="raw"] pre.raw');
		if (!err && !pre) return null;
		const notice = document.querySelector('#notice');
		return {
			Error: err?.textContent ?? '',
			Notice: notice.hidden ? '' : notice.textContent,
			Subject: v.querySelector('h2.msg-subject') !== null,
			Truncated: v.querySelector('section.panel[data-tab="raw"] .raw-truncated') !== null,
			Text: pre?.textContent ?? '',
			Lines: pre?.querySelectorAll(':scope > span.line').length ?? 0,
		};
	};
	const obs = new MutationObserver(() => {
		const r = read();
		if (r) { obs.disconnect(); clearTimeout(timer); resolve(r); }
	});
	const timer = setTimeout(() => { // a bound, not a wait: the view is long done by then
		obs.disconnect();
		reject(new Error('not settled after 30s; the view has: ' + v.innerHTML.slice(0, 500)));
	}, 30000);
	obs.observe(v, { childList: true, subtree: true });
	location.hash = ` + strconv.Quote("#/message/"+id+"/raw") + `;
})`
}

// TestUICorpusMutants: every corpus message and fixture, and a sample of
// the mutants TestCorpusMutants feeds the API, sent over SMTP, show in the
// browser's Raw tab exactly as the API serves them (NUL and bare CR as
// visible symbols, long sources cut at rawMaxLines with a note), with no
// error in the view and no uncaught exception.
func TestUICorpusMutants(t *testing.T) {
	dir := corpusDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	fixtures, err := filepath.Glob(filepath.Join("testdata", "mail", "*.eml"))
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var bases [][]byte
	for _, f := range append(files, fixtures...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, raw)
	}
	js, err := os.ReadFile(filepath.Join("assets", "js", "tabs", "raw-tab.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), fmt.Sprintf("RAW_MAX_LINES = %d;", rawMaxLines)) {
		t.Fatalf("raw-tab.js does not set RAW_MAX_LINES = %d; keep rawMaxLines in step", rawMaxLines)
	}
	mutants := 150
	if raceEnabled() {
		mutants = 60 // the server is some 30 times slower under -race; the browser is not
	}

	start := time.Now()
	b := newBrowserFor(t, 3*time.Minute)
	s := startServer(t, nil, "-max-message-size=64MiB")
	type sent struct {
		name string
		id   string
		raw  []byte
	}
	var all []sent
	c := dialSMTP(t, s.smtp)
	c.cmd(250, "EHLO mutants.test")
	send := func(name string, raw []byte) {
		t.Helper()
		reply := c.sendBDAT("sender@mutants.test", "rcpt@mutants.test", raw) // BDAT carries bare CR, LF and NUL as they are
		m := queuedID.FindStringSubmatch(reply)
		if m == nil {
			t.Fatalf("%s: reply %q names no id", name, reply)
		}
		all = append(all, sent{name, m[1], raw})
	}
	for i, raw := range bases {
		name := "fixture " + filepath.Base(fixtures[max(0, i-len(files))])
		if i < len(files) {
			name = "corpus " + filepath.Base(files[i])
		}
		send(name, raw)
	}
	mm := mailmut.New(7, 2024) // TestCorpusMutants' seeds: these are its first mutants
	for i := range mutants {
		raw, ops := mm.Mutate(bases[mm.IntN(len(bases))], bases[mm.IntN(len(bases))])
		send(fmt.Sprintf("mutant %d (%s)", i, strings.Join(ops, ", ")), raw)
	}
	c.cmd(221, "QUIT")
	delivered := time.Since(start)

	openApp(t, b, s, "")
	var shown, lines, symbols, cut int
	for _, m := range all {
		stored := getBytes(t, s.url("/api/v1/message/"+m.id+"/raw"))
		checkStored(t, m.name, stored, m.raw)
		got := eval[struct {
			Error, Notice, Text string
			Subject, Truncated  bool
			Lines               int
		}](t, b, openRawJS(m.id))
		want, n, total := rawTabText(stored)
		switch {
		case got.Error != "" || got.Notice != "":
			t.Errorf("%s (%s): view shows error %q, notice %q", m.name, m.id, got.Error, got.Notice)
		case !got.Subject:
			t.Errorf("%s (%s): message header not shown", m.name, m.id)
		case got.Truncated != (total > rawMaxLines):
			t.Errorf("%s (%s): %d lines, truncation note shown: %v", m.name, m.id, total, got.Truncated)
		case got.Text != want || got.Lines != n:
			i := 0
			for i < min(len(got.Text), len(want)) && got.Text[i] == want[i] {
				i++
			}
			t.Errorf("%s (%s): Raw tab shows %d lines, %d bytes of text, want %d lines, %d bytes; first difference at byte %d: %q, want %q",
				m.name, m.id, got.Lines, len(got.Text), n, len(want), i, got.Text[i:min(i+40, len(got.Text))], want[i:min(i+40, len(want))])
		}
		if t.Failed() {
			break // the first failure says it; the rest are likely the same
		}
		shown++
		lines += n
		if strings.ContainsRune(string(stored), 0) || strings.Contains(strings.ReplaceAll(string(stored), "\r\n", ""), "\r") {
			symbols++
		}
		if total > rawMaxLines {
			cut++
		}
	}
	t.Logf("%d messages and %d mutants delivered in %v; %d shown in the Raw tab (%d lines; %d with NULs or bare CRs, %d cut at %d lines), all in %v",
		len(bases), mutants, delivered.Round(time.Millisecond), shown, lines, symbols, cut, rawMaxLines, time.Since(start).Round(time.Millisecond))
}
