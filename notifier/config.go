package notifier

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// Config configures a Client.
type Config struct {
	// URL is the Zendesk account, e.g. https://acme.zendesk.com, or a simulator's URL.
	URL string
	// Email and APIToken authenticate with Basic "email/token:APIToken".
	Email    string
	APIToken string
	// OAuth authenticates with a client-credentials token from URL/oauth/tokens
	// (form-encoded, as OAuth 2.0 defines the grant), refreshed before it expires. It takes precedence over BearerToken and APIToken.
	OAuth *OAuthConfig
	// BearerToken is a static OAuth access token; it takes precedence over APIToken.
	BearerToken string
	// BotUserID is the author of the bot's comments. Required.
	BotUserID int64
	// HTTPClient is the base client whose Transport (read at each request, so
	// httpmock.ActivateNonDefault works before or after New) carries the requests.
	// Default: a transport with dial, TLS and response-header timeouts.
	HTTPClient *http.Client
	// Logger receives request logs (never secrets). Default: discarded.
	Logger *logrus.Entry
	// Now is the clock used for token expiry. Default: time.Now.
	Now func() time.Time
	// Timeout bounds one call including its retries. Default 3 minutes.
	Timeout time.Duration
	// MaxAttempts is the number of attempts per request. Default 4.
	MaxAttempts int
	// MaxRetryAfter is the longest Retry-After the client waits for itself; beyond
	// it the call fails with a *RateLimitError. Default 30 s.
	MaxRetryAfter time.Duration
	// BaseBackoff and MaxBackoff bound the exponential backoff. Default 500 ms and 10 s.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Sleep waits between attempts. Default: a timer that stops with ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Observer, if set, is called after every attempt with the method, the route
	// without ids (e.g. /api/v2/tickets/:id/tags), the status (0 on a transport
	// error) and whether the attempt will be retried. Use it for metrics.
	Observer func(method, route string, status int, retry bool)
}

// OAuthConfig is an OAuth client allowed the client_credentials grant.
type OAuthConfig struct {
	ClientID     string
	ClientSecret string
	// Scopes asked for. Default DefaultScopes: the bot reads tickets and users and
	// writes comments, tags and uploads.
	Scopes []string
}

// DefaultScopes are the OAuth scopes asked for when none are configured.
func DefaultScopes() []string { return []string{"read", "write"} }

func (c Config) withDefaults() (Config, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, errors.New("notifier: zendesk url must be like https://acme.zendesk.com")
	}
	c.URL = strings.TrimSuffix(strings.TrimSuffix(c.URL, "/"), "/api/v2")
	switch {
	case c.OAuth != nil:
		if c.OAuth.ClientID == "" || c.OAuth.ClientSecret == "" {
			return c, errors.New("notifier: zendesk oauth needs client_id and client_secret")
		}
		if len(c.OAuth.Scopes) == 0 {
			o := *c.OAuth
			o.Scopes = DefaultScopes()
			c.OAuth = &o
		}
	case c.BearerToken != "":
	case c.Email == "" || c.APIToken == "":
		return c, errors.New("notifier: set zendesk oauth, a bearer token, or email and api_token")
	}
	if c.BotUserID <= 0 {
		return c, errors.New("notifier: zendesk bot_user_id must be the bot's Zendesk user id")
	}
	c.setDefaults()
	return c, nil
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		c.Logger = logrus.NewEntry(l)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 4
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = 30 * time.Second
	}
	if c.BaseBackoff == 0 {
		c.BaseBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
