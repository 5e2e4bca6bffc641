package promtext

import "context"

// processFamilies are client_golang's process collector's families.
type processFamilies struct {
	cpu, openFDs, maxFDs, vsize, maxVsize, rss, start, netIn, netOut *Family
}

// RegisterProcessMetrics registers the process's figures as client_golang's
// process collector named them: process_cpu_seconds_total,
// process_open_fds, process_max_fds, process_virtual_memory_bytes,
// process_virtual_memory_max_bytes, process_resident_memory_bytes,
// process_start_time_seconds and process_network_{receive,transmit}_bytes_total.
// They are read from /proc at scrape time on Linux. Elsewhere, and for any
// figure /proc will not give, they are left out without complaint: they
// are a convenience, not worth a failed scrape.
func RegisterProcessMetrics(r *Registry) {
	f := &processFamilies{
		cpu:      r.NewFamily(Opts{Name: "process_cpu_seconds_total", Help: "Total user and system CPU time spent in seconds."}, KindCounter),
		openFDs:  r.NewFamily(Opts{Name: "process_open_fds", Help: "Number of open file descriptors."}, KindGauge),
		maxFDs:   r.NewFamily(Opts{Name: "process_max_fds", Help: "Maximum number of open file descriptors."}, KindGauge),
		vsize:    r.NewFamily(Opts{Name: "process_virtual_memory_bytes", Help: "Virtual memory size in bytes."}, KindGauge),
		maxVsize: r.NewFamily(Opts{Name: "process_virtual_memory_max_bytes", Help: "Maximum amount of virtual memory available in bytes."}, KindGauge),
		rss:      r.NewFamily(Opts{Name: "process_resident_memory_bytes", Help: "Resident memory size in bytes."}, KindGauge),
		start:    r.NewFamily(Opts{Name: "process_start_time_seconds", Help: "Start time of the process since unix epoch in seconds."}, KindGauge),
		netIn:    r.NewFamily(Opts{Name: "process_network_receive_bytes_total", Help: "Number of bytes received by the process over the network."}, KindCounter),
		netOut:   r.NewFamily(Opts{Name: "process_network_transmit_bytes_total", Help: "Number of bytes sent by the process over the network."}, KindCounter),
	}
	r.Collect("process", func(_ context.Context, s *Scrape) error {
		collectProcess(s, f)
		return nil
	})
}
