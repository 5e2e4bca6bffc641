package promtext

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// text writes r and fails the test on any error.
func text(t *testing.T, r *Registry) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteText(context.Background(), &b); err != nil {
		t.Fatalf("WriteText: %v", err)
	}
	return b.String()
}

// parse checks out with the reference parser (the one Prometheus's
// client libraries use) and returns its families.
func parse(t *testing.T, out string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(out))
	if err != nil {
		t.Fatalf("expfmt cannot parse the output: %v\n%s", err, out)
	}
	return fams
}

func TestEscaping(t *testing.T) {
	for _, tt := range []struct {
		name, help, value string
		want              string
	}{
		{"plain", "Plain help.", "v", "# HELP m Plain help.\n# TYPE m counter\nm{l=\"v\"} 1\n"},
		{"backslash", `a\b`, `c\d`, "# HELP m a\\\\b\n# TYPE m counter\nm{l=\"c\\\\d\"} 1\n"},
		{"newline", "two\nlines", "x\ny", "# HELP m two\\nlines\n# TYPE m counter\nm{l=\"x\\ny\"} 1\n"},
		// A HELP line leaves double quotes alone; a label value escapes them.
		{"quote", `say "hi"`, `say "hi"`, "# HELP m say \"hi\"\n# TYPE m counter\nm{l=\"say \\\"hi\\\"\"} 1\n"},
		{"all", "\\\n\"", "\\\n\"", "# HELP m \\\\\\n\"\n# TYPE m counter\nm{l=\"\\\\\\n\\\"\"} 1\n"},
		{"no help", "", "v", "# TYPE m counter\nm{l=\"v\"} 1\n"},
		{"empty value", "h", "", "# HELP m h\n# TYPE m counter\nm{l=\"\"} 1\n"},
		{"invalid utf-8", "h", "a\xffb", "# HELP m h\n# TYPE m counter\nm{l=\"a\uFFFDb\"} 1\n"},
		{"unicode", "h", "héllo ✉", "# HELP m h\n# TYPE m counter\nm{l=\"héllo ✉\"} 1\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRegistry()
			r.NewCounterVec(Opts{Name: "m", Help: tt.help}, "l").With(tt.value).Inc()
			out := text(t, r)
			if out != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out, tt.want)
			}
			fams := parse(t, out)
			if got := fams["m"].GetMetric()[0].GetLabel()[0].GetValue(); got != validUTF8(tt.value) {
				t.Errorf("parsed label value %q, want %q", got, tt.value)
			}
			if got := fams["m"].GetHelp(); got != tt.help {
				t.Errorf("parsed help %q, want %q", got, tt.help)
			}
		})
	}
}

func TestFormatFloat(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {1, "1"}, {-1, "-1"}, {2, "2"}, {0.5, "0.5"},
		{0.0005, "0.0005"}, {1e-05, "1e-05"}, {2.5, "2.5"}, {123456789, "1.23456789e+08"},
		{21336064, "2.1336064e+07"}, {math.MaxUint64, "1.8446744073709552e+19"},
		{math.Inf(+1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"},
	} {
		if got := formatFloat(tt.v); got != tt.want {
			t.Errorf("formatFloat(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestHistogramBuckets(t *testing.T) {
	r := NewRegistry()
	h := r.NewHistogram(Opts{Name: "lat_seconds", Help: "Latency."}, []float64{0.1, 0.5, 1, math.Inf(+1)})
	// On a bound counts in its bucket (le is inclusive); above every
	// bound only in +Inf.
	for _, v := range []float64{0.05, 0.1, 0.2, 0.5, 0.7, 1, 3, 100} {
		h.Observe(v)
	}
	want := `# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.1"} 2
lat_seconds_bucket{le="0.5"} 4
lat_seconds_bucket{le="1"} 6
lat_seconds_bucket{le="+Inf"} 8
lat_seconds_sum 105.55
lat_seconds_count 8
`
	out := text(t, r)
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	hist := parse(t, out)["lat_seconds"].GetMetric()[0].GetHistogram()
	if hist.GetSampleCount() != 8 || len(hist.GetBucket()) != 4 || hist.GetBucket()[2].GetCumulativeCount() != 6 || hist.GetBucket()[3].GetCumulativeCount() != 8 {
		t.Errorf("parsed %v", hist)
	}

	t.Run("empty", func(t *testing.T) {
		r := NewRegistry()
		r.NewHistogram(Opts{Name: "h", Help: "H."}, []float64{1})
		want := "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n"
		if out := text(t, r); out != want {
			t.Errorf("got\n%s\nwant\n%s", out, want)
		}
	})
	t.Run("NaN", func(t *testing.T) {
		r := NewRegistry()
		h := r.NewHistogram(Opts{Name: "h"}, []float64{1})
		h.Observe(math.NaN())
		want := "# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 1\nh_sum NaN\nh_count 1\n"
		if out := text(t, r); out != want {
			t.Errorf("got\n%s\nwant\n%s", out, want)
		}
	})
}

func TestVecLabels(t *testing.T) {
	r := NewRegistry()
	// Labels print sorted by name, constant ones among them, and series
	// sort by their values in that order, as client_golang's did.
	cv := r.NewCounterVec(Opts{Name: "req_total", Help: "Requests.", ConstLabels: Labels{"instance": "a"}}, "route", "code")
	cv.With("GET /b", "200").Add(2)
	cv.With("GET /a", "500").Inc()
	cv.With("GET /a", "200").Inc()
	cv.With("GET /a", "200").Inc() // the same child
	hv := r.NewHistogramVec(Opts{Name: "dur_seconds", Help: "Durations."}, []float64{1}, "route")
	hv.With("y").Observe(2)
	hv.With("x").Observe(0.5)
	r.NewCounterVec(Opts{Name: "unused_total", Help: "Never touched."}, "x") // no series: no lines
	r.NewGauge(Opts{Name: "build_info", Help: "Build.", ConstLabels: Labels{"version": "v1", "go": "1.26"}}).Set(1)

	want := `# HELP build_info Build.
# TYPE build_info gauge
build_info{go="1.26",version="v1"} 1
# HELP dur_seconds Durations.
# TYPE dur_seconds histogram
dur_seconds_bucket{route="x",le="1"} 1
dur_seconds_bucket{route="x",le="+Inf"} 1
dur_seconds_sum{route="x"} 0.5
dur_seconds_count{route="x"} 1
dur_seconds_bucket{route="y",le="1"} 0
dur_seconds_bucket{route="y",le="+Inf"} 1
dur_seconds_sum{route="y"} 2
dur_seconds_count{route="y"} 1
# HELP req_total Requests.
# TYPE req_total counter
req_total{code="200",instance="a",route="GET /a"} 2
req_total{code="200",instance="a",route="GET /b"} 2
req_total{code="500",instance="a",route="GET /a"} 1
`
	out := text(t, r)
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	parse(t, out)
	if out2 := text(t, r); out2 != out {
		t.Errorf("a second scrape differs:\n%s", out2)
	}

	// Values that would run together if joined must stay apart.
	kv := r.NewCounterVec(Opts{Name: "k_total"}, "a", "b")
	kv.With("ab", "").Inc()
	kv.With("a", "b").Inc()
	kv.With("", "ab").Inc()
	if fams := parse(t, text(t, r)); len(fams["k_total"].GetMetric()) != 3 {
		t.Errorf("k_total has %d series, want 3", len(fams["k_total"].GetMetric()))
	}

	defer func() {
		if recover() == nil {
			t.Error("With with too few values did not panic")
		}
	}()
	cv.With("GET /a")
}

func TestCounterAndGauge(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounter(Opts{Name: "c_total"})
	c.Inc()
	c.Add(2)
	c.Add(0.25)
	c.Add(-5)         // ignored: counters only go up
	c.Add(math.NaN()) // ignored
	if got := c.Value(); got != 3.25 {
		t.Errorf("counter = %v, want 3.25", got)
	}
	c.Add(1e20) // beyond uint64's whole numbers: the float part
	if got := c.Value(); got != 1e20+3.25 {
		t.Errorf("counter = %v, want 1e20", got)
	}
	g := r.NewGauge(Opts{Name: "g"})
	g.Inc()
	g.Inc()
	g.Dec()
	g.Add(-3.5)
	if got := g.Value(); got != -2.5 {
		t.Errorf("gauge = %v, want -2.5", got)
	}
	g.Set(math.Inf(+1))
	if out, want := text(t, r), "# TYPE c_total counter\nc_total 1e+20\n# TYPE g gauge\ng +Inf\n"; out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// TestConcurrent updates from many goroutines while scraping; run with
// -race. No update may be lost.
func TestConcurrent(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounter(Opts{Name: "c_total"})
	g := r.NewGauge(Opts{Name: "g"})
	h := r.NewHistogram(Opts{Name: "h"}, []float64{1, 2})
	cv := r.NewCounterVec(Opts{Name: "v_total"}, "k")
	hv := r.NewHistogramVec(Opts{Name: "hv"}, []float64{1}, "k")
	const workers, n = 8, 2000
	keys := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range n {
				c.Inc()
				c.Add(0.5)
				g.Inc()
				h.Observe(float64(i % 3))
				cv.With(keys[(w+i)%len(keys)]).Inc()
				hv.With(keys[i%len(keys)]).Observe(1)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			var b bytes.Buffer
			if err := r.WriteText(context.Background(), &b); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	fams := parse(t, text(t, r))
	total := float64(workers * n)
	if got := fams["c_total"].GetMetric()[0].GetCounter().GetValue(); got != total*1.5 {
		t.Errorf("c_total = %v, want %v", got, total*1.5)
	}
	if got := fams["g"].GetMetric()[0].GetGauge().GetValue(); got != total {
		t.Errorf("g = %v, want %v", got, total)
	}
	if got := fams["h"].GetMetric()[0].GetHistogram().GetSampleCount(); got != uint64(total) {
		t.Errorf("h count = %v, want %v", got, total)
	}
	var sum float64
	for _, m := range fams["v_total"].GetMetric() {
		sum += m.GetCounter().GetValue()
	}
	if sum != total || len(fams["v_total"].GetMetric()) != len(keys) {
		t.Errorf("v_total: %d series summing to %v, want %d and %v", len(fams["v_total"].GetMetric()), sum, len(keys), total)
	}
	var hn uint64
	for _, m := range fams["hv"].GetMetric() {
		hn += m.GetHistogram().GetSampleCount()
	}
	if hn != uint64(total) {
		t.Errorf("hv counts sum to %d, want %v", hn, total)
	}
}

// TestHotPathAllocs: what smtpd and webui call per message and request
// must not allocate.
func TestHotPathAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate")
	}
	r := NewRegistry()
	c := r.NewCounter(Opts{Name: "c_total"})
	g := r.NewGauge(Opts{Name: "g"})
	h := r.NewHistogram(Opts{Name: "h"}, []float64{.001, .01, .1, 1, 10})
	cv := r.NewCounterVec(Opts{Name: "v_total"}, "route", "code")
	hv := r.NewHistogramVec(Opts{Name: "hv"}, []float64{1}, "route")
	route := "GET /api/v1/message/{id}"
	cv.With(route, "200")
	hv.With(route)
	for name, f := range map[string]func(){
		"Counter.Inc":       c.Inc,
		"Counter.Add":       func() { c.Add(2048) },
		"Gauge.Inc":         g.Inc,
		"Histogram.Observe": func() { h.Observe(0.003) },
		"CounterVec.With":   func() { cv.With(route, "200").Inc() },
		"HistogramVec.With": func() { hv.With(route).Observe(0.2) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
}

func TestCollectors(t *testing.T) {
	r := NewRegistry()
	up := r.NewFamily(Opts{Name: "up_things", Help: "Things up."}, KindGauge, "thing")
	sum := r.NewFamily(Opts{Name: "pause_seconds", Help: "Pauses."}, KindSummary)
	failing := r.NewFamily(Opts{Name: "from_failing", Help: "Never served."}, KindGauge)
	r.Collect("good", func(_ context.Context, s *Scrape) error {
		s.Add(up, 1, "b")
		s.Add(up, 0, "a")
		s.AddSummary(sum, 3, 0.75, []Quantile{{1, 0.5}, {0, 0.1}, {0.5, 0.15}})
		return nil
	})
	errStore := errors.New("database is locked")
	r.Collect("bad", func(_ context.Context, s *Scrape) error {
		s.Add(failing, 1)
		s.Add(up, 5, "from bad") // dropped with the rest of this collector
		return errStore
	})
	var b bytes.Buffer
	err := r.WriteText(context.Background(), &b)
	var ce *CollectError
	if !errors.As(err, &ce) || ce.Collector != "bad" || !errors.Is(err, errStore) {
		t.Errorf("WriteText error = %v, want the bad collector's, wrapped", err)
	}
	want := `# HELP pause_seconds Pauses.
# TYPE pause_seconds summary
pause_seconds{quantile="0"} 0.1
pause_seconds{quantile="0.5"} 0.15
pause_seconds{quantile="1"} 0.5
pause_seconds_sum 0.75
pause_seconds_count 3
# HELP up_things Things up.
# TYPE up_things gauge
up_things{thing="a"} 0
up_things{thing="b"} 1
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	parse(t, b.String())
}

func TestCollectorMistakes(t *testing.T) {
	for _, tt := range []struct {
		name    string
		collect func(s *Scrape, gauge, summary, foreign *Family)
		want    string
	}{
		{"label count", func(s *Scrape, g, _, _ *Family) { s.Add(g, 1) }, "0 label values for 1 labels"},
		{"summary by Add", func(s *Scrape, _, sm, _ *Family) { s.Add(sm, 1) }, "takes AddSummary"},
		{"gauge by AddSummary", func(s *Scrape, g, _, _ *Family) { s.AddSummary(g, 1, 1, nil, "x") }, "takes Add"},
		{"another registry", func(s *Scrape, _, _, f *Family) { s.Add(f, 1) }, "another registry"},
		{"twice", func(s *Scrape, g, _, _ *Family) { s.Add(g, 1, "x"); s.Add(g, 2, "x") }, "supplied twice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRegistry()
			g := r.NewFamily(Opts{Name: "g"}, KindGauge, "l")
			sm := r.NewFamily(Opts{Name: "s"}, KindSummary)
			foreign := NewRegistry().NewFamily(Opts{Name: "f"}, KindGauge)
			r.Collect("c", func(_ context.Context, s *Scrape) error {
				tt.collect(s, g, sm, foreign)
				return nil
			})
			var b bytes.Buffer
			err := r.WriteText(context.Background(), &b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
			parse(t, b.String())
			if strings.Count(b.String(), "g{") > 1 {
				t.Errorf("a series twice:\n%s", b.String())
			}
		})
	}
}

func TestRegistrationPanics(t *testing.T) {
	for _, tt := range []struct {
		name string
		reg  func(r *Registry)
	}{
		{"empty name", func(r *Registry) { r.NewCounter(Opts{}) }},
		{"bad name", func(r *Registry) { r.NewCounter(Opts{Name: "a-b"}) }},
		{"digit first", func(r *Registry) { r.NewCounter(Opts{Name: "1a"}) }},
		{"twice", func(r *Registry) { r.NewCounter(Opts{Name: "a"}); r.NewGauge(Opts{Name: "a"}) }},
		{"bad label", func(r *Registry) { r.NewCounterVec(Opts{Name: "a"}, "a:b") }},
		{"reserved label", func(r *Registry) { r.NewCounterVec(Opts{Name: "a"}, "__name") }},
		{"label twice", func(r *Registry) { r.NewCounterVec(Opts{Name: "a"}, "x", "x") }},
		{"const and variable", func(r *Registry) { r.NewCounterVec(Opts{Name: "a", ConstLabels: Labels{"x": "1"}}, "x") }},
		{"le on a histogram", func(r *Registry) { r.NewHistogramVec(Opts{Name: "a"}, []float64{1}, "le") }},
		{"quantile on a summary", func(r *Registry) { r.NewFamily(Opts{Name: "a"}, KindSummary, "quantile") }},
		{"unsorted buckets", func(r *Registry) { r.NewHistogram(Opts{Name: "a"}, []float64{2, 1}) }},
		{"repeated bucket", func(r *Registry) { r.NewHistogram(Opts{Name: "a"}, []float64{1, 1}) }},
		{"NaN bucket", func(r *Registry) { r.NewHistogram(Opts{Name: "a"}, []float64{math.NaN()}) }},
		{"collected histogram", func(r *Registry) { r.NewFamily(Opts{Name: "a"}, KindHistogram) }},
		{"clash with _count", func(r *Registry) { r.NewHistogram(Opts{Name: "a"}, nil); r.NewCounter(Opts{Name: "a_count"}) }},
		{"clash with _sum", func(r *Registry) { r.NewGauge(Opts{Name: "a_sum"}); r.NewFamily(Opts{Name: "a"}, KindSummary) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.reg(NewRegistry())
		})
	}
	// "le" is fine outside histograms, and le="+Inf" given is implied.
	r := NewRegistry()
	r.NewCounterVec(Opts{Name: "a"}, "le")
	r.NewHistogram(Opts{Name: "b"}, []float64{1, math.Inf(+1)}).Observe(1)
	if out := text(t, r); strings.Count(out, `le="+Inf"`) != 1 {
		t.Errorf("+Inf bucket not once:\n%s", out)
	}
}

// TestRuntimeMetrics: the Go and process families client_golang's
// collectors served, parsed by expfmt.
func TestRuntimeMetrics(t *testing.T) {
	r := NewRegistry()
	RegisterGoMetrics(r)
	RegisterProcessMetrics(r)
	runtime.GC() // a pause for the summary
	fams := parse(t, text(t, r))
	want := map[string]dto.MetricType{
		"go_goroutines": dto.MetricType_GAUGE, "go_threads": dto.MetricType_GAUGE, "go_info": dto.MetricType_GAUGE,
		"go_gc_duration_seconds": dto.MetricType_SUMMARY, "go_memstats_last_gc_time_seconds": dto.MetricType_GAUGE,
		"go_memstats_alloc_bytes": dto.MetricType_GAUGE, "go_memstats_alloc_bytes_total": dto.MetricType_COUNTER,
		"go_memstats_heap_inuse_bytes": dto.MetricType_GAUGE, "go_memstats_sys_bytes": dto.MetricType_GAUGE,
		"go_memstats_mallocs_total": dto.MetricType_COUNTER, "go_memstats_frees_total": dto.MetricType_COUNTER,
		"go_memstats_heap_sys_bytes": dto.MetricType_GAUGE, "go_memstats_next_gc_bytes": dto.MetricType_GAUGE,
		"go_gc_gogc_percent": dto.MetricType_GAUGE, "go_gc_gomemlimit_bytes": dto.MetricType_GAUGE,
		"go_sched_gomaxprocs_threads": dto.MetricType_GAUGE,
	}
	if runtime.GOOS == "linux" {
		for _, name := range []string{"process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds",
			"process_max_fds", "process_start_time_seconds", "process_virtual_memory_max_bytes"} {
			want[name] = dto.MetricType_GAUGE
		}
		want["process_cpu_seconds_total"] = dto.MetricType_COUNTER
	}
	for name, typ := range want {
		f := fams[name]
		if f == nil || f.GetType() != typ || len(f.GetMetric()) != 1 {
			t.Errorf("%s: %v, want one %v", name, f, typ)
		}
	}
	value := func(name string) float64 {
		m := fams[name].GetMetric()[0]
		return m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	if got := fams["go_info"].GetMetric()[0].GetLabel()[0].GetValue(); got != runtime.Version() {
		t.Errorf("go_info version = %q", got)
	}
	if value("go_goroutines") < 1 || value("go_memstats_alloc_bytes") <= 0 || value("go_memstats_sys_bytes") < value("go_memstats_heap_inuse_bytes") {
		t.Errorf("implausible Go figures: goroutines %v, alloc %v, sys %v, heap in use %v",
			value("go_goroutines"), value("go_memstats_alloc_bytes"), value("go_memstats_sys_bytes"), value("go_memstats_heap_inuse_bytes"))
	}
	if got := value("go_sched_gomaxprocs_threads"); got != float64(runtime.GOMAXPROCS(0)) {
		t.Errorf("go_sched_gomaxprocs_threads = %v, want %d", got, runtime.GOMAXPROCS(0))
	}
	if s := fams["go_gc_duration_seconds"].GetMetric()[0].GetSummary(); s.GetSampleCount() < 1 || len(s.GetQuantile()) != 5 {
		t.Errorf("go_gc_duration_seconds = %v, want a GC and 5 quantiles", s)
	}
	if !strings.Contains(fams["go_gc_gogc_percent"].GetHelp(), "Sourced from /gc/gogc:percent.") {
		t.Errorf("go_gc_gogc_percent help = %q", fams["go_gc_gogc_percent"].GetHelp())
	}
	if runtime.GOOS == "linux" {
		if value("process_resident_memory_bytes") <= 0 || value("process_open_fds") < 3 || value("process_max_fds") < value("process_open_fds") ||
			value("process_start_time_seconds") < 1e9 || value("process_virtual_memory_bytes") < value("process_resident_memory_bytes") {
			t.Errorf("implausible process figures: %v", fams)
		}
	}
}

func TestHandler(t *testing.T) {
	r := NewRegistry()
	r.NewCounter(Opts{Name: "c_total", Help: "C."}).Inc()
	errs := r.NewCounterVec(Opts{Name: "handler_errors_total"}, "cause")
	var fail atomic.Bool
	r.Collect("flaky", func(context.Context, *Scrape) error {
		if fail.Load() {
			return errors.New("boom")
		}
		return nil
	})
	var logs bytes.Buffer
	srv := httptest.NewServer(Handler(r, HandlerOpts{Log: slog.New(slog.NewTextHandler(&logs, nil)), Errors: errs}))
	defer srv.Close()

	get := func(method string, header http.Header) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL, nil)
		req.Header = header
		// A Transport of its own: the default one asks for gzip itself and
		// hides the Content-Encoding.
		resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}

	resp, body := get(http.MethodGet, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentType || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("GET: %s %v", resp.Status, resp.Header)
	}
	fams := parse(t, body)
	if v := fams["c_total"].GetMetric()[0].GetCounter().GetValue(); v != 1 {
		t.Errorf("c_total = %v", v)
	}
	if n := len(fams["handler_errors_total"].GetMetric()); n != 2 {
		t.Errorf("handler_errors_total has %d series, want gathering and encoding at 0", n)
	}

	resp, gz := get(http.MethodGet, http.Header{"Accept-Encoding": {"gzip"}})
	if resp.Header.Get("Content-Encoding") != "gzip" || gz != body {
		t.Errorf("gzip GET: %v, body differs: %v", resp.Header, gz != body)
	}

	resp, body = get(http.MethodHead, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentType || body != "" {
		t.Errorf("HEAD: %s %v %q", resp.Status, resp.Header, body)
	}

	resp, _ = get(http.MethodPost, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}

	// A failing collector: still 200 with the rest, logged and counted.
	fail.Store(true)
	resp, body = get(http.MethodGet, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "c_total 1") {
		t.Errorf("with a failing collector: %s\n%s", resp.Status, body)
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("the failure was not logged: %q", logs.String())
	}
	_, body = get(http.MethodGet, nil)
	if !strings.Contains(body, `handler_errors_total{cause="gathering"} 1`) {
		t.Errorf("the failure was not counted:\n%s", body)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                        false,
		"gzip":                    true,
		"GZIP":                    true,
		"deflate, gzip;q=1.0":     true,
		"gzip;q=0":                false,
		"gzip; q=0.5":             true,
		"identity":                false,
		"*":                       true,
		"*;q=0":                   false,
		"*, gzip;q=0":             false,
		"gzip;q=0, *":             false,
		"br;q=1.0, gzip;q=0.8, *": true,
		"x-gzip":                  true,
		"gzip;q=nonsense":         false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}
