package zendesksim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WebhookDelivery is one webhook invocation and what became of it.
type WebhookDelivery struct {
	URL          string
	Type         string // event type, or "trigger"
	InvocationID string
	Body         []byte
	Attempts     int
	Status       int    // last response status; 0 if none
	Err          string // last transport error
}

type delivery struct {
	WebhookDelivery
}

// webhookQueue sends webhooks one at a time from its own goroutine.
type webhookQueue struct {
	cfg    Config
	client *http.Client

	mu        sync.Mutex
	pending   []*delivery
	busy      bool
	dupes     int
	nextInvID int64
	log       []WebhookDelivery

	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newWebhookQueue(cfg Config) *webhookQueue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &webhookQueue{
		cfg: cfg, client: &http.Client{Timeout: cfg.WebhookTimeout},
		nextInvID: 8350205582, wake: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	go q.run()
	return q
}

// SetWebhookDuplicates makes every later invocation be sent 1+n times, each with
// its own invocation id, as Zendesk sometimes does.
func (s *Server) SetWebhookDuplicates(n int) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	s.hooks.dupes = n
}

// Webhooks returns the finished webhook deliveries, oldest first.
func (s *Server) Webhooks() []WebhookDelivery {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	return append([]WebhookDelivery(nil), s.hooks.log...)
}

// WaitWebhooks waits until every queued webhook has been delivered or given up.
func (s *Server) WaitWebhooks(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		s.hooks.mu.Lock()
		idle := len(s.hooks.pending) == 0 && !s.hooks.busy
		s.hooks.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("zendesksim: wait for webhooks: %w", ctx.Err())
		case <-t.C:
		}
	}
}

func (q *webhookQueue) push(typ string, body []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, u := range q.cfg.WebhookURLs {
		for range 1 + q.dupes {
			q.nextInvID++
			q.pending = append(q.pending, &delivery{WebhookDelivery{
				URL: u, Type: typ, Body: body, InvocationID: strconv.FormatInt(q.nextInvID, 10),
			}})
		}
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *webhookQueue) close() {
	q.cancel()
	<-q.done
}

func (q *webhookQueue) run() {
	defer close(q.done)
	for {
		select {
		case <-q.ctx.Done():
			return
		case <-q.wake:
		}
		for q.sendNext() {
		}
	}
}

func (q *webhookQueue) sendNext() bool {
	q.mu.Lock()
	if len(q.pending) == 0 || q.ctx.Err() != nil {
		q.mu.Unlock()
		return false
	}
	d := q.pending[0]
	q.pending = q.pending[1:]
	q.busy = true
	q.mu.Unlock()

	q.deliver(d)

	q.mu.Lock()
	q.busy = false
	q.log = append(q.log, d.WebhookDelivery)
	q.mu.Unlock()
	return true
}

// deliver sends d, retrying as Zendesk documents: a timeout or a connection error
// is retried after a growing pause, a 409 at most three times, a 429 or 503 only
// when its Retry-After is under 60 s (and after that long); any other answer,
// a bare 503 and every other 5xx included, ends the invocation.
func (q *webhookQueue) deliver(d *delivery) {
	wait := q.cfg.WebhookRetryDelay
	conflicts := 0
	for d.Attempts < q.cfg.WebhookAttempts {
		d.Attempts++
		status, retryAfter, err := q.attempt(d)
		d.Status = status
		d.Err = ""
		if err != nil {
			d.Err = err.Error()
		}
		if status == http.StatusConflict {
			conflicts++
		}
		pause, again := retryPause(status, retryAfter, err, conflicts, wait)
		if !again || d.Attempts == q.cfg.WebhookAttempts {
			break
		}
		wait *= 2
		select {
		case <-q.ctx.Done():
			return
		case <-time.After(pause):
		}
	}
	q.cfg.Logger.WithFields(map[string]any{"url": d.URL, "type": d.Type, "status": d.Status, "attempts": d.Attempts}).Debug("zendesksim: webhook sent")
}

// maxConflictRetries is how often Zendesk retries a delivery answered 409.
const maxConflictRetries = 3

// retryPause says whether an attempt's outcome is retried, and after how long.
func retryPause(status int, retryAfter time.Duration, err error, conflicts int, backoff time.Duration) (time.Duration, bool) {
	switch {
	case err != nil:
		return backoff, true
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return retryAfter, retryAfter > 0 && retryAfter < time.Minute
	case status == http.StatusConflict:
		return backoff, conflicts <= maxConflictRetries
	}
	return 0, false
}

func (q *webhookQueue) attempt(d *delivery) (int, time.Duration, error) {
	stamp := q.cfg.Now().UTC().Format(timeFormat)
	req, err := http.NewRequestWithContext(q.ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Zendesk Webhook")
	req.Header.Set("X-Zendesk-Account-Id", strconv.FormatInt(q.cfg.AccountID, 10))
	req.Header.Set("X-Zendesk-Webhook-Id", q.cfg.WebhookID)
	req.Header.Set("X-Zendesk-Webhook-Invocation-Id", d.InvocationID)
	req.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", stamp)
	req.Header.Set("X-Zendesk-Webhook-Signature", Sign(q.cfg.WebhookSecret, stamp, d.Body))
	resp, err := q.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	secs, _ := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After")))
	return resp.StatusCode, time.Duration(secs) * time.Second, nil
}

// Sign computes Zendesk's webhook signature: base64(HMAC-SHA256(secret, timestamp+body)).
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
