package zendesksim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

func (s *Server) handleGetTicket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketLocked(w, r)
	if t == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket": s.ticketJSON(baseURL(r), t)})
}

type ticketUpdate struct {
	Ticket struct {
		Comment *struct {
			Body     string   `json:"body"`
			HTMLBody string   `json:"html_body"`
			Public   *bool    `json:"public"`
			AuthorID int64    `json:"author_id"`
			Uploads  []string `json:"uploads"`
		} `json:"comment"`
		Tags           *[]string `json:"tags"`
		AdditionalTags []string  `json:"additional_tags"`
		RemoveTags     []string  `json:"remove_tags"`
		CustomFields   []struct {
			ID    int64 `json:"id"`
			Value any   `json:"value"`
		} `json:"custom_fields"`
		Status       string     `json:"status"`
		Priority     string     `json:"priority"`
		UpdatedStamp *time.Time `json:"updated_stamp"`
		SafeUpdate   bool       `json:"safe_update"`
	} `json:"ticket"`
}

func (s *Server) handleUpdateTicket(w http.ResponseWriter, r *http.Request) {
	var req ticketUpdate
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
	ch, err := s.changeFromUpdateLocked(req)
	if err != nil {
		writeChangeError(w, err)
		return
	}
	a, err := s.applyLocked(t, ch)
	if err != nil {
		writeChangeError(w, err)
		return
	}
	if a == nil {
		a = &Audit{AuthorID: ch.actor, CreatedAt: t.UpdatedAt, ViaChannel: "api", Events: []map[string]any{}}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket": s.ticketJSON(baseURL(r), t), "audit": auditJSON(t.ID, a)})
}

func (s *Server) changeFromUpdateLocked(req ticketUpdate) (change, error) {
	in := req.Ticket
	ch := change{
		actor: s.apiActorLocked(), via: "api", addTags: in.AdditionalTags, removeTags: in.RemoveTags,
		status: in.Status, priority: in.Priority, stamp: in.UpdatedStamp, safe: in.SafeUpdate,
	}
	if in.Tags != nil {
		ch.setTags, ch.hasSetTags = *in.Tags, true
	}
	if len(in.CustomFields) > 0 {
		ch.fields = map[int64]any{}
		for _, f := range in.CustomFields {
			ch.fields[f.ID] = f.Value
		}
	}
	if c := in.Comment; c != nil {
		ci := &commentInput{body: c.Body, html: c.HTMLBody, public: true, author: c.AuthorID}
		if c.Public != nil {
			ci.public = *c.Public
		}
		if ci.author == 0 {
			ci.author = ch.actor
		}
		for _, tok := range c.Uploads {
			u, ok := s.uploads[tok]
			if !ok {
				return change{}, fmt.Errorf("%w: upload token %q is invalid or expired", errInvalid, tok)
			}
			ci.attachments = append(ci.attachments, u.attachments...)
		}
		ch.comment = ci
	}
	return ch, nil
}

// ticketLocked finds the ticket named in the request path; s.mu must be held. When
// there is none it answers 404 itself and returns nil.
func (s *Server) ticketLocked(w http.ResponseWriter, r *http.Request) *ticket {
	id, ok := pathID(r)
	t, found := s.tickets[id]
	if !ok || !found {
		writeChangeError(w, errNotFound)
		return nil
	}
	return t
}
