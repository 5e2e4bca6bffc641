package promtext

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// Counter only goes up. Inc and whole-number Adds take one atomic add (the
// SMTP hot path counts messages and bytes); fractional Adds a CAS loop.
type Counter struct {
	n    atomic.Uint64 // whole-number increments
	frac atomic.Uint64 // float64 bits: the sum of the other increments
}

// Inc adds 1.
func (c *Counter) Inc() { c.n.Add(1) }

// Add adds v. A counter cannot go down: negative values (and NaN) are
// ignored rather than panicking in a server's request path.
func (c *Counter) Add(v float64) {
	if !(v > 0) {
		return
	}
	if v < 1<<63 {
		if u := uint64(v); float64(u) == v {
			c.n.Add(u)
			return
		}
	}
	addFloat(&c.frac, v)
}

// Value is the count so far.
func (c *Counter) Value() float64 {
	return float64(c.n.Load()) + math.Float64frombits(c.frac.Load())
}

// Gauge goes up and down.
type Gauge struct {
	bits atomic.Uint64 // float64 bits
}

// Set sets the gauge to v.
func (g *Gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

// Add adds v, which may be negative.
func (g *Gauge) Add(v float64) { addFloat(&g.bits, v) }

// Inc adds 1.
func (g *Gauge) Inc() { g.Add(1) }

// Dec subtracts 1.
func (g *Gauge) Dec() { g.Add(-1) }

// Value is the gauge's value.
func (g *Gauge) Value() float64 { return math.Float64frombits(g.bits.Load()) }

func addFloat(bits *atomic.Uint64, v float64) {
	for {
		old := bits.Load()
		if bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// bucketSet is a histogram family's upper bounds, shared by its series.
type bucketSet struct {
	upper []float64
	le    []string // upper formatted for the le label
}

func newBucketSet(name string, upper []float64) *bucketSet {
	upper = slices.Clone(upper)
	// +Inf is implicit (it is the count); accept it spelt out.
	if n := len(upper); n > 0 && math.IsInf(upper[n-1], +1) {
		upper = upper[:n-1]
	}
	b := &bucketSet{upper: upper}
	for i, u := range upper {
		if math.IsNaN(u) || math.IsInf(u, 0) || i > 0 && u <= upper[i-1] {
			panic(fmt.Sprintf("promtext: %s: buckets must be finite and strictly increasing: %v", name, upper))
		}
		b.le = append(b.le, formatFloat(u))
	}
	return b
}

// Histogram counts observations in fixed buckets. Observe is one atomic
// add for the bucket and a CAS loop for the sum.
type Histogram struct {
	b *bucketSet
	// counts holds each bucket's own (not cumulative) count, and last
	// the observations above every bound. The total count is their sum,
	// so a scrape amid Observes still shows _count equal to the +Inf
	// bucket and buckets that never decrease.
	counts []atomic.Uint64
	sum    atomic.Uint64 // float64 bits
}

func newHistogram(b *bucketSet) *Histogram {
	return &Histogram{b: b, counts: make([]atomic.Uint64, len(b.upper)+1)}
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i := len(h.b.upper) // NaN goes to +Inf, as in client_golang
	if v == v {
		i, _ = slices.BinarySearch(h.b.upper, v) // the first bound >= v: le is inclusive
	}
	h.counts[i].Add(1)
	addFloat(&h.sum, v)
}

// snapshot fills s with cumulative bucket counts, the count and the sum.
func (h *Histogram) snapshot(s *series) {
	s.buckets = make([]uint64, len(h.b.upper))
	var cum uint64
	for i := range h.b.upper {
		cum += h.counts[i].Load()
		s.buckets[i] = cum
	}
	s.count = cum + h.counts[len(h.b.upper)].Load()
	s.value = math.Float64frombits(h.sum.Load())
	s.bounds = h.b.le
}

// NewCounter registers a counter.
func (r *Registry) NewCounter(o Opts) *Counter {
	c := &Counter{}
	single(r.register(o, KindCounter, nil), func(s *series) { s.value = c.Value() })
	return c
}

// NewGauge registers a gauge.
func (r *Registry) NewGauge(o Opts) *Gauge {
	g := &Gauge{}
	single(r.register(o, KindGauge, nil), func(s *series) { s.value = g.Value() })
	return g
}

// NewHistogram registers a histogram with the given upper bounds
// (strictly increasing; +Inf is implied).
func (r *Registry) NewHistogram(o Opts, buckets []float64) *Histogram {
	h := newHistogram(newBucketSet(o.Name, buckets))
	single(r.register(o, KindHistogram, nil), h.snapshot)
	return h
}

// single makes f's one series, labelled by its constant labels only.
func single(f *Family, read func(*series)) {
	values, labels := f.render(nil)
	f.live = func(dst []series) []series {
		s := series{values: values, labels: labels}
		read(&s)
		return append(dst, s)
	}
}

// CounterVec is a counter per combination of label values.
type CounterVec struct{ v *vec[Counter] }

// NewCounterVec registers a counter vector with the given label names.
func (r *Registry) NewCounterVec(o Opts, labelNames ...string) *CounterVec {
	f := r.register(o, KindCounter, labelNames)
	return &CounterVec{newVec(f, func() *Counter { return &Counter{} }, func(c *Counter, s *series) { s.value = c.Value() })}
}

// With returns the counter for the label values, in the order of the
// label names; it panics if their number differs. Callers on a hot path
// keep the result rather than calling With each time.
func (cv *CounterVec) With(labelValues ...string) *Counter { return cv.v.with(labelValues) }

// HistogramVec is a histogram per combination of label values.
type HistogramVec struct{ v *vec[Histogram] }

// NewHistogramVec registers a histogram vector with the given upper
// bounds and label names.
func (r *Registry) NewHistogramVec(o Opts, buckets []float64, labelNames ...string) *HistogramVec {
	b := newBucketSet(o.Name, buckets)
	f := r.register(o, KindHistogram, labelNames)
	return &HistogramVec{newVec(f, func() *Histogram { return newHistogram(b) }, (*Histogram).snapshot)}
}

// With returns the histogram for the label values, as CounterVec.With.
func (hv *HistogramVec) With(labelValues ...string) *Histogram { return hv.v.with(labelValues) }

// vec is the children of a labelled family, made on first use.
type vec[M any] struct {
	f        *Family
	newM     func() *M
	mu       sync.RWMutex
	children map[string]*child[M] // by appendKey of the label values
}

type child[M any] struct {
	m      *M
	values []string // in Family.labels order
	labels string
}

func newVec[M any](f *Family, newM func() *M, read func(*M, *series)) *vec[M] {
	v := &vec[M]{f: f, newM: newM, children: map[string]*child[M]{}}
	f.live = func(dst []series) []series {
		v.mu.RLock()
		defer v.mu.RUnlock()
		for _, c := range v.children {
			s := series{values: c.values, labels: c.labels}
			read(c.m, &s)
			dst = append(dst, s)
		}
		return dst
	}
	return v
}

func (v *vec[M]) with(values []string) *M {
	if len(values) != len(v.f.varPos) {
		panic(fmt.Sprintf("promtext: %s: %d label values for %d labels", v.f.name, len(values), len(v.f.varPos)))
	}
	// The key is built on the stack and the map indexed by string(key),
	// which Go does without a copy: a child already made costs no
	// allocation.
	var buf [128]byte
	key := appendKey(buf[:0], values)
	v.mu.RLock()
	c := v.children[string(key)]
	v.mu.RUnlock()
	if c != nil {
		return c.m
	}
	return v.create(string(key), values)
}

func (v *vec[M]) create(key string, values []string) *M {
	v.mu.Lock()
	defer v.mu.Unlock()
	if c := v.children[key]; c != nil {
		return c.m // another goroutine made it first: one child for every racer
	}
	vals, labels := v.f.render(values)
	c := &child[M]{m: v.newM(), values: vals, labels: labels}
	v.children[key] = c
	return c.m
}

// appendKey encodes label values length-prefixed, so that no two lists
// of values share a key whatever bytes they hold.
func appendKey(b []byte, values []string) []byte {
	for _, s := range values {
		n := uint64(len(s))
		for n >= 0x80 {
			b = append(b, byte(n)|0x80)
			n >>= 7
		}
		b = append(b, byte(n))
		b = append(b, s...)
	}
	return b
}
