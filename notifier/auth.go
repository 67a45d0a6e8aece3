package notifier

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// errTokenFetch marks a failure to obtain an OAuth token: nothing reached the API,
// so the request may always be retried.
var errTokenFetch = errors.New("fetch oauth token")

// authTransport sets the Authorization header; with OAuth it retries a 401 once
// with a fresh token.
type authTransport struct {
	next   http.RoundTripper
	static string       // "Basic ..." or "Bearer ..."
	oauth  *tokenSource // when set, static is unused
}

func newAuthTransport(cfg Config, next http.RoundTripper) *authTransport {
	t := &authTransport{next: next}
	switch {
	case cfg.OAuth != nil:
		t.oauth = &tokenSource{cfg: cfg, next: next}
	case cfg.BearerToken != "":
		t.static = "Bearer " + cfg.BearerToken
	default:
		t.static = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Email+"/token:"+cfg.APIToken))
	}
	return t
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.oauth == nil {
		return t.next.RoundTrip(withAuth(req, t.static))
	}
	tok, err := t.oauth.token(req.Context())
	if err != nil {
		return nil, err
	}
	resp, err := t.next.RoundTrip(withAuth(req, "Bearer "+tok))
	if err != nil || resp.StatusCode != http.StatusUnauthorized || req.GetBody == nil && req.Body != nil && req.Body != http.NoBody {
		return resp, err
	}
	drain(resp)
	t.oauth.invalidate(tok)
	if tok, err = t.oauth.token(req.Context()); err != nil {
		return nil, err
	}
	r, err := rewind(req, 2)
	if err != nil {
		return nil, err
	}
	return t.next.RoundTrip(withAuth(r, "Bearer "+tok))
}

func withAuth(req *http.Request, value string) *http.Request {
	r := req.Clone(req.Context())
	r.Body = req.Body
	r.Header.Set("Authorization", value)
	return r
}

// tokenSource caches a client-credentials access token and fetches a new one a
// little before it expires. One fetch runs at a time.
type tokenSource struct {
	cfg  Config
	next http.RoundTripper

	mu      sync.Mutex
	access  string
	expires time.Time
	margin  time.Duration
}

func (s *tokenSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.access != "" && s.cfg.Now().Add(s.margin).Before(s.expires) {
		return s.access, nil
	}
	access, ttl, err := s.fetch(ctx)
	if err != nil {
		return "", fmt.Errorf("%w for client %s: %w", errTokenFetch, s.cfg.OAuth.ClientID, err)
	}
	s.access, s.expires = access, s.cfg.Now().Add(ttl)
	s.margin = min(time.Minute, ttl/10)
	return access, nil
}

func (s *tokenSource) invalidate(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.access == tok {
		s.access = ""
	}
}

func (s *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	body, _ := json.Marshal(map[string]string{
		"grant_type": "client_credentials", "client_id": s.cfg.OAuth.ClientID,
		"client_secret": s.cfg.OAuth.ClientSecret, "scope": s.cfg.OAuth.Scope,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL+"/oauth/tokens", bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.next.RoundTrip(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if s.cfg.Observer != nil {
		s.cfg.Observer(http.MethodPost, "/oauth/tokens", resp.StatusCode, false)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", 0, newStatusError(resp.StatusCode, raw)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.AccessToken == "" {
		return "", 0, errors.New("token response has no access_token")
	}
	if out.ExpiresIn <= 0 {
		out.ExpiresIn = 1800
	}
	return out.AccessToken, time.Duration(out.ExpiresIn) * time.Second, nil
}
