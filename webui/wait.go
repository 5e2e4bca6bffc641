package webui

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"mailsink/store"
)

const (
	defaultWaitTimeout = 30 * time.Second
	maxWaitTimeout     = 10 * time.Minute // longer asks are clamped, not refused
	maxWaitCount       = 1000
)

// handleWait: GET /api/v1/wait?query=Q&count=N&timeout=30s&after=CURSOR
// blocks until count messages matching query and newer than the cursor
// exist, then answers like a search (newest first, at most count of them).
// On timeout it answers 408 with what matched so far. It is woken by the
// hub when mail arrives — no polling — and re-checks once per wake-up, so
// a burst of arrivals during one check costs one more check, not many.
func (s *Server) handleWait(w http.ResponseWriter, r *http.Request) {
	f, count, timeout, err := waitParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		changed := s.hub.Changed() // before the check: no arrival slips between
		page, err := s.msgs.Find(r.Context(), f)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if page.Total >= count {
			s.writePage(w, r, http.StatusOK, f.Start, page)
			return
		}
		select {
		case <-changed:
			if s.hub.isClosed() {
				s.writeError(w, r, fmt.Errorf("%w: shutting down", errUnavailable))
				return
			}
		case <-timer.C:
			s.writePage(w, r, http.StatusRequestTimeout, f.Start, page)
			return
		case <-r.Context().Done():
			return // the client gave up
		}
	}
}

// waitParams reads the wait parameters; a timeout is a Go duration or a
// number of seconds.
func waitParams(r *http.Request) (f store.Filter, count int, timeout time.Duration, err error) {
	q := r.URL.Query()
	count, err = queryInt(q, "count", 1)
	if err != nil {
		return f, 0, 0, err
	}
	if count < 1 {
		return f, 0, 0, fmt.Errorf("%w: count must be at least 1", errBadRequest)
	}
	count = min(count, maxWaitCount)
	timeout = defaultWaitTimeout
	if v := q.Get("timeout"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil {
			timeout = time.Duration(secs * float64(time.Second))
		} else if timeout, err = time.ParseDuration(v); err != nil {
			return f, 0, 0, fmt.Errorf("%w: timeout %q is not a duration like 30s", errBadRequest, v)
		}
		if timeout <= 0 {
			return f, 0, 0, fmt.Errorf("%w: timeout must be positive", errBadRequest)
		}
	}
	timeout = min(timeout, maxWaitTimeout)
	var after int64
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return f, 0, 0, fmt.Errorf("%w: after %q is not a cursor", errBadRequest, v)
		}
	}
	tz, err := timeZone(q.Get("tz"))
	if err != nil {
		return f, 0, 0, err
	}
	return store.Filter{Query: q.Get("query"), AfterSeq: after, Limit: count, TZ: tz}, count, timeout, nil
}
