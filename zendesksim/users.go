package zendesksim

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// pathUser is the user the request's path names; when there is none it answers
// 404 and returns nil. The caller holds s.mu.
func (s *Server) pathUser(w http.ResponseWriter, r *http.Request) *User {
	id, ok := pathID(r)
	u, found := s.users[id]
	if !ok || !found {
		writeChangeError(w, errNotFound)
		return nil
	}
	return u
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pathUser(w, r)
	if u == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": userJSON(baseURL(r), u)})
}

// handleListMemberships answers GET /api/v2/users/{id}/organization_memberships.
func (s *Server) handleListMemberships(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.pathUser(w, r)
	if u == nil {
		return
	}
	items := make([]any, 0, len(u.Memberships))
	for _, org := range u.Memberships {
		items = append(items, membershipJSON(baseURL(r), u, org, s.orgs[org]))
	}
	writeJSON(w, http.StatusOK, s.paginate(r, "organization_memberships", items))
}

// handleUpload stores the raw body as a file under a new token, or adds it to the
// token given in ?token=.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("filename")
	if name == "" {
		writeError(w, http.StatusBadRequest, "InvalidFilename", "filename is required")
		return
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidBody", err.Error())
		return
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/binary"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := r.URL.Query().Get("token")
	u, ok := s.uploads[tok]
	if !ok {
		u = &upload{token: randomHex(12)}
		s.uploads[u.token] = u
	}
	a := s.storeAttachmentLocked(name, ct, data)
	u.attachments = append(u.attachments, a)
	writeJSON(w, http.StatusCreated, map[string]any{"upload": map[string]any{
		"token":       u.token,
		"expires_at":  ts(s.now().Add(60 * 60 * 1e9)),
		"attachment":  attachmentJSON(baseURL(r), a),
		"attachments": attachmentsJSON(baseURL(r), u.attachments),
	}})
}

func (s *Server) handleAttachmentContent(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	a, ok := s.attachments[id]
	s.mu.Unlock()
	if err != nil || !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.ContentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", a.FileName))
	_, _ = w.Write(a.Data)
}
