package zendesksim

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

type tagOp int

const (
	tagSet tagOp = iota
	tagAdd
	tagRemove
)

func (s *Server) handleGetTags(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketLocked(w, r)
	if t == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": slices.Clone(t.Tags)})
}

// handleTags serves POST (set), PUT (add) and DELETE (remove, with a JSON body) on a
// ticket's tags, honouring updated_stamp and safe_update.
func (s *Server) handleTags(op tagOp) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Tags         []string   `json:"tags"`
			UpdatedStamp *time.Time `json:"updated_stamp"`
			SafeUpdate   bool       `json:"safe_update"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "InvalidJSON", err.Error())
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		t := s.ticketLocked(w, r)
		if t == nil {
			return
		}
		ch := change{actor: s.apiActorLocked(), via: "api", stamp: req.UpdatedStamp, safe: req.SafeUpdate}
		switch op {
		case tagSet:
			ch.setTags, ch.hasSetTags = req.Tags, true
		case tagAdd:
			ch.addTags = req.Tags
		case tagRemove:
			ch.removeTags = req.Tags
		}
		if _, err := s.applyLocked(t, ch); err != nil {
			writeChangeError(w, err)
			return
		}
		status := http.StatusOK
		if op == tagSet {
			status = http.StatusCreated
		}
		writeJSON(w, status, map[string]any{"tags": slices.Clone(t.Tags)})
	}
}
