package notifier

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nukosuke/go-zendesk/zendesk"
)

var (
	// ErrNotFound: the ticket or user does not exist (404).
	ErrNotFound = errors.New("zendesk: not found")
	// ErrClosed: the ticket is closed and can no longer be updated (422).
	ErrClosed = errors.New("zendesk: ticket is closed")
	// ErrConflict: a safe update lost against a concurrent change (409).
	ErrConflict = errors.New("zendesk: update conflict")
	// ErrUnauthorized: the credentials were refused (401).
	ErrUnauthorized = errors.New("zendesk: unauthorized")
	// ErrForbidden: the credentials are good, the bot's user may not do this (403).
	ErrForbidden = errors.New("zendesk: forbidden")
	// ErrMalformed: an answer that is not what the API documents (a ticket or an
	// audit the parser cannot read); asking again will not help.
	ErrMalformed = errors.New("zendesk: malformed answer")
)

// RateLimitError says Zendesk asked to wait longer than the client is willing to,
// or kept refusing; a job should snooze for RetryAfter.
type RateLimitError struct {
	Status     int // 429 or 503
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("zendesk: rate limited (%d), retry after %s", e.Status, e.RetryAfter)
}

// StatusError is any other non-success answer. It unwraps to ErrNotFound,
// ErrClosed, ErrConflict, ErrUnauthorized or ErrForbidden when one applies.
type StatusError struct {
	Status int
	Body   string // truncated
}

func (e *StatusError) Error() string { return fmt.Sprintf("zendesk: status %d: %s", e.Status, e.Body) }

// Unwrap maps the status to a sentinel error.
func (e *StatusError) Unwrap() error {
	switch {
	case e.Status == http.StatusNotFound:
		return ErrNotFound
	case e.Status == http.StatusConflict:
		return ErrConflict
	case e.Status == http.StatusUnauthorized:
		return ErrUnauthorized
	case e.Status == http.StatusForbidden:
		return ErrForbidden
	case e.Status == http.StatusUnprocessableEntity && strings.Contains(strings.ToLower(e.Body), "closed"):
		return ErrClosed
	}
	return nil
}

func newStatusError(status int, body []byte) *StatusError {
	const max = 512
	if len(body) > max {
		body = body[:max]
	}
	return &StatusError{Status: status, Body: string(body)}
}

// classify turns go-zendesk's error value into a *StatusError; other errors
// (transport, *RateLimitError) pass through.
func classify(err error) error {
	var zerr zendesk.Error
	if errors.As(err, &zerr) {
		msg := strings.TrimPrefix(zerr.Error(), fmt.Sprintf("%d: ", zerr.Status()))
		return newStatusError(zerr.Status(), []byte(msg))
	}
	return err
}
