package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// Header names Zendesk sends with every webhook request.
const (
	HeaderSignature    = "X-Zendesk-Webhook-Signature"
	HeaderTimestamp    = "X-Zendesk-Webhook-Signature-Timestamp"
	HeaderInvocationID = "X-Zendesk-Webhook-Invocation-Id"
)

// TestSecret is the static secret Zendesk signs "Test webhook" requests with before a
// webhook exists. It is accepted only when the configuration lists it.
const TestSecret = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="

// Errors from the signature check; all of them answer 401.
var (
	ErrMissingSignature = errors.New("missing signature or timestamp header")
	ErrBadSignature     = errors.New("signature does not match any configured secret")
	ErrBadTimestamp     = errors.New("timestamp is not ISO-8601")
	ErrStaleTimestamp   = errors.New("timestamp outside the accepted window")
)

// Sign returns the signature Zendesk sends for body: the base64 HMAC-SHA256 of the
// timestamp header value followed by the raw body, keyed by the secret as plain text
// (it is not base64-decoded even though it looks encoded).
func Sign(secret, timestamp string, body []byte) string {
	return base64.StdEncoding.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write(body)
	return m.Sum(nil)
}

// verifier checks signatures against the secrets of a rotation and a time window.
type verifier struct {
	secrets []string
	maxAge  time.Duration
	now     func() time.Time
}

// verify checks the signature first, so that an unsigned caller learns nothing about
// the window, then the timestamp.
func (v verifier) verify(signature, timestamp string, body []byte) error {
	if signature == "" || timestamp == "" {
		return ErrMissingSignature
	}
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return ErrBadSignature
	}
	if !v.matches(got, timestamp, body) {
		return ErrBadSignature
	}
	ts, err := time.Parse(time.RFC3339Nano, timestamp)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrBadTimestamp, timestamp)
	}
	if d := v.now().Sub(ts); d > v.maxAge || d < -v.maxAge {
		return fmt.Errorf("%w: %s off by %s", ErrStaleTimestamp, timestamp, d.Round(time.Second))
	}
	return nil
}

// matches compares against every secret, without stopping at the first match, so the
// time taken does not say which secret of a rotation signed the request.
func (v verifier) matches(got []byte, timestamp string, body []byte) bool {
	ok := false
	for _, s := range v.secrets {
		if hmac.Equal(got, mac(s, timestamp, body)) {
			ok = true
		}
	}
	return ok
}
