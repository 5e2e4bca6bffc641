package webui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"mailsink/store"
)

// maxBodyBytes bounds every request body the API reads.
const maxBodyBytes = 1 << 20

// Errors the handlers return; writeError maps them to statuses. The text of
// errBadRequest and errNotFound errors (including what wraps them) is meant
// for the client; everything else stays in the log.
var (
	errBadRequest       = errors.New("bad request")
	errNotFound         = errors.New("not found")
	errNoRoute          = errors.New("no such endpoint")
	errMethodNotAllowed = errors.New("method not allowed")
	errUnavailable      = errors.New("not ready")
)

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error string `json:"Error"`
}

// writeJSON encodes v with the given status. The body is encoded before
// anything is written, so an encoding failure still yields a clean 500.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		s.log.ErrorContext(r.Context(), "encode response", "method", r.Method, "path", r.URL.Path, "err", err)
		buf.Reset()
		buf.WriteString(`{"Error":"internal error"}` + "\n")
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // a failed write means the client went away
}

// writeError is the one mapping from an error to a response.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	var badQuery *store.QueryError
	switch {
	case errors.Is(err, errBadRequest):
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{err.Error()})
	case errors.As(err, &badQuery):
		s.writeJSON(w, r, http.StatusBadRequest, errorBody{badQuery.Error()})
	case errors.Is(err, errNotFound):
		s.writeJSON(w, r, http.StatusNotFound, errorBody{err.Error()})
	case errors.Is(err, store.ErrNotFound):
		s.writeJSON(w, r, http.StatusNotFound, errorBody{"message not found"})
	case errors.Is(err, errNoChaos):
		s.writeJSON(w, r, http.StatusNotFound, errorBody{err.Error()})
	case errors.Is(err, errNoRoute):
		s.writeJSON(w, r, http.StatusNotFound, errorBody{err.Error()})
	case errors.Is(err, errMethodNotAllowed):
		s.writeJSON(w, r, http.StatusMethodNotAllowed, errorBody{err.Error()})
	case errors.As(err, &tooBig):
		s.writeJSON(w, r, http.StatusRequestEntityTooLarge,
			errorBody{fmt.Sprintf("request body larger than %d bytes", tooBig.Limit)})
	case errors.Is(err, errHostNotAllowed), errors.Is(err, errCrossSite), errors.Is(err, errOriginNotAllowed):
		// Worth a line: the user wonders why the browser gets a 403.
		s.log.WarnContext(r.Context(), "request refused", "method", r.Method, "path", r.URL.Path,
			"host", r.Host, "origin", r.Header.Get("Origin"), "err", err)
		s.writeJSON(w, r, http.StatusForbidden, errorBody{err.Error()})
	case errors.Is(err, errSimpleBody):
		s.writeJSON(w, r, http.StatusUnsupportedMediaType, errorBody{err.Error()})
	case errors.Is(err, errUnauthenticated):
		s.writeJSON(w, r, http.StatusUnauthorized, errorBody{err.Error()})
	case errors.Is(err, errUnavailable):
		s.log.WarnContext(r.Context(), "not ready", "err", err)
		s.writeJSON(w, r, http.StatusServiceUnavailable, errorBody{errUnavailable.Error()})
	default:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		s.writeJSON(w, r, http.StatusInternalServerError, errorBody{"internal error"})
	}
}

// writeOK is Mailpit's reply to actions: 200 with the text "ok".
func writeOK(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok") // a failed write means the client went away
}

// decodeBody decodes an optional JSON request body into v. An empty body
// leaves v alone. Bodies over maxBodyBytes yield an *http.MaxBytesError.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: malformed JSON body: %v", errBadRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: malformed JSON body: trailing data", errBadRequest)
	}
	return nil
}
