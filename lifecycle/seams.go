package lifecycle

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/parser"
)

// Zendesk is what the life cycle needs of Zendesk: each worker uses a few of these
// calls (ticketReader, announcer, exporter).
type Zendesk interface {
	Ticket(ctx context.Context, id int64) (parser.Ticket, error)
	Audits(ctx context.Context, id int64) ([]parser.Audit, error)
	User(ctx context.Context, id int64) (notifier.User, error)
	Organizations(ctx context.Context, userID int64) ([]int64, error)
	TicketsChanged(ctx context.Context, cursor string, since time.Time) (notifier.ExportPage, error)
	Announce(ctx context.Context, ticketID int64, a notifier.Announcement) error
}

// ticketReader is what a sync reads: the ticket, its audits, and the people on it.
type ticketReader interface {
	Ticket(ctx context.Context, id int64) (parser.Ticket, error)
	Audits(ctx context.Context, id int64) ([]parser.Audit, error)
	User(ctx context.Context, id int64) (notifier.User, error)
	Organizations(ctx context.Context, userID int64) ([]int64, error)
}

// userReader reads a user: the approver of a clone about to start.
type userReader interface {
	User(ctx context.Context, id int64) (notifier.User, error)
}

// announcer posts on a ticket.
type announcer interface {
	Announce(ctx context.Context, ticketID int64, a notifier.Announcement) error
}

// exporter reads Zendesk's incremental ticket export.
type exporter interface {
	TicketsChanged(ctx context.Context, cursor string, since time.Time) (notifier.ExportPage, error)
}

// Cloner checks, plans and runs clones, and rolls them back.
type Cloner interface {
	Check(ctx context.Context, from, to string) (*cloner.Plan, error)
	Plan(ctx context.Context, from, to string) (*cloner.Plan, error)
	Clone(ctx context.Context, from, to string, opts cloner.Options) (*cloner.Report, error)
	CheckRollback(ctx context.Context, sandbox, cloneID string) (*cloner.RollbackCopy, error)
	Rollback(ctx context.Context, sandbox string, opts cloner.RollbackOptions) (*cloner.RollbackReport, error)
}

// planner checks and plans, and checks that a ready clone can be rolled back:
// what a sync asks of the cloner.
type planner interface {
	Check(ctx context.Context, from, to string) (*cloner.Plan, error)
	Plan(ctx context.Context, from, to string) (*cloner.Plan, error)
	CheckRollback(ctx context.Context, sandbox, cloneID string) (*cloner.RollbackCopy, error)
}

// cloneRunner runs clones.
type cloneRunner interface {
	Clone(ctx context.Context, from, to string, opts cloner.Options) (*cloner.Report, error)
}

// rollbackRunner rolls clones back.
type rollbackRunner interface {
	Rollback(ctx context.Context, sandbox string, opts cloner.RollbackOptions) (*cloner.RollbackReport, error)
}

// zendeskFailure marks an error as Zendesk's (unreachable, refusing, rate
// limiting), as opposed to the bot's or an instance's.
type zendeskFailure struct{ err error }

func (z *zendeskFailure) Error() string { return z.err.Error() }
func (z *zendeskFailure) Unwrap() error { return z.err }

func fromZendesk(err error) error {
	if err == nil {
		return nil
	}
	return &zendeskFailure{err}
}

// isZendesk reports whether err is a failure of a Zendesk call.
func isZendesk(err error) bool {
	var z *zendeskFailure
	return errors.As(err, &z)
}

// maxSnooze caps how long a job waits out a rate limit, so that a ticket moves on
// within a minute or two of Zendesk recovering, whatever Retry-After it sent.
const maxSnooze = time.Minute

// zendeskJobError turns a Zendesk failure into the right job outcome: wait out a
// rate limit (up to maxSnooze), retry the rest.
func zendeskJobError(err error) error {
	if d, ok := rateLimited(err); ok {
		return river.JobSnooze(d)
	}
	return err
}

// rateLimited is how long to wait out a Zendesk rate limit, if err is one.
func rateLimited(err error) (time.Duration, bool) {
	var rl *notifier.RateLimitError
	if !errors.As(err, &rl) {
		return 0, false
	}
	return min(max(rl.RetryAfter, time.Second), maxSnooze), true
}

// transientBeforeWipe reports whether a clone stopped for a fault that passes, at a
// point where nothing was wiped yet: an instance that did not accept the
// connection, or Zendesk failing to take the export (rate limited, in conflict,
// failing or unreachable). Such a clone runs again; only a permanent refusal
// (Zendesk answering another 4xx: the ticket is closed, the file refused) fails it.
func transientBeforeWipe(err error) bool {
	if instanceUnreachable(err) {
		return true
	}
	if !isZendesk(err) {
		return false
	}
	if _, ok := rateLimited(err); ok {
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

// instanceUnreachable reports whether err is an instance database that did not
// accept the connection: a fault that passes, before anything was written.
func instanceUnreachable(err error) bool {
	var connect *pgconn.ConnectError
	return errors.As(err, &connect)
}
