package notifier

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
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
		t.oauth = newTokenSource(cfg, next)
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
// little before it expires, on the notifier's clock. One fetch runs at a time. The
// grant itself (the request, its errors) is golang.org/x/oauth2's.
type tokenSource struct {
	cfg   Config
	grant *clientcredentials.Config
	http  *http.Client // carries the token requests, observed like the API's

	mu      sync.Mutex
	access  string
	expires time.Time
	margin  time.Duration
}

func newTokenSource(cfg Config, next http.RoundTripper) *tokenSource {
	return &tokenSource{
		cfg: cfg,
		grant: &clientcredentials.Config{
			ClientID: cfg.OAuth.ClientID, ClientSecret: cfg.OAuth.ClientSecret,
			TokenURL: cfg.URL + "/oauth/tokens", Scopes: cfg.OAuth.Scopes,
			AuthStyle: oauth2.AuthStyleInParams, // Zendesk documents the credentials in the body
		},
		http: &http.Client{Transport: observed{next: next, observer: cfg.Observer}},
	}
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
	tok, err := s.grant.Token(context.WithValue(ctx, oauth2.HTTPClient, s.http))
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return "", 0, newStatusError(re.Response.StatusCode, re.Body)
	}
	if err != nil {
		return "", 0, err
	}
	// The library dates the expiry on the system clock; the cache runs on the
	// notifier's, so keep the lifetime only.
	ttl := time.Until(tok.Expiry).Round(time.Second)
	if tok.Expiry.IsZero() || ttl <= 0 {
		ttl = 30 * time.Minute // Zendesk's default lifetime of an access token
	}
	return tok.AccessToken, ttl, nil
}

// observed reports each token request to the observer, as the API's are.
type observed struct {
	next     http.RoundTripper
	observer func(method, route string, status int, retry bool)
}

func (o observed) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(req)
	if o.observer != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		o.observer(req.Method, Route(req.URL.Path), status, false)
	}
	return resp, err
}
