package zendesksim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

func authKind(r *http.Request) string {
	h := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(h, "Basic "):
		return "basic"
	case strings.HasPrefix(h, "Bearer "):
		return "bearer"
	}
	return ""
}

func needsAuth(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

func (s *Server) authenticated(r *http.Request) bool {
	if user, pass, ok := r.BasicAuth(); ok {
		return s.cfg.APIToken != "" && s.cfg.Email != "" &&
			equal(user, s.cfg.Email+"/token") && equal(pass, s.cfg.APIToken)
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return false
	}
	if slices.Contains(s.cfg.AccessTokens, tok) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && s.cfg.Now().Before(exp)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// handleOAuthToken implements the client_credentials grant of POST /oauth/tokens.
// Zendesk documents a JSON body; a form body is accepted too.
func (s *Server) handleOAuthToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		GrantType    string `json:"grant_type"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Scope        string `json:"scope"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		_ = r.ParseForm()
		req.GrantType, req.ClientID, req.ClientSecret, req.Scope = r.PostFormValue("grant_type"),
			r.PostFormValue("client_id"), r.PostFormValue("client_secret"), r.PostFormValue("scope")
	} else if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "body must be JSON"})
		return
	}
	if req.GrantType != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type", "error_description": "only client_credentials is simulated"})
		return
	}
	secret, ok := s.cfg.OAuthClients[req.ClientID]
	if !ok || !equal(secret, req.ClientSecret) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "Client authentication failed"})
		return
	}
	tok := randomHex(32)
	s.mu.Lock()
	s.tokens[tok] = s.cfg.Now().Add(s.cfg.TokenTTL)
	s.mu.Unlock()
	scope := req.Scope
	if scope == "" {
		scope = "read write"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "bearer", "scope": scope,
		"expires_in": int(s.cfg.TokenTTL.Seconds()),
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]any{"error": code, "description": description})
}
