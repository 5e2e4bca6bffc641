package main

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"mailsink/smtpd"
	"mailsink/smtpd/chaos"
	"mailsink/store"
	"mailsink/webui"
)

// metrics is mailsink's Prometheus instrumentation, served at GET
// /metrics. smtpd and webui know nothing of Prometheus: metrics
// implements their Observer interfaces, and main wires it in. Everything
// lives in its own Registry (never the global default), so tests can run
// servers side by side.
//
// Counters on the SMTP hot path are resolved once (per reply code, on
// first use) rather than looked up by label on every call. Store and
// chaos figures are read at scrape time from counts their owners already
// keep.
type metrics struct {
	reg *prometheus.Registry

	sessionsActive prometheus.Gauge
	sessionsTotal  prometheus.Counter
	tls            [2][2]prometheus.Counter // [implicit][ok]
	auth           [2]prometheus.Counter    // [ok]
	replies        codeCounters
	messages       codeCounters
	messageBytes   prometheus.Counter
	ingest         prometheus.Histogram

	wsClients    prometheus.Gauge
	httpDuration *prometheus.HistogramVec // route
	httpRequests *prometheus.CounterVec   // route, code
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
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		sessionsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailsink_smtp_sessions_active", Help: "SMTP sessions open now.",
		}),
		sessionsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailsink_smtp_sessions_total", Help: "SMTP sessions started (connections turned away at the connection limits excluded).",
		}),
		messageBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailsink_smtp_message_bytes_total", Help: "Octets of message content received in full (DATA or BDAT), whatever the outcome.",
		}),
		ingest: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mailsink_ingest_duration_seconds",
			Help: "Time from the end of a message's data to its commit in the store (the 250 follows at once).",
			// Group commit makes a few ms usual; a busy disk, seconds.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		wsClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailsink_websocket_clients", Help: "Event stream (websocket) clients connected now.",
		}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mailsink_http_request_duration_seconds",
			Help: "HTTP request latency by route: the API route pattern, or ui, no route, refused, redirect. Websockets excluded.",
			// /api/v1/wait holds requests up to its timeout.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailsink_http_requests_total", Help: "HTTP requests by route and status code. Websockets excluded.",
		}, []string{"route", "code"}),
	}
	tls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailsink_smtp_tls_handshakes_total", Help: "TLS handshakes by mode (starttls, implicit) and result (ok, failed).",
	}, []string{"mode", "result"})
	auth := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailsink_smtp_auth_total", Help: "SMTP AUTH credentials judged, by result (ok, failed).",
	}, []string{"result"})
	for i, mode := range []string{"starttls", "implicit"} {
		for j, result := range []string{"failed", "ok"} {
			m.tls[i][j] = tls.WithLabelValues(mode, result)
		}
	}
	m.auth[0], m.auth[1] = auth.WithLabelValues("failed"), auth.WithLabelValues("ok")
	m.replies.vec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailsink_smtp_replies_total", Help: "SMTP replies sent, by code.",
	}, []string{"code"})
	m.messages.vec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mailsink_smtp_messages_total",
		Help: "Messages received in full, by the code of the final reply: 250 stored, anything else rejected; none: chaos hung up.",
	}, []string{"code"})

	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mailsink_build_info", Help: "Always 1; the version is a label.", ConstLabels: prometheus.Labels{"version": src.Version},
	})
	build.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
		m.sessionsActive, m.sessionsTotal, tls, auth, m.replies.vec, m.messages.vec, m.messageBytes, m.ingest,
		m.wsClients, m.httpDuration, m.httpRequests,
	)
	if src.Stats != nil {
		reg.MustRegister(newStoreCollector(src.Stats))
	}
	if src.Chaos != nil {
		reg.MustRegister(newChaosCollector(src.Chaos))
	}
	return m
}

// handler serves the registry in Prometheus's text format (or
// OpenMetrics when asked). A failing collector (the store) leaves out its
// metrics and is logged; the others are still served.
func (m *metrics) handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg, // promhttp_metric_handler_errors_total
	})
}

// codeCounters is a CounterVec by SMTP reply code with the children
// cached per code: the hot path is an array load, not a label hash.
type codeCounters struct {
	vec   *prometheus.CounterVec
	cache [600]atomic.Pointer[prometheus.Counter]
}

func (c *codeCounters) inc(code int) {
	if code < 0 || code >= len(c.cache) {
		code = 0 // impossible for smtpd; counted as none rather than dropped
	}
	if p := c.cache[code].Load(); p != nil {
		(*p).Inc()
		return
	}
	label := "none"
	if code != 0 {
		label = strconv.Itoa(code)
	}
	ctr := c.vec.WithLabelValues(label) // the same child for every racer
	c.cache[code].Store(&ctr)
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
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
	m.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
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

// storeCollector reads the store's maintained counts at scrape time (one
// small read transaction: trigger-kept counters and page_count *
// page_size, no table scan).
type storeCollector struct {
	stats                func(ctx context.Context) (store.Stats, error)
	messages, unread, sz *prometheus.Desc
}

func newStoreCollector(stats func(ctx context.Context) (store.Stats, error)) *storeCollector {
	return &storeCollector{
		stats:    stats,
		messages: prometheus.NewDesc("mailsink_store_messages", "Messages in the store.", nil, nil),
		unread:   prometheus.NewDesc("mailsink_store_unread_messages", "Unread messages in the store.", nil, nil),
		sz:       prometheus.NewDesc("mailsink_store_size_bytes", "Size of the SQLite database file (page_count * page_size; the WAL aside).", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.messages
	ch <- c.unread
	ch <- c.sz
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.messages, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.messages, prometheus.GaugeValue, float64(st.Total))
	ch <- prometheus.MustNewConstMetric(c.unread, prometheus.GaugeValue, float64(st.Unread))
	ch <- prometheus.MustNewConstMetric(c.sz, prometheus.GaugeValue, float64(st.DBSize))
}

// chaosCollector reports the chaos engine's own per-rule counters at
// scrape time: the engine counts under its lock anyway, and only it knows
// which rule fired (smtpd sees the combined action). The counters restart
// when a rule is redefined or the statistics are reset, which Prometheus
// takes as a counter reset.
type chaosCollector struct {
	engine                          *chaos.Engine
	active, matched, fired, actions *prometheus.Desc
}

func newChaosCollector(e *chaos.Engine) *chaosCollector {
	rule := []string{"rule", "origin", "stage"}
	return &chaosCollector{
		engine:  e,
		active:  prometheus.NewDesc("mailsink_chaos_active", "1 when some chaos rule, trigger or magic address can fire.", nil, nil),
		matched: prometheus.NewDesc("mailsink_chaos_rule_matched_total", "Times a chaos rule matched.", rule, nil),
		fired:   prometheus.NewDesc("mailsink_chaos_rule_fired_total", "Times a chaos rule fired (acted).", rule, nil),
		actions: prometheus.NewDesc("mailsink_chaos_actions_total", "Chaos actions taken, by kind (reply, disconnect, delay, throttle).", []string{"action"}, nil),
	}
}

func (c *chaosCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.active
	ch <- c.matched
	ch <- c.fired
	ch <- c.actions
}

func (c *chaosCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(b2i(c.engine.Active())))
	st := c.engine.Stats()
	// Rule names need not be unique; a series must be.
	type key struct{ rule, origin, stage string }
	type counts struct{ matched, fired uint64 }
	byRule := map[key]counts{}
	var order []key
	for _, r := range st.Rules {
		k := key{r.Name, r.Origin, r.Stage}
		n, seen := byRule[k]
		if !seen {
			order = append(order, k)
		}
		byRule[k] = counts{n.matched + r.Matched, n.fired + r.Fired}
	}
	for _, k := range order {
		n := byRule[k]
		ch <- prometheus.MustNewConstMetric(c.matched, prometheus.CounterValue, float64(n.matched), k.rule, k.origin, k.stage)
		ch <- prometheus.MustNewConstMetric(c.fired, prometheus.CounterValue, float64(n.fired), k.rule, k.origin, k.stage)
	}
	for action, n := range st.Actions {
		ch <- prometheus.MustNewConstMetric(c.actions, prometheus.CounterValue, float64(n), action)
	}
}
