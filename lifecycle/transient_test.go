package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"

	"github.com/gaiia/clonebot/notifier"
)

// Before the wipe, a fault that passes retries the clone; a refusal fails it.
func TestTransientBeforeWipe(t *testing.T) {
	_, connectErr := pgconn.Connect(context.Background(), "postgres://postgres@127.0.0.1:1/none?connect_timeout=1")
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"instance refusing the connection", fmt.Errorf("connect to instance acme-sandbox: %w", connectErr), true},
		{"Zendesk rate limit", fromZendesk(&notifier.RateLimitError{Status: 429, RetryAfter: time.Minute}), true},
		{"Zendesk conflict", fromZendesk(&notifier.StatusError{Status: 409}), true},
		{"Zendesk timeout", fromZendesk(&notifier.StatusError{Status: 408}), true},
		{"Zendesk failing", fromZendesk(&notifier.StatusError{Status: 502}), true},
		{"Zendesk unreachable", fromZendesk(errors.New("dial tcp: connection refused")), true},
		{"ticket closed", fromZendesk(&notifier.StatusError{Status: 422, Body: "closed"}), false},
		{"file refused", fromZendesk(&notifier.StatusError{Status: 413}), false},
		{"a verification mismatch", errors.New("verification failed"), false},
	}
	for _, tc := range cases {
		if got := transientBeforeWipe(fmt.Errorf("save sandbox-only workflows before the wipe: %w", tc.err)); got != tc.want {
			t.Errorf("%s: transient = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Waits are capped at a minute, so that a ticket moves on within a minute or two
// of Zendesk or an instance coming back, whatever Retry-After Zendesk sent.
func TestWaitsAreCappedAtAMinute(t *testing.T) {
	var snooze *river.JobSnoozeError
	err := zendeskJobError(fmt.Errorf("read ticket: %w", &notifier.RateLimitError{Status: 429, RetryAfter: 10 * time.Minute}))
	if !errors.As(err, &snooze) || snooze.Duration != time.Minute {
		t.Errorf("a 10-minute Retry-After snoozes %v, want a minute", err)
	}
	for attempts, want := range map[int]time.Duration{0: time.Second, 1: 2 * time.Second, 5: 32 * time.Second, 6: time.Minute, 40: time.Minute} {
		if got := retryDelay(attempts); got != want {
			t.Errorf("retryDelay(%d) = %s, want %s", attempts, got, want)
		}
	}
}
