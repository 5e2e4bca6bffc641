package promtext

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"time"
)

// Runtime metric names the go_memstats_* figures derive from.
const (
	rmTinyAllocs      = "/gc/heap/tiny/allocs:objects"
	rmAllocsObjects   = "/gc/heap/allocs:objects"
	rmFreesObjects    = "/gc/heap/frees:objects"
	rmAllocsBytes     = "/gc/heap/allocs:bytes"
	rmHeapObjects     = "/gc/heap/objects:objects"
	rmHeapGoal        = "/gc/heap/goal:bytes"
	rmTotal           = "/memory/classes/total:bytes"
	rmHeapObjectBytes = "/memory/classes/heap/objects:bytes"
	rmHeapUnused      = "/memory/classes/heap/unused:bytes"
	rmHeapReleased    = "/memory/classes/heap/released:bytes"
	rmHeapFree        = "/memory/classes/heap/free:bytes"
	rmHeapStacks      = "/memory/classes/heap/stacks:bytes"
	rmOSStacks        = "/memory/classes/os-stacks:bytes"
	rmMSpanInuse      = "/memory/classes/metadata/mspan/inuse:bytes"
	rmMSpanFree       = "/memory/classes/metadata/mspan/free:bytes"
	rmMCacheInuse     = "/memory/classes/metadata/mcache/inuse:bytes"
	rmMCacheFree      = "/memory/classes/metadata/mcache/free:bytes"
	rmProfBuckets     = "/memory/classes/profiling/buckets:bytes"
	rmMetadataOther   = "/memory/classes/metadata/other:bytes"
	rmOther           = "/memory/classes/other:bytes"
	rmGOGC            = "/gc/gogc:percent"
	rmMemLimit        = "/gc/gomemlimit:bytes"
	rmGOMAXPROCS      = "/sched/gomaxprocs:threads"
)

// goMetric is one family of RegisterGoMetrics read from runtime/metrics;
// rm looks a runtime metric up (0 when this Go does not have it).
type goMetric struct {
	name, help string
	kind       Kind
	eval       func(rm func(string) uint64) float64
}

// goMetrics are client_golang's Go collector's defaults, names, help and
// derivations alike, so dashboards and alerts built on them keep working.
// runtime/metrics rather than runtime.ReadMemStats: it does not stop the
// world.
func goMetrics() []goMetric {
	heapInuse := func(rm func(string) uint64) uint64 { return rm(rmHeapObjectBytes) + rm(rmHeapUnused) }
	heapIdle := func(rm func(string) uint64) uint64 { return rm(rmHeapReleased) + rm(rmHeapFree) }
	one := func(name string) func(rm func(string) uint64) float64 {
		return func(rm func(string) uint64) float64 { return float64(rm(name)) }
	}
	sum := func(names ...string) func(rm func(string) uint64) float64 {
		return func(rm func(string) uint64) float64 {
			var n uint64
			for _, name := range names {
				n += rm(name)
			}
			return float64(n)
		}
	}
	return []goMetric{
		{"go_memstats_alloc_bytes", "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.", KindGauge, one(rmHeapObjectBytes)},
		{"go_memstats_alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.", KindCounter, one(rmAllocsBytes)},
		{"go_memstats_sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:byte.", KindGauge, one(rmTotal)},
		// MemStats counts tiny allocations in both Mallocs and Frees.
		{"go_memstats_mallocs_total", "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects.", KindCounter, sum(rmAllocsObjects, rmTinyAllocs)},
		{"go_memstats_frees_total", "Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects.", KindCounter, sum(rmFreesObjects, rmTinyAllocs)},
		{"go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.", KindGauge, one(rmHeapObjectBytes)},
		{"go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", KindGauge,
			func(rm func(string) uint64) float64 { return float64(heapInuse(rm) + heapIdle(rm)) }},
		{"go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", KindGauge,
			func(rm func(string) uint64) float64 { return float64(heapIdle(rm)) }},
		{"go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes", KindGauge,
			func(rm func(string) uint64) float64 { return float64(heapInuse(rm)) }},
		{"go_memstats_heap_released_bytes", "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.", KindGauge, one(rmHeapReleased)},
		{"go_memstats_heap_objects", "Number of currently allocated objects. Equals to /gc/heap/objects:objects.", KindGauge, one(rmHeapObjects)},
		{"go_memstats_stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes.", KindGauge, one(rmHeapStacks)},
		{"go_memstats_stack_sys_bytes", "Number of bytes obtained from system for stack allocator. Equals to /memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes.", KindGauge, sum(rmHeapStacks, rmOSStacks)},
		{"go_memstats_mspan_inuse_bytes", "Number of bytes in use by mspan structures. Equals to /memory/classes/metadata/mspan/inuse:bytes.", KindGauge, one(rmMSpanInuse)},
		{"go_memstats_mspan_sys_bytes", "Number of bytes used for mspan structures obtained from system. Equals to /memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes.", KindGauge, sum(rmMSpanInuse, rmMSpanFree)},
		{"go_memstats_mcache_inuse_bytes", "Number of bytes in use by mcache structures. Equals to /memory/classes/metadata/mcache/inuse:bytes.", KindGauge, one(rmMCacheInuse)},
		{"go_memstats_mcache_sys_bytes", "Number of bytes used for mcache structures obtained from system. Equals to /memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes.", KindGauge, sum(rmMCacheInuse, rmMCacheFree)},
		{"go_memstats_buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table. Equals to /memory/classes/profiling/buckets:bytes.", KindGauge, one(rmProfBuckets)},
		{"go_memstats_gc_sys_bytes", "Number of bytes used for garbage collection system metadata. Equals to /memory/classes/metadata/other:bytes.", KindGauge, one(rmMetadataOther)},
		{"go_memstats_other_sys_bytes", "Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes.", KindGauge, one(rmOther)},
		{"go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.", KindGauge, one(rmHeapGoal)},
		// client_golang's default runtime/metrics set, help from the
		// runtime's own description.
		{"go_gc_gogc_percent", runtimeHelp(rmGOGC), KindGauge, one(rmGOGC)},
		{"go_gc_gomemlimit_bytes", runtimeHelp(rmMemLimit), KindGauge, one(rmMemLimit)},
		{"go_sched_gomaxprocs_threads", runtimeHelp(rmGOMAXPROCS), KindGauge, one(rmGOMAXPROCS)},
	}
}

// runtimeHelp is client_golang's help for a runtime metric it exposes
// as is.
func runtimeHelp(name string) string {
	for _, d := range metrics.All() {
		if d.Name == name {
			return d.Description + " Sourced from " + name + "."
		}
	}
	return "Sourced from " + name + "."
}

// RegisterGoMetrics registers the Go runtime's figures as client_golang's
// default Go collector named them: go_goroutines, go_threads, go_info,
// go_gc_duration_seconds (a summary of GC pauses), go_memstats_*,
// go_gc_gogc_percent, go_gc_gomemlimit_bytes, go_sched_gomaxprocs_threads.
// All are read at scrape time.
func RegisterGoMetrics(r *Registry) {
	r.NewGauge(Opts{Name: "go_info", Help: "Information about the Go environment.", ConstLabels: Labels{"version": runtime.Version()}}).Set(1)
	goroutines := r.NewFamily(Opts{Name: "go_goroutines", Help: "Number of goroutines that currently exist."}, KindGauge)
	threads := r.NewFamily(Opts{Name: "go_threads", Help: "Number of OS threads created."}, KindGauge)
	gcPauses := r.NewFamily(Opts{Name: "go_gc_duration_seconds", Help: "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles."}, KindSummary)
	lastGC := r.NewFamily(Opts{Name: "go_memstats_last_gc_time_seconds", Help: "Number of seconds since 1970 of last garbage collection."}, KindGauge)

	table := goMetrics()
	fams := make([]*Family, len(table))
	for i, m := range table {
		fams[i] = r.NewFamily(Opts{Name: m.name, Help: m.help}, m.kind)
	}
	// Only the runtime metrics this Go has: Read would report the others
	// as unsupported, which rm takes as 0 anyway, but why ask.
	wanted := []string{rmTinyAllocs, rmAllocsObjects, rmFreesObjects, rmAllocsBytes, rmHeapObjects, rmHeapGoal,
		rmTotal, rmHeapObjectBytes, rmHeapUnused, rmHeapReleased, rmHeapFree, rmHeapStacks, rmOSStacks,
		rmMSpanInuse, rmMSpanFree, rmMCacheInuse, rmMCacheFree, rmProfBuckets, rmMetadataOther, rmOther,
		rmGOGC, rmMemLimit, rmGOMAXPROCS}
	var names []string
	for _, d := range metrics.All() {
		if slices.Contains(wanted, d.Name) {
			names = append(names, d.Name)
		}
	}

	r.Collect("go", func(_ context.Context, s *Scrape) error {
		s.Add(goroutines, float64(runtime.NumGoroutine()))
		// The threads the runtime ever created (it does not destroy them):
		// what client_golang reports.
		n, _ := runtime.ThreadCreateProfile(nil)
		s.Add(threads, float64(n))

		// Five quantiles: min, 25%, median, 75%, max of the recent pauses.
		gc := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
		debug.ReadGCStats(&gc)
		q := make([]Quantile, len(gc.PauseQuantiles))
		for i, d := range gc.PauseQuantiles {
			q[i] = Quantile{float64(i) / float64(len(gc.PauseQuantiles)-1), d.Seconds()}
		}
		s.AddSummary(gcPauses, uint64(gc.NumGC), gc.PauseTotal.Seconds(), q)
		s.Add(lastGC, float64(gc.LastGC.UnixNano())/1e9)

		// A fresh slice per scrape: scrapes may run at once.
		samples := make([]metrics.Sample, len(names))
		for i, name := range names {
			samples[i].Name = name
		}
		metrics.Read(samples)
		rm := func(name string) uint64 {
			for _, sm := range samples {
				if sm.Name == name && sm.Value.Kind() == metrics.KindUint64 {
					return sm.Value.Uint64()
				}
			}
			return 0
		}
		for i, m := range table {
			s.Add(fams[i], m.eval(rm))
		}
		return nil
	})
}
