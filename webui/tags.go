package webui

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"mailsink/store"
)

// handleTags: GET /api/v1/tags lists the tags in use.
func (s *Server) handleTags(w http.ResponseWriter, r *http.Request) {
	tags, err := s.msgs.Tags(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, nonNil(tags))
}

// setTagsRequest is the body of PUT /api/v1/tags.
type setTagsRequest struct {
	IDs  []string `json:"IDs"`
	Tags []string `json:"Tags"`
}

// handleSetTags: PUT /api/v1/tags replaces the tags of the messages IDs;
// absent or empty Tags clears them.
func (s *Server) handleSetTags(w http.ResponseWriter, r *http.Request) {
	var req setTagsRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.IDs) == 0 {
		s.writeError(w, r, fmt.Errorf("%w: IDs must name at least one message", errBadRequest))
		return
	}
	if err := s.msgs.SetTags(r.Context(), req.IDs, req.Tags); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// renameTagRequest is the body of PUT /api/v1/tags/{tag}.
type renameTagRequest struct {
	Name string `json:"Name"`
}

// handleRenameTag: PUT /api/v1/tags/{tag} renames a tag on every message;
// an unknown tag is a 400, as in Mailpit.
func (s *Server) handleRenameTag(w http.ResponseWriter, r *http.Request) {
	var req renameTagRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if strings.TrimSpace(req.Name) == "" {
		s.writeError(w, r, fmt.Errorf("%w: Name must not be empty", errBadRequest))
		return
	}
	tag := r.PathValue("tag")
	err := s.msgs.RenameTag(r.Context(), tag, req.Name)
	if errors.Is(err, store.ErrNotFound) {
		err = fmt.Errorf("%w: no message has the tag %q", errBadRequest, tag)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// handleDeleteTag: DELETE /api/v1/tags/{tag} removes a tag from every
// message; the messages stay.
func (s *Server) handleDeleteTag(w http.ResponseWriter, r *http.Request) {
	if err := s.msgs.DeleteTag(r.Context(), r.PathValue("tag")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// handleInboxes: GET /api/v1/inboxes lists the inboxes that hold mail,
// with their counts. The default inbox is named "".
func (s *Server) handleInboxes(w http.ResponseWriter, r *http.Request) {
	inboxes, err := s.msgs.Inboxes(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, nonNil(inboxes))
}
