package webui

import "io/fs"

// routes maps the whole HTTP surface. Paths and shapes under /api/v1 and
// /view follow Mailpit's API v1. {id} accepts "latest" everywhere.
//
// Anything under /api/ or /view/ that no route matches is a JSON 404/405
// (see ServeHTTP); every other path is the UI, served from the fs.FS.
func (s *Server) routes(ui fs.FS) {
	s.api.HandleFunc("GET /api/v1/info", s.handleInfo)
	s.api.HandleFunc("GET /api/v1/webui", s.handleWebUI)

	s.api.HandleFunc("GET /api/v1/messages", s.handleListMessages)
	s.api.HandleFunc("PUT /api/v1/messages", s.handleSetRead)
	s.api.HandleFunc("DELETE /api/v1/messages", s.handleDeleteMessages)

	s.api.HandleFunc("GET /api/v1/search", s.handleSearch)
	s.api.HandleFunc("GET /api/v1/wait", s.handleWait)

	s.api.HandleFunc("GET /api/v1/tags", s.handleTags)
	s.api.HandleFunc("PUT /api/v1/tags", s.handleSetTags)
	s.api.HandleFunc("PUT /api/v1/tags/{tag}", s.handleRenameTag)
	s.api.HandleFunc("DELETE /api/v1/tags/{tag}", s.handleDeleteTag)
	s.api.HandleFunc("GET /api/v1/inboxes", s.handleInboxes)
	s.api.HandleFunc("DELETE /api/v1/search", s.handleDeleteSearch)

	s.api.HandleFunc("GET /api/v1/message/{id}", s.handleGetMessage)
	s.api.HandleFunc("GET /api/v1/message/{id}/raw", s.handleRaw)
	s.api.HandleFunc("GET /api/v1/message/{id}/headers", s.handleHeaders)
	s.api.HandleFunc("GET /api/v1/message/{id}/part/{part}", s.handlePart)
	s.api.HandleFunc("GET /api/v1/message/{id}/transcript", s.handleTranscript)
	s.api.HandleFunc("GET /api/v1/message/{id}/received", s.handleReceived)
	s.api.HandleFunc("GET /api/v1/message/{id}/link-check", s.handleLinkCheck)
	s.api.HandleFunc("GET /api/v1/message/{id}/html-check", s.handleHTMLCheck)
	s.api.HandleFunc("POST /api/v1/message/{id}/release", s.handleRelease)

	// {file} is "{id}.html" or "{id}.txt": the bodies for the sandboxed
	// preview iframe, HTML under a strict CSP with cid: links rewritten.
	s.api.HandleFunc("GET /view/{file}", s.handleView)

	s.api.HandleFunc(eventsPath, s.handleEvents)
	s.api.HandleFunc(mailhogWS, s.handleMailhogEvents)

	if s.cfg.Metrics != nil {
		// Straight on the ServeMux: Routes() (and so the OpenAPI document)
		// is the JSON API, which /metrics is not part of.
		s.api.ServeMux.Handle(metricsRoute, s.cfg.Metrics)
	}

	s.api.HandleFunc("GET /livez", s.handleLive)
	s.api.HandleFunc("GET /readyz", s.handleReady)

	s.ui = s.uiHandler(ui)
	s.mailhogRoutes()
	s.sendRoutes()
	s.chaosRoutes()
	s.openapiRoutes()
}
