package zendesksim

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/tokens", s.handleOAuthToken)
	mux.HandleFunc("GET /api/v2/tickets/{id}", s.handleGetTicket)
	mux.HandleFunc("PUT /api/v2/tickets/{id}", s.handleUpdateTicket)
	for _, p := range []string{"/api/v2/tickets/{id}/tags", "/api/v2/tickets/{id}/tags.json"} {
		mux.HandleFunc("GET "+p, s.handleGetTags)
		mux.HandleFunc("POST "+p, s.handleTags(tagSet))
		mux.HandleFunc("PUT "+p, s.handleTags(tagAdd))
		mux.HandleFunc("DELETE "+p, s.handleTags(tagRemove))
	}
	for _, p := range []string{"/api/v2/tickets/{id}/comments", "/api/v2/tickets/{id}/comments.json"} {
		mux.HandleFunc("GET "+p, s.handleListComments)
	}
	for _, p := range []string{"/api/v2/tickets/{id}/audits", "/api/v2/tickets/{id}/audits.json"} {
		mux.HandleFunc("GET "+p, s.handleListAudits)
	}
	mux.HandleFunc("GET /api/v2/incremental/tickets/cursor", s.handleTicketExport)
	mux.HandleFunc("GET /api/v2/incremental/tickets/cursor.json", s.handleTicketExport)
	mux.HandleFunc("GET /api/v2/users/{id}", s.handleGetUser)
	for _, p := range []string{"/api/v2/users/{id}/organization_memberships", "/api/v2/users/{id}/organization_memberships.json"} {
		mux.HandleFunc("GET "+p, s.handleListMemberships)
	}
	mux.HandleFunc("POST /api/v2/uploads", s.handleUpload)
	mux.HandleFunc("POST /api/v2/uploads.json", s.handleUpload)
	mux.HandleFunc("GET /attachments/{id}/{name}", s.handleAttachmentContent)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "InvalidEndpoint", "Not found")
	})
	return mux
}

func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(strings.TrimSuffix(r.PathValue("id"), ".json"), 10, 64)
	return id, err == nil
}

func baseURL(r *http.Request) string { return "http://" + r.Host }

// writeChangeError answers with Zendesk's status and body for a failed change.
func writeChangeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errNotFound):
		writeError(w, http.StatusNotFound, "RecordNotFound", "Not found")
	case errors.Is(err, errClosed):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error": "RecordInvalid", "description": "Record validation errors",
			"details": map[string]any{"status": []map[string]any{{"description": "Status: closed prevents ticket update"}}},
		})
	case errors.Is(err, errConflict):
		writeError(w, http.StatusConflict, "UpdateConflict",
			"Safe Update prevented the update due to outdated ticket data. Please fetch the latest ticket data and try again.")
	default:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error": "RecordInvalid", "description": "Record validation errors",
			"details": map[string]any{"base": []map[string]any{{"description": err.Error()}}},
		})
	}
}
