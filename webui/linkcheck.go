package webui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailsink/store"
)

const (
	linkCheckTimeout = 10 * time.Second // per link
	linkCheckWorkers = 5
	maxCheckedLinks  = 200
)

// linkCheckResponse is Mailpit's link-check reply.
type linkCheckResponse struct {
	Errors int          `json:"Errors"`
	Links  []linkStatus `json:"Links"`
}

type linkStatus struct {
	URL        string `json:"URL"`
	StatusCode int    `json:"StatusCode"`
	Status     string `json:"Status"`
}

// handleLinkCheck: GET /api/v1/message/{id}/link-check?follow=bool asks
// every http(s) link of the message with HEAD (GET where HEAD is refused)
// and reports the status, as Mailpit does. Without follow, a redirect is
// reported as such. Errors counts links that failed (status 0 or ≥ 400).
// It only runs when a client asks for it: mailsink never fetches on its own.
func (s *Server) handleLinkCheck(w http.ResponseWriter, r *http.Request) {
	follow := false
	if v := r.URL.Query().Get("follow"); v != "" {
		var err error
		if follow, err = strconv.ParseBool(v); err != nil {
			s.writeError(w, r, fmt.Errorf("%w: follow must be true or false", errBadRequest))
			return
		}
	}
	m, err := s.getMessage(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var urls []string
	for _, l := range store.ExtractLinks(m.Text, m.HTML) {
		if (strings.HasPrefix(l.URL, "http://") || strings.HasPrefix(l.URL, "https://")) && len(urls) < maxCheckedLinks {
			urls = append(urls, l.URL)
		}
	}
	client := &http.Client{Timeout: linkCheckTimeout}
	if !follow {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	out := linkCheckResponse{Links: make([]linkStatus, len(urls))}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(linkCheckWorkers, len(urls)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				out.Links[i] = checkLink(r.Context(), client, urls[i])
			}
		}()
	}
	for i := range urls {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for _, l := range out.Links {
		if l.StatusCode == 0 || l.StatusCode >= 400 {
			out.Errors++
		}
	}
	s.writeJSON(w, r, http.StatusOK, out)
}

// checkLink requests one URL with HEAD, falling back to GET when the server
// does not allow HEAD.
func checkLink(ctx context.Context, client *http.Client, url string) linkStatus {
	st := linkStatus{URL: url}
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		req, err := http.NewRequestWithContext(ctx, method, url, nil)
		if err != nil {
			st.Status = err.Error()
			return st
		}
		req.Header.Set("User-Agent", "mailsink link check")
		resp, err := client.Do(req)
		if err != nil {
			st.StatusCode, st.Status = 0, linkError(err)
			return st
		}
		resp.Body.Close() // nothing of the body is needed
		st.StatusCode, st.Status = resp.StatusCode, http.StatusText(resp.StatusCode)
		if resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusNotImplemented {
			return st
		}
	}
	return st
}

// linkError shortens a client error to what a person needs to see.
func linkError(err error) string {
	var ue interface{ Timeout() bool }
	if errors.As(err, &ue) && ue.Timeout() {
		return "timeout"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// handleRelease: POST /api/v1/message/{id}/release. mailsink never sends
// mail on, so this is refused the way Mailpit refuses it with relaying
// off: a 400 that says why (after a 404 for an unknown message).
func (s *Server) handleRelease(w http.ResponseWriter, r *http.Request) {
	if _, err := s.getMessage(r.Context(), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeError(w, r, fmt.Errorf("%w: mailsink never relays mail, so messages cannot be released", errBadRequest))
}
