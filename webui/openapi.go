package webui

import (
	_ "embed" // for the OpenAPI document
	"net/http"
	"slices"
)

// openapiDoc is the OpenAPI 3 description of every route on Server.api,
// served at GET /api/v1/openapi.json. openapi_test.go keeps it true: its
// paths must be exactly Routes(), and its schemas must match real replies.
//
//go:embed openapi.json
var openapiDoc string

// openapiRoutes registers the document's own route.
func (s *Server) openapiRoutes() {
	s.api.HandleFunc("GET /api/v1/openapi.json", s.handleOpenAPI)
}

// handleOpenAPI: GET /api/v1/openapi.json, the API description.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	writeBytes(w, "application/json", []byte(openapiDoc))
}

// Routes returns the patterns of every API route, sorted, e.g.
// "GET /api/v1/messages". It is for tooling and tests.
func (s *Server) Routes() []string {
	out := slices.Clone(s.api.patterns)
	slices.Sort(out)
	return out
}

// routeMux is an http.ServeMux that remembers its patterns, so that the
// OpenAPI test can compare them with the document. Routes are registered
// in New only, before the Server is shared, so patterns needs no lock.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

// HandleFunc registers h for pattern, as http.ServeMux.HandleFunc does.
func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.ServeMux.HandleFunc(pattern, h)
	m.patterns = append(m.patterns, pattern)
}

// Handle registers h for pattern, as http.ServeMux.Handle does.
func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.ServeMux.Handle(pattern, h)
	m.patterns = append(m.patterns, pattern)
}
