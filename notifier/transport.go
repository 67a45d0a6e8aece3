package notifier

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

type noReplayKey struct{}

// withoutReplay marks requests that must not be sent twice when Zendesk may have
// applied them (a comment): they are retried only after a 429 or 503, which
// Zendesk answers before doing anything.
func withoutReplay(ctx context.Context) context.Context {
	return context.WithValue(ctx, noReplayKey{}, true)
}

// baseTransport reads the configured client's Transport at each request.
type baseTransport struct {
	client   *http.Client
	fallback http.RoundTripper
}

func (b baseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if b.client != nil && b.client.Transport != nil {
		return b.client.Transport.RoundTrip(req)
	}
	return b.fallback.RoundTrip(req)
}

func newDefaultTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
	}
}

// retryTransport retries 429/503 after Retry-After, and 5xx and transport errors
// with exponential backoff and jitter.
type retryTransport struct {
	next http.RoundTripper
	cfg  Config
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req, err := replayable(req)
	if err != nil {
		return nil, err
	}
	route := Route(req.URL.Path)
	for attempt := 1; ; attempt++ {
		r, err := rewind(req, attempt)
		if err != nil {
			return nil, err
		}
		resp, err := t.next.RoundTrip(r)
		wait, retry, final := t.decide(req, attempt, resp, err)
		t.observe(req.Method, route, resp, retry)
		if !retry {
			if final != nil {
				drain(resp)
				return nil, final
			}
			return resp, err
		}
		drain(resp)
		t.retryLog(req, route, attempt, resp, err).WithField("wait", wait.String()).Info("zendesk: retrying")
		if err := t.cfg.Sleep(req.Context(), wait); err != nil {
			return nil, fmt.Errorf("wait to retry %s %s: %w", req.Method, route, err)
		}
	}
}

// retryLog says which call is retried, for which ticket, and why.
func (t *retryTransport) retryLog(req *http.Request, route string, attempt int, resp *http.Response, err error) *logrus.Entry {
	fields := logrus.Fields{"method": req.Method, "route": route, "attempt": attempt}
	if id := ticketOf(req); id != 0 {
		fields["ticket"] = id
	}
	switch {
	case err != nil:
		fields["cause"] = err.Error()
	case resp != nil:
		fields["cause"] = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return t.cfg.Logger.WithFields(fields)
}

type ticketKey struct{}

// WithTicket names the ticket that calls made with ctx are about, for the logs.
func WithTicket(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, ticketKey{}, id)
}

var ticketPath = regexp.MustCompile(`^/api/v2/tickets/([0-9]+)`)

// ticketOf is the ticket a request is about: from its context, else its path.
func ticketOf(req *http.Request) int64 {
	if id, ok := req.Context().Value(ticketKey{}).(int64); ok {
		return id
	}
	if m := ticketPath.FindStringSubmatch(req.URL.Path); m != nil {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		return id
	}
	return 0
}

// decide says how long to wait before the next attempt, whether to make one, and
// which error to return instead of the response.
func (t *retryTransport) decide(req *http.Request, attempt int, resp *http.Response, err error) (time.Duration, bool, error) {
	last := attempt >= t.cfg.MaxAttempts
	noReplay := req.Context().Value(noReplayKey{}) != nil
	if err != nil {
		retry := req.Context().Err() == nil && !last && (!noReplay || errors.Is(err, errTokenFetch))
		return t.backoff(attempt), retry, nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		ra, ok := retryAfter(resp.Header.Get("Retry-After"), t.cfg.Now())
		if ra > t.cfg.MaxRetryAfter {
			return 0, false, &RateLimitError{Status: resp.StatusCode, RetryAfter: ra}
		}
		if !ok {
			ra = t.backoff(attempt)
		}
		if last && (ok || resp.StatusCode == http.StatusTooManyRequests) {
			return 0, false, &RateLimitError{Status: resp.StatusCode, RetryAfter: ra}
		}
		return ra, !last, nil
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return t.backoff(attempt), !last && !noReplay, nil
	}
	return 0, false, nil
}

func (t *retryTransport) backoff(attempt int) time.Duration {
	d := t.cfg.BaseBackoff << min(attempt-1, 20)
	if d > t.cfg.MaxBackoff || d <= 0 {
		d = t.cfg.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func (t *retryTransport) observe(method, route string, resp *http.Response, retry bool) {
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	t.cfg.Logger.WithFields(map[string]any{"method": method, "route": route, "status": status}).Debug("zendesk: request")
	if t.cfg.Observer != nil {
		t.cfg.Observer(method, route, status, retry)
	}
}

// retryAfter parses Retry-After in seconds or as an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second)), true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// replayable makes sure the request body can be sent again.
func replayable(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return req, nil
	}
	b, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("buffer body of %s %s: %w", req.Method, Route(req.URL.Path), err)
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return r, nil
}

func rewind(req *http.Request, attempt int) (*http.Request, error) {
	if attempt == 1 {
		return req, nil
	}
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("rewind body of %s %s: %w", req.Method, Route(req.URL.Path), err)
		}
		r.Body = body
	}
	return r, nil
}

func drain(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}
}

var idSegment = regexp.MustCompile(`^[0-9]+$|^[0-9a-zA-Z]{20,}$`)

// Route normalises a request path for metrics and logs: ids and tokens become
// ":id" and the ".json" suffix goes, e.g. /api/v2/tickets/:id/tags.
func Route(path string) string {
	parts := strings.Split(strings.TrimSuffix(path, ".json"), "/")
	for i, p := range parts {
		p = strings.TrimSuffix(p, ".json")
		if idSegment.MatchString(p) {
			p = ":id"
		}
		parts[i] = p
	}
	return strings.Join(parts, "/")
}
