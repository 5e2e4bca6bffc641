package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"mailsink/internal/promtext"
	"mailsink/smtpd"
	"mailsink/smtpd/chaos"
	"mailsink/store"
	"mailsink/webui"
)

// metrics is mailsink's Prometheus instrumentation, served at GET
// /metrics in the text format by internal/promtext (client_golang linked
// protobuf into the binary for a format we never serve). smtpd and webui
// know nothing of Prometheus: metrics implements their Observer
// interfaces, and main wires it in. Everything lives in its own Registry,
// so tests can run servers side by side.
//
// Counters on the SMTP hot path are resolved once (per reply code, on
// first use) rather than looked up by label on every call. Store and
// chaos figures are read at scrape time from counts their owners already
// keep.
type metrics struct {
	reg *promtext.Registry

	sessionsActive *promtext.Gauge
	sessionsTotal  *promtext.Counter
	tls            [2][2]*promtext.Counter // [implicit][ok]
	auth           [2]*promtext.Counter    // [ok]
	replies        codeCounters
	messages       codeCounters
	messageBytes   *promtext.Counter
	ingest         *promtext.Histogram

	wsClients    *promtext.Gauge
	httpDuration *promtext.HistogramVec // route
	httpRequests *promtext.CounterVec   // route, code

	// handlerErrors counts failed scrapes by cause, under the name
	// promhttp gave it, so alerts on it keep working.
	handlerErrors *promtext.CounterVec
}

// Compile-time checks: metrics is both packages' Observer.
var (
	_ smtpd.Observer = (*metrics)(nil)
	_ webui.Observer = (*metrics)(nil)
)

// metricsSources are what metrics reads at scrape time.
type metricsSources struct {
	Version string
	Stats   func(ctx context.Context) (store.Stats, error) // counts the store keeps up to date; no table scan
	Chaos   *chaos.Engine                                  // nil: no chaos metrics
}

// statsTimeout bounds the store query of a scrape; Prometheus's default
// scrape timeout is 10 s.
const statsTimeout = 5 * time.Second

func newMetrics(src metricsSources) *metrics {
	reg := promtext.NewRegistry()
	m := &metrics{
		reg: reg,
		sessionsActive: reg.NewGauge(promtext.Opts{
			Name: "mailsink_smtp_sessions_active", Help: "SMTP sessions open now.",
		}),
		sessionsTotal: reg.NewCounter(promtext.Opts{
			Name: "mailsink_smtp_sessions_total", Help: "SMTP sessions started (connections turned away at the connection limits excluded).",
		}),
		messageBytes: reg.NewCounter(promtext.Opts{
			Name: "mailsink_smtp_message_bytes_total", Help: "Octets of message content received in full (DATA or BDAT), whatever the outcome.",
		}),
		ingest: reg.NewHistogram(promtext.Opts{
			Name: "mailsink_ingest_duration_seconds",
			Help: "Time from the end of a message's data to its commit in the store (the 250 follows at once).",
		},
			// Group commit makes a few ms usual; a busy disk, seconds.
			[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}),
		wsClients: reg.NewGauge(promtext.Opts{
			Name: "mailsink_websocket_clients", Help: "Event stream (websocket) clients connected now.",
		}),
		httpDuration: reg.NewHistogramVec(promtext.Opts{
			Name: "mailsink_http_request_duration_seconds",
			Help: "HTTP request latency by route: the API route pattern, or ui, no route, refused, redirect. Websockets excluded.",
		},
			// /api/v1/wait holds requests up to its timeout.
			[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
			"route"),
		httpRequests: reg.NewCounterVec(promtext.Opts{
			Name: "mailsink_http_requests_total", Help: "HTTP requests by route and status code. Websockets excluded.",
		}, "route", "code"),
		handlerErrors: reg.NewCounterVec(promtext.Opts{
			Name: "promhttp_metric_handler_errors_total", Help: "Total number of internal errors encountered by the promhttp metric handler.",
		}, "cause"),
	}
	tls := reg.NewCounterVec(promtext.Opts{
		Name: "mailsink_smtp_tls_handshakes_total", Help: "TLS handshakes by mode (starttls, implicit) and result (ok, failed).",
	}, "mode", "result")
	auth := reg.NewCounterVec(promtext.Opts{
		Name: "mailsink_smtp_auth_total", Help: "SMTP AUTH credentials judged, by result (ok, failed).",
	}, "result")
	for i, mode := range []string{"starttls", "implicit"} {
		for j, result := range []string{"failed", "ok"} {
			m.tls[i][j] = tls.With(mode, result)
		}
	}
	m.auth[0], m.auth[1] = auth.With("failed"), auth.With("ok")
	m.replies.vec = reg.NewCounterVec(promtext.Opts{
		Name: "mailsink_smtp_replies_total", Help: "SMTP replies sent, by code.",
	}, "code")
	m.messages.vec = reg.NewCounterVec(promtext.Opts{
		Name: "mailsink_smtp_messages_total",
		Help: "Messages received in full, by the code of the final reply: 250 stored, anything else rejected; none: chaos hung up.",
	}, "code")

	reg.NewGauge(promtext.Opts{
		Name: "mailsink_build_info", Help: "Always 1; the version is a label.", ConstLabels: promtext.Labels{"version": src.Version},
	}).Set(1)
	promtext.RegisterGoMetrics(reg)
	promtext.RegisterProcessMetrics(reg)
	if src.Stats != nil {
		registerStoreMetrics(reg, src.Stats)
	}
	if src.Chaos != nil {
		registerChaosMetrics(reg, src.Chaos)
	}
	return m
}

// handler serves the registry in Prometheus's text format. A failing
// collector (the store) leaves out its metrics and is logged and counted;
// the others are still served.
func (m *metrics) handler(log *slog.Logger) http.Handler {
	return promtext.Handler(m.reg, promtext.HandlerOpts{Log: log, Errors: m.handlerErrors})
}

// codeCounters is a CounterVec by SMTP reply code with the children
// cached per code: the hot path is an array load, not a label hash.
type codeCounters struct {
	vec   *promtext.CounterVec
	cache [600]atomic.Pointer[promtext.Counter]
}

func (c *codeCounters) inc(code int) {
	if code < 0 || code >= len(c.cache) {
		code = 0 // impossible for smtpd; counted as none rather than dropped
	}
	if ctr := c.cache[code].Load(); ctr != nil {
		ctr.Inc()
		return
	}
	label := "none"
	if code != 0 {
		label = strconv.Itoa(code)
	}
	ctr := c.vec.With(label) // the same child for every racer
	c.cache[code].Store(ctr)
	ctr.Inc()
}

// SessionStarted implements smtpd.Observer.
func (m *metrics) SessionStarted() {
	m.sessionsTotal.Inc()
	m.sessionsActive.Inc()
}

// SessionEnded implements smtpd.Observer.
func (m *metrics) SessionEnded() { m.sessionsActive.Dec() }

// TLS implements smtpd.Observer.
func (m *metrics) TLS(implicit, ok bool) { m.tls[b2i(implicit)][b2i(ok)].Inc() }

// Auth implements smtpd.Observer.
func (m *metrics) Auth(ok bool) { m.auth[b2i(ok)].Inc() }

// Reply implements smtpd.Observer.
func (m *metrics) Reply(code int) { m.replies.inc(code) }

// Message implements smtpd.Observer.
func (m *metrics) Message(code int, size int64) {
	m.messages.inc(code)
	m.messageBytes.Add(float64(size))
}

// ingested records a message's time from end of data to commit.
func (m *metrics) ingested(d time.Duration) { m.ingest.Observe(d.Seconds()) }

// Request implements webui.Observer.
func (m *metrics) Request(route string, status int, d time.Duration) {
	m.httpDuration.With(route).Observe(d.Seconds())
	m.httpRequests.With(route, strconv.Itoa(status)).Inc()
}

// WebsocketOpened implements webui.Observer.
func (m *metrics) WebsocketOpened() { m.wsClients.Inc() }

// WebsocketClosed implements webui.Observer.
func (m *metrics) WebsocketClosed() { m.wsClients.Dec() }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// registerStoreMetrics reads the store's maintained counts at scrape time
// (one small read transaction: trigger-kept counters and page_count *
// page_size, no table scan). When the read fails the scrape goes without
// them.
func registerStoreMetrics(reg *promtext.Registry, stats func(ctx context.Context) (store.Stats, error)) {
	messages := reg.NewFamily(promtext.Opts{Name: "mailsink_store_messages", Help: "Messages in the store."}, promtext.KindGauge)
	unread := reg.NewFamily(promtext.Opts{Name: "mailsink_store_unread_messages", Help: "Unread messages in the store."}, promtext.KindGauge)
	size := reg.NewFamily(promtext.Opts{Name: "mailsink_store_size_bytes", Help: "Size of the SQLite database file (page_count * page_size; the WAL aside)."}, promtext.KindGauge)
	reg.Collect("store", func(ctx context.Context, s *promtext.Scrape) error {
		ctx, cancel := context.WithTimeout(ctx, statsTimeout)
		defer cancel()
		st, err := stats(ctx)
		if err != nil {
			return fmt.Errorf("store stats: %w", err)
		}
		s.Add(messages, float64(st.Total))
		s.Add(unread, float64(st.Unread))
		s.Add(size, float64(st.DBSize))
		return nil
	})
}

// registerChaosMetrics reports the chaos engine's own per-rule counters at
// scrape time: the engine counts under its lock anyway, and only it knows
// which rule fired (smtpd sees the combined action). The counters restart
// when a rule is redefined or the statistics are reset, which Prometheus
// takes as a counter reset.
func registerChaosMetrics(reg *promtext.Registry, e *chaos.Engine) {
	rule := []string{"rule", "origin", "stage"}
	active := reg.NewFamily(promtext.Opts{Name: "mailsink_chaos_active", Help: "1 when some chaos rule, trigger or magic address can fire."}, promtext.KindGauge)
	matched := reg.NewFamily(promtext.Opts{Name: "mailsink_chaos_rule_matched_total", Help: "Times a chaos rule matched."}, promtext.KindCounter, rule...)
	fired := reg.NewFamily(promtext.Opts{Name: "mailsink_chaos_rule_fired_total", Help: "Times a chaos rule fired (acted)."}, promtext.KindCounter, rule...)
	actions := reg.NewFamily(promtext.Opts{Name: "mailsink_chaos_actions_total", Help: "Chaos actions taken, by kind (reply, disconnect, delay, throttle)."}, promtext.KindCounter, "action")
	reg.Collect("chaos", func(_ context.Context, s *promtext.Scrape) error {
		s.Add(active, float64(b2i(e.Active())))
		st := e.Stats()
		// Rule names need not be unique; a series must be.
		type key struct{ rule, origin, stage string }
		type counts struct{ matched, fired uint64 }
		byRule := map[key]counts{}
		for _, r := range st.Rules {
			k := key{r.Name, r.Origin, r.Stage}
			n := byRule[k]
			byRule[k] = counts{n.matched + r.Matched, n.fired + r.Fired}
		}
		for k, n := range byRule { // the output is sorted whatever the order
			s.Add(matched, float64(n.matched), k.rule, k.origin, k.stage)
			s.Add(fired, float64(n.fired), k.rule, k.origin, k.stage)
		}
		for action, n := range st.Actions {
			s.Add(actions, float64(n), action)
		}
		return nil
	})
}
