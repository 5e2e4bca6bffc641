// Package promtext serves metrics in the Prometheus text exposition
// format, version 0.0.4, with no dependency beyond the standard library.
//
// It exists because github.com/prometheus/client_golang links protobuf and
// the client data model into the binary (some 2.4 MB) for a server that
// only ever writes text. It covers what mailsink needs and no more:
// counters, gauges and fixed-bucket histograms, label vectors of counters
// and histograms, constant labels, and collector functions that read
// figures kept elsewhere at scrape time.
//
// Everything lives in a Registry, never in package state, so servers in
// one process (tests) keep apart. Registration mistakes (a bad name, a
// name used twice, unsorted buckets) are programming errors and panic,
// like regexp.MustCompile; the hot path (Inc, Add, Observe, and With for
// a child already made) does not allocate.
package promtext

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Kind is a metric family's type, as the TYPE line names it.
type Kind uint8

// The kinds the text format knows.
const (
	KindCounter Kind = iota
	KindGauge
	KindHistogram
	KindSummary
	KindUntyped
)

func (k Kind) String() string {
	switch k {
	case KindCounter:
		return "counter"
	case KindGauge:
		return "gauge"
	case KindHistogram:
		return "histogram"
	case KindSummary:
		return "summary"
	default:
		return "untyped"
	}
}

// Labels are constant label pairs, the same on every series of a family.
type Labels map[string]string

// Opts names and describes a metric family.
type Opts struct {
	Name string
	Help string
	// ConstLabels are added to every series, e.g. a build's version.
	ConstLabels Labels
}

// Registry holds metric families and writes them. It is safe for
// concurrent use: metrics are updated while scrapes read them.
type Registry struct {
	mu         sync.Mutex
	families   []*Family // sorted by name: the output order
	collectors []collector
}

type collector struct {
	name string
	fn   CollectFunc
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Family is one metric family: its name, help, type and label names. The
// live metrics (Counter, Histogram, their vectors) own one each; a
// collector declares its families with NewFamily and fills them at
// scrape time.
type Family struct {
	reg  *Registry
	name string
	help string
	kind Kind
	// labels are the family's label names, constant ones included, sorted:
	// series print their labels in this order and sort by their values
	// in it, as client_golang does, so the output stays as it was.
	labels []string
	consts map[string]string
	// varPos maps the i-th variable label (in the order the caller gave
	// the names) to its index in labels.
	varPos []int
	// live appends the series of the family's own metrics; nil for a
	// family that only collectors fill.
	live func([]series) []series
}

// register validates and adds a family; it panics on a programming error.
func (r *Registry) register(o Opts, kind Kind, varLabels []string) *Family {
	if !validMetricName(o.Name) {
		panic(fmt.Sprintf("promtext: invalid metric name %q", o.Name))
	}
	f := &Family{reg: r, name: o.Name, help: o.Help, kind: kind, consts: map[string]string{}}
	seen := map[string]bool{}
	add := func(name string) {
		if !validLabelName(name) || seen[name] ||
			name == "le" && kind == KindHistogram || name == "quantile" && kind == KindSummary {
			panic(fmt.Sprintf("promtext: %s: invalid or repeated label name %q", o.Name, name))
		}
		seen[name] = true
		f.labels = append(f.labels, name)
	}
	for name, v := range o.ConstLabels {
		add(name)
		f.consts[name] = validUTF8(v)
	}
	for _, name := range varLabels {
		add(name)
	}
	slices.Sort(f.labels)
	for _, name := range varLabels {
		f.varPos = append(f.varPos, slices.Index(f.labels, name))
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	i, found := slices.BinarySearchFunc(r.families, o.Name, func(g *Family, name string) int { return strings.Compare(g.name, name) })
	if found {
		panic(fmt.Sprintf("promtext: metric %q registered twice", o.Name))
	}
	// A histogram's or summary's samples take suffixed names; a family
	// of that name would clash with them in the output.
	for _, g := range r.families {
		if clashes(f, g) || clashes(g, f) {
			panic(fmt.Sprintf("promtext: metric %q clashes with %q", f.name, g.name))
		}
	}
	r.families = slices.Insert(r.families, i, f)
	return f
}

// clashes reports whether a's samples could share a name with family b.
func clashes(a, b *Family) bool {
	if a.kind != KindHistogram && a.kind != KindSummary {
		return false
	}
	for _, suffix := range []string{"_sum", "_count", "_bucket"} {
		if b.name == a.name+suffix {
			return true
		}
	}
	return false
}

// NewFamily declares a family whose series a collector supplies (see
// Collect), with the given variable label names. A family no collector
// fills in a scrape is left out of it.
func (r *Registry) NewFamily(o Opts, kind Kind, labelNames ...string) *Family {
	if kind == KindHistogram {
		panic(fmt.Sprintf("promtext: %s: collectors supply counters, gauges, summaries and untyped values", o.Name))
	}
	return r.register(o, kind, labelNames)
}

// CollectFunc supplies series at scrape time, into s. It is called once
// per scrape, possibly by several scrapes at once. An error leaves out
// everything it supplied in that scrape; the other collectors' series are
// still served.
type CollectFunc func(ctx context.Context, s *Scrape) error

// Collect adds a collector; name identifies it in errors.
func (r *Registry) Collect(name string, fn CollectFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, collector{name, fn})
}

// Scrape receives a collector's series.
type Scrape struct {
	reg    *Registry
	series map[*Family][]series
	err    error
}

// Quantile is one quantile of a summary.
type Quantile struct {
	Quantile, Value float64
}

// Add supplies a counter's, gauge's or untyped value for the label values
// given in the order of f's label names.
func (s *Scrape) Add(f *Family, v float64, labelValues ...string) {
	if f.kind == KindHistogram || f.kind == KindSummary {
		s.fail(fmt.Errorf("%s: a %s takes AddSummary, not Add", f.name, f.kind))
		return
	}
	s.add(f, series{value: v}, labelValues)
}

// AddSummary supplies a summary: its sample count, sum and quantiles.
func (s *Scrape) AddSummary(f *Family, count uint64, sum float64, quantiles []Quantile, labelValues ...string) {
	if f.kind != KindSummary {
		s.fail(fmt.Errorf("%s: a %s takes Add, not AddSummary", f.name, f.kind))
		return
	}
	q := slices.Clone(quantiles)
	slices.SortFunc(q, func(a, b Quantile) int { return cmp.Compare(a.Quantile, b.Quantile) })
	s.add(f, series{count: count, value: sum, quantiles: q}, labelValues)
}

func (s *Scrape) add(f *Family, ser series, labelValues []string) {
	if f.reg != s.reg {
		s.fail(fmt.Errorf("%s: family of another registry", f.name))
		return
	}
	if len(labelValues) != len(f.varPos) {
		s.fail(fmt.Errorf("%s: %d label values for %d labels", f.name, len(labelValues), len(f.varPos)))
		return
	}
	ser.values, ser.labels = f.render(labelValues)
	if s.series == nil {
		s.series = map[*Family][]series{}
	}
	s.series[f] = append(s.series[f], ser)
}

func (s *Scrape) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// render returns a series' label values in f.labels order and its label
// pairs as printed between the braces.
func (f *Family) render(varValues []string) ([]string, string) {
	values := make([]string, len(f.labels))
	for i, name := range f.labels {
		values[i] = f.consts[name]
	}
	for i, v := range varValues {
		values[f.varPos[i]] = validUTF8(v)
	}
	var b strings.Builder
	for i, name := range f.labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
		b.WriteString(`="`)
		writeEscaped(&b, values[i], true)
		b.WriteByte('"')
	}
	return values, b.String()
}

// series is one series of a scrape: a counter's, gauge's or untyped
// value, a histogram's cumulative buckets or a summary's quantiles.
type series struct {
	values []string // label values in Family.labels order, for sorting
	labels string   // rendered label pairs, without braces
	value  float64  // the value, or a histogram's or summary's sum
	count  uint64   // histogram, summary
	// buckets are a histogram's cumulative counts, one per bound of
	// bounds; +Inf is count.
	buckets   []uint64
	bounds    []string // formatted upper bounds, shared
	quantiles []Quantile
}

// CollectError is a collector's failure in a scrape; the scrape served
// everything else.
type CollectError struct {
	Collector string
	Err       error
}

func (e *CollectError) Error() string { return "collector " + e.Collector + ": " + e.Err.Error() }
func (e *CollectError) Unwrap() error { return e.Err }

// familySnapshot is a family with the series of one scrape, sorted.
type familySnapshot struct {
	*Family
	series []series
}

// gather reads every metric and runs the collectors. A failed collector
// is left out and its *CollectError returned; the snapshot holds
// everything else.
func (r *Registry) gather(ctx context.Context) ([]familySnapshot, []error) {
	r.mu.Lock()
	families := slices.Clone(r.families)
	collectors := slices.Clone(r.collectors)
	r.mu.Unlock()

	var errs []error
	collected := map[*Family][]series{}
	for _, c := range collectors {
		s := &Scrape{reg: r}
		err := c.fn(ctx, s)
		if err == nil {
			err = s.err
		}
		if err != nil {
			errs = append(errs, &CollectError{Collector: c.name, Err: err})
			continue
		}
		for f, ss := range s.series {
			collected[f] = append(collected[f], ss...)
		}
	}

	snap := make([]familySnapshot, 0, len(families))
	for _, f := range families {
		var ss []series
		if f.live != nil {
			ss = f.live(ss)
		}
		ss = append(ss, collected[f]...)
		if len(ss) == 0 {
			continue // an empty vector or an unfilled family: as client_golang, no lines at all
		}
		slices.SortStableFunc(ss, func(a, b series) int { return slices.Compare(a.values, b.values) })
		// Two collectors (or one, twice) supplying a series would make
		// the output one Prometheus rejects; keep the first.
		ss = slices.CompactFunc(ss, func(a, b series) bool {
			if slices.Equal(a.values, b.values) {
				errs = append(errs, fmt.Errorf("%s: series {%s} supplied twice", f.name, b.labels))
				return true
			}
			return false
		})
		snap = append(snap, familySnapshot{f, ss})
	}
	return snap, errs
}

// validMetricName: [a-zA-Z_:][a-zA-Z0-9_:]*, the names every Prometheus
// version accepts unquoted.
func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validLabelName: [a-zA-Z_][a-zA-Z0-9_]*, and not __reserved.
func validLabelName(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validUTF8 replaces invalid bytes: the format is UTF-8, and a label value
// from configuration (a chaos rule's name) had better not break a scrape.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
