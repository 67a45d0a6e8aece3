package lifecycle

import (
	"errors"
	"net/http"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gaiia/clonebot/notifier"
)

// transientBeforeWipe reports whether a clone stopped for a fault that passes, at a
// point where nothing was wiped yet: an instance that did not accept the
// connection, or Zendesk failing to take the export (rate limited, in conflict,
// failing or unreachable). Such a clone runs again; only a permanent refusal
// (Zendesk answering another 4xx: the ticket is closed, the file refused) fails it.
func transientBeforeWipe(err error) bool {
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		return true
	}
	if !isZendesk(err) {
		return false
	}
	var rl *notifier.RateLimitError
	if errors.As(err, &rl) {
		return true
	}
	var st *notifier.StatusError
	if !errors.As(err, &st) {
		return true // the network: nothing answered
	}
	switch st.Status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return true
	}
	return st.Status >= 500
}
