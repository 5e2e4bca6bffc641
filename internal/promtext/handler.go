package promtext

import (
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// HandlerOpts configure Handler.
type HandlerOpts struct {
	// Log receives collector and write failures; nil: they are dropped.
	Log *slog.Logger
	// Errors, when set, counts failed scrapes by its one label, the cause:
	// "gathering" (a collector failed: its series were left out) or
	// "encoding" (the response could not be written), as
	// promhttp_metric_handler_errors_total did.
	Errors *CounterVec
}

// Handler serves r in the text format to GET (and HEAD), gzipped when
// the client accepts it. A failing collector does not fail the scrape:
// its series are left out, the error logged and counted, the rest served.
func Handler(r *Registry, o HandlerOpts) http.Handler {
	h := &handler{reg: r, log: o.Log}
	if o.Errors != nil {
		// Made now, so both series read 0 before anything fails.
		h.gathering, h.encoding = o.Errors.With("gathering"), o.Errors.With("encoding")
	}
	return h
}

type handler struct {
	reg                 *Registry
	log                 *slog.Logger
	gathering, encoding *Counter
}

func (h *handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Add("Vary", "Accept-Encoding")
	if req.Method == http.MethodHead {
		return // the headers are the answer; no store query for them
	}
	// Gather everything before writing, so a slow collector does not hold
	// a half-sent response.
	snap, errs := h.reg.gather(req.Context())
	if len(errs) > 0 {
		if h.gathering != nil {
			h.gathering.Inc()
		}
		for _, err := range errs {
			h.logError("gathering metrics", err)
		}
	}
	var out io.Writer = w
	var gz *gzip.Writer
	if acceptsGzip(req.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		gz = gzip.NewWriter(w)
		out = gz
	}
	err := writeText(out, snap)
	if gz != nil {
		if cerr := gz.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		if h.encoding != nil {
			h.encoding.Inc()
		}
		h.logError("writing metrics", err)
	}
}

func (h *handler) logError(msg string, err error) {
	if h.log != nil {
		h.log.Error(msg, "err", err)
	}
}

// acceptsGzip reports whether an Accept-Encoding value allows gzip with
// a q-value above zero: named, or through "*" when not named.
func acceptsGzip(header string) bool {
	gzipQ, starQ := -1.0, -1.0
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(p, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					f = 0 // unreadable: not an acceptance
				}
				q = f
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			gzipQ = max(gzipQ, q)
		case "*":
			starQ = max(starQ, q)
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}
