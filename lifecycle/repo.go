package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/parser"
)

// dbtx runs statements on a pool, a connection or a transaction.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// repo holds every query of the life cycle. The repo New builds runs each on the
// pool; inTx hands a repo bound to one transaction, whose statements (and the jobs
// it queues) commit together.
type repo struct {
	pool *pgxpool.Pool
	db   dbtx
	tx   pgx.Tx // nil outside a transaction
}

func newRepo(pool *pgxpool.Pool) *repo { return &repo{pool: pool, db: pool} }

// inTx runs fn in a transaction, committed when fn returns nil.
func (q *repo) inTx(ctx context.Context, fn func(q *repo) error) error {
	return pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error { return fn(&repo{pool: q.pool, db: tx, tx: tx}) })
}

// insertJob queues a job with the transaction; River's client comes with the
// worker's context.
func (q *repo) insertJob(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	if q.tx == nil {
		return fmt.Errorf("queue %s: not in a transaction", args.Kind())
	}
	_, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, q.tx, args, opts)
	return err
}

// request is a clone_requests row: the rules' record of the request and what the
// workers keep beside it.
type request struct {
	rules.Record
	TicketID            int64
	Production, Sandbox string
	Tenant              string
	ScheduledFor        time.Time
	Attempts            int // clones started
	Request             *parser.Request
	// CloneID names the clone that made the request ready, and so the copy of the
	// sandbox it kept for a rollback, kept until RollbackUntil.
	CloneID       string
	RollbackUntil time.Time
}

const selectRequest = `SELECT ticket_id, state, coalesce(production, ''), coalesce(sandbox, ''), coalesce(tenant, ''),
	coalesce(fingerprint, ''), coalesce(approved_fingerprint, ''), approval_audit_id, coalesce(approved_by, 0), approvals_after,
	refused_audits, coalesce(problems->>'key', ''), acknowledged, last_audit_id, scheduled_for, attempts, request,
	coalesce(clone_id, ''), rollback_until, rollback_audit_id
	FROM clone_requests WHERE ticket_id = $1::bigint`

// loadRequest reads the request of a ticket; nil when there is none.
func (q *repo) loadRequest(ctx context.Context, ticketID int64) (*request, error) {
	return q.scanRequest(ctx, selectRequest, ticketID)
}

// lockRequest reads and locks the request of a ticket until the transaction ends;
// nil when there is none.
func (q *repo) lockRequest(ctx context.Context, ticketID int64) (*request, error) {
	return q.scanRequest(ctx, selectRequest+" FOR UPDATE", ticketID)
}

// lockRequestIn locks the request of a ticket until the transaction ends if it is
// in state; nil when there is none or it is in another state (another worker
// moved it first).
func (q *repo) lockRequestIn(ctx context.Context, ticketID int64, state rules.State) (*request, error) {
	r, err := q.lockRequest(ctx, ticketID)
	if err != nil || r == nil || r.State != state {
		return nil, err
	}
	return r, nil
}

func (q *repo) scanRequest(ctx context.Context, sql string, ticketID int64) (*request, error) {
	var (
		r               request
		schedule, until *time.Time
		body            []byte
	)
	err := q.db.QueryRow(ctx, sql, ticketID).Scan(&r.TicketID, &r.State, &r.Production, &r.Sandbox, &r.Tenant,
		&r.Fingerprint, &r.ApprovedFingerprint, &r.ApprovalAudit, &r.ApprovedBy, &r.ApprovalsAfter,
		&r.RefusedApprovals, &r.ProblemsKey, &r.Acknowledged, &r.LastAuditID, &schedule, &r.Attempts, &body,
		&r.CloneID, &until, &r.RollbackAudit)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load request of ticket %d: %w", ticketID, err)
	}
	if schedule != nil {
		r.ScheduledFor = *schedule
	}
	if until != nil {
		r.RollbackUntil = *until
	}
	if len(body) > 0 {
		r.Request = &parser.Request{}
		if err := json.Unmarshal(body, r.Request); err != nil {
			return nil, fmt.Errorf("decode request of ticket %d: %w", ticketID, err)
		}
	}
	return &r, nil
}

// insertReceived creates the request of a ticket seen for the first time.
func (q *repo) insertReceived(ctx context.Context, ticketID int64) (*request, error) {
	if _, err := q.db.Exec(ctx, `INSERT INTO clone_requests (ticket_id, state) VALUES ($1::bigint, $2::text)`, ticketID, rules.Received); err != nil {
		return nil, fmt.Errorf("create request of ticket %d: %w", ticketID, err)
	}
	if _, err := q.appendAudit(ctx, ticketID, entry{to: rules.Received, reason: rules.ReasonReceived}); err != nil {
		return nil, err
	}
	return &request{TicketID: ticketID, Record: rules.Record{State: rules.Received}}, nil
}

// save writes r back, with the problems last read.
func (q *repo) save(ctx context.Context, r *request, problems []parser.Problem) error {
	var body []byte
	if r.Request != nil {
		var err error
		if body, err = json.Marshal(r.Request); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	problemsJSON, err := json.Marshal(map[string]any{"key": r.ProblemsKey, "items": problems})
	if err != nil {
		return fmt.Errorf("encode problems: %w", err)
	}
	_, err = q.db.Exec(ctx, `UPDATE clone_requests SET state = $2::text, production = nullif($3::text, ''), sandbox = nullif($4::text, ''),
		tenant = nullif($5::text, ''), fingerprint = nullif($6::text, ''), approved_fingerprint = nullif($7::text, ''),
		approval_audit_id = $8::bigint, approvals_after = $9::bigint, refused_audits = $10::bigint[],
		problems = $11::jsonb, acknowledged = $12::boolean, last_audit_id = $13::bigint,
		scheduled_for = $14::timestamptz, attempts = $15::integer, request = $16::jsonb, approved_by = nullif($17::bigint, 0),
		clone_id = nullif($18::text, ''), rollback_until = $19::timestamptz, rollback_audit_id = $20::bigint,
		updated_at = now()
		WHERE ticket_id = $1::bigint`,
		r.TicketID, r.State, r.Production, r.Sandbox, r.Tenant, r.Fingerprint, r.ApprovedFingerprint,
		r.ApprovalAudit, r.ApprovalsAfter, nonNil(r.RefusedApprovals),
		problemsJSON, r.Acknowledged, r.LastAuditID, nullTime(r.ScheduledFor), r.Attempts, body, r.ApprovedBy,
		r.CloneID, nullTime(r.RollbackUntil), r.RollbackAudit)
	if err != nil {
		return fmt.Errorf("save request of ticket %d: %w", r.TicketID, err)
	}
	return nil
}

// saveOutcome keeps a finished clone's report, or the error that failed it.
func (q *repo) saveOutcome(ctx context.Context, ticketID int64, report *cloner.Report, cause error) error {
	var lastErr *string
	if cause != nil {
		msg := cause.Error()
		lastErr = &msg
	}
	_, err := q.db.Exec(ctx, "UPDATE clone_requests SET report = $2::jsonb, last_error = $3::text WHERE ticket_id = $1::bigint", ticketID, report, lastErr)
	if err != nil {
		return fmt.Errorf("save clone outcome of ticket %d: %w", ticketID, err)
	}
	return nil
}

// saveRollbackReport keeps the evidence of a rollback that ran.
func (q *repo) saveRollbackReport(ctx context.Context, ticketID int64, report *cloner.RollbackReport) error {
	if report == nil {
		return nil
	}
	if _, err := q.db.Exec(ctx, "UPDATE clone_requests SET rollback_report = $2::jsonb WHERE ticket_id = $1::bigint", ticketID, report); err != nil {
		return fmt.Errorf("save rollback report of ticket %d: %w", ticketID, err)
	}
	return nil
}

// entry is one line of the audit log: a transition, why, and who caused it.
type entry struct {
	from, to rules.State
	reason   rules.Reason
	actor    int64 // 0 for the bot's own moves
	detail   map[string]any
}

// appendAudit records one transition; the table refuses updates and deletes.
// It returns the entry's id, which keys the announcements of the transition.
func (q *repo) appendAudit(ctx context.Context, ticketID int64, e entry) (int64, error) {
	var detail []byte
	if e.detail != nil {
		var err error
		if detail, err = json.Marshal(e.detail); err != nil {
			return 0, fmt.Errorf("encode audit detail: %w", err)
		}
	}
	var id int64
	err := q.db.QueryRow(ctx, `INSERT INTO audit_log (ticket_id, from_state, to_state, reason, actor_id, detail)
		VALUES ($1::bigint, nullif($2::text, ''), $3::text, $4::text, nullif($5::bigint, 0), $6::jsonb) RETURNING id`,
		ticketID, string(e.from), string(e.to), string(e.reason), e.actor, detail).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("append audit for ticket %d: %w", ticketID, err)
	}
	return id, nil
}

// releasePending frees a ticket's pending sync: an event arriving from now on
// queues a new one.
func (q *repo) releasePending(ctx context.Context, ticketID int64) error {
	if _, err := q.db.Exec(ctx, "DELETE FROM ticket_sync_pending WHERE ticket_id = $1::bigint", ticketID); err != nil {
		return fmt.Errorf("release pending sync of ticket %d: %w", ticketID, err)
	}
	return nil
}

// queueSync makes a ticket's sync pending and queues its job, unless one is pending
// already: like webhook deliveries, every other reason to re-read a ticket joins
// the pending sync.
func (q *repo) queueSync(ctx context.Context, ticketID int64) error {
	tag, err := q.db.Exec(ctx, "INSERT INTO ticket_sync_pending (ticket_id) VALUES ($1::bigint) ON CONFLICT DO NOTHING", ticketID)
	if err != nil {
		return fmt.Errorf("mark the sync of ticket %d pending: %w", ticketID, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	if err := q.insertJob(ctx, jobs.TicketSyncArgs{TicketID: ticketID}, nil); err != nil {
		return fmt.Errorf("queue the sync of ticket %d: %w", ticketID, err)
	}
	return nil
}

// queueClone queues run number run of a request's clone; River's uniqueness keeps
// it to one per request and run. The run is the number of clones started so far,
// so a retry after a failure is a new job even while the job of a killed runner is
// still marked running.
func (q *repo) queueClone(ctx context.Context, r *request, run int) error {
	err := q.insertJob(ctx, jobs.CloneArgs{TicketID: r.TicketID, Fingerprint: r.Fingerprint, Run: run}, &river.InsertOpts{
		Queue: jobs.QueueClone, MaxAttempts: 5,
		// Not "completed": a failed clone's job completes, and a re-approval of the
		// same request must be able to queue it again.
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateScheduled,
		}},
	})
	if err != nil {
		return fmt.Errorf("queue clone of ticket %d: %w", r.TicketID, err)
	}
	return nil
}

// queueRollback queues the rollback of a request's clone.
func (q *repo) queueRollback(ctx context.Context, r *request) error {
	err := q.insertJob(ctx, jobs.RollbackArgs{TicketID: r.TicketID, CloneID: r.CloneID}, &river.InsertOpts{Queue: jobs.QueueClone, MaxAttempts: 5})
	if err != nil {
		return fmt.Errorf("queue rollback of ticket %d: %w", r.TicketID, err)
	}
	return nil
}

// dueClones are the scheduled requests whose time has come.
func (q *repo) dueClones(ctx context.Context, now time.Time) ([]request, error) {
	rows, err := q.db.Query(ctx, `SELECT ticket_id, fingerprint, attempts FROM clone_requests
		WHERE state = $1::text AND scheduled_for <= $2::timestamptz`, rules.Scheduled, now)
	if err != nil {
		return nil, fmt.Errorf("find due clones: %w", err)
	}
	due, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (request, error) {
		var r request
		return r, row.Scan(&r.TicketID, &r.Fingerprint, &r.Attempts)
	})
	if err != nil {
		return nil, fmt.Errorf("find due clones: %w", err)
	}
	return due, nil
}

// runningWithoutJob are the running requests no clone job waits to run again.
func (q *repo) runningWithoutJob(ctx context.Context) ([]int64, error) {
	return q.inStateWithoutJob(ctx, rules.Running, jobs.CloneArgs{}.Kind())
}

// rollingBackWithoutJob are the requests rolling back that no rollback job waits
// to run again.
func (q *repo) rollingBackWithoutJob(ctx context.Context) ([]int64, error) {
	return q.inStateWithoutJob(ctx, rules.RollingBack, jobs.RollbackArgs{}.Kind())
}

// inStateWithoutJob are the requests in state that no job of kind waits to run,
// and whose runner did not say it waits (markWaiting).
func (q *repo) inStateWithoutJob(ctx context.Context, state rules.State, kind string) ([]int64, error) {
	return q.ids(ctx, "find requests "+string(state)+" without a job", `SELECT r.ticket_id FROM clone_requests r WHERE r.state = $1::text
		AND (r.waits_until IS NULL OR r.waits_until < now())
		AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = $2::text AND j.state IN ('available', 'retryable', 'scheduled')
			AND (j.args->>'ticket_id')::bigint = r.ticket_id)`, state, kind)
}

// markWaiting notes that the runner of ticketID's request stops to wait, its job
// to run again in d: until a minute past that, the due rescue leaves the request
// to that job. The runner calls it holding the run lock, so there is no moment
// in which the request looks abandoned while the queue records the wait.
func (q *repo) markWaiting(ctx context.Context, ticketID int64, d time.Duration) error {
	_, err := q.db.Exec(ctx, "UPDATE clone_requests SET waits_until = now() + make_interval(secs => $2::float8) WHERE ticket_id = $1::bigint",
		ticketID, (d + time.Minute).Seconds())
	if err != nil {
		return fmt.Errorf("note that ticket %d's runner waits: %w", ticketID, err)
	}
	return nil
}

// countStates counts the requests in each state.
func (q *repo) countStates(ctx context.Context) (map[rules.State]int64, error) {
	return countBy[rules.State](ctx, q.db, "count requests by state", "SELECT state, count(*) FROM clone_requests GROUP BY state")
}

// followed are the tickets among ids whose request the bot follows: one that lost
// its tag must still be read, to be cancelled, and a ready one may ask for its
// rollback.
func (q *repo) followed(ctx context.Context, ids []int64) (map[int64]bool, error) {
	found, err := q.ids(ctx, "find followed tickets", `SELECT ticket_id FROM clone_requests WHERE ticket_id = ANY($1::bigint[])
		AND state NOT IN ($2::text, $3::text)`, ids, rules.RolledBack, rules.Cancelled)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}

// ids runs a query of one bigint column.
func (q *repo) ids(ctx context.Context, what, sql string, args ...any) ([]int64, error) {
	rows, err := q.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ids, nil
}

// countBy runs a query of a key and a count.
func countBy[K ~string](ctx context.Context, db dbtx, what, sql string) (map[K]int64, error) {
	rows, err := db.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	counts := map[K]int64{}
	var key string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&key, &n}, func() error { counts[K(key)] = n; return nil })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return counts, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// nonNil makes an empty list an empty array, not NULL.
func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}
