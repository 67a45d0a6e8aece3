package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/metrics"
	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/parser"
	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/store/storetest"
)

// The workers on a real bot database, with hand-written fakes of Zendesk and the
// cloner: each test sets what Zendesk shows and what the instances answer, and
// fails on any call it did not expect.

// Ids of the fakes' account, real-sized.
const (
	fakeBot      int64 = 361100000001
	fakeService  int64 = 361100000002
	fakeCustomer int64 = 361123456789
	fakeAgent    int64 = 361112345678
	fakeOrg      int64 = 360099887766
	fakeTicket   int64 = 4294968213
)

type workers struct {
	t      *testing.T
	ctx    context.Context
	s      *Service
	pool   *pgxpool.Pool
	zd     *fakeZendesk
	cl     *fakeCloner
	clock  *testClock
	window time.Time // 02:30 UTC: inside the tenant's window
}

func newWorkers(t *testing.T) *workers {
	t.Helper()
	w := &workers{t: t, zd: newFakeZendesk(t), cl: newFakeCloner(t)}
	w.window = time.Date(2026, 11, 29, 2, 30, 0, 0, time.UTC)
	w.clock = &testClock{now: w.window.Add(10 * time.Hour)} // outside the window unless a test moves it
	w.pool, _ = storetest.NewPool(t)
	w.zd.user(fakeCustomer, parser.RoleEndUser, fakeOrg)
	w.zd.user(fakeAgent, parser.RoleAgent)
	w.s, w.ctx = newService(t, Config{Pool: w.pool, Zendesk: w.zd, Cloner: w.cl, Logger: testLogger(t), Metrics: metrics.New(), Now: w.clock.Now,
		Settings: ruleSettings(fakeBot, fakeService, fakeOrg, "postgres://db/acme_prod", "postgres://db/acme_sandbox", "postgres://db/acme_uat")})
	return w
}

// fileValid has the customer file a complete request for acme-prod -> acme-sandbox.
func (w *workers) fileValid(tags ...string) {
	w.zd.file(fakeTicket, fakeCustomer, fakeOrg, map[int64]any{ruleFieldProduction: "acme-prod", ruleFieldSandbox: "acme-sandbox",
		ruleFieldWipe: true, ruleFieldUsers: "dana@acme-fiber.example"}, append([]string{"sandbox_clone"}, tags...)...)
	w.cl.allow("acme-prod", "acme-sandbox")
}

func (w *workers) sync() {
	w.t.Helper()
	if err := w.s.sync.sync(w.ctx, fakeTicket, troubleSync); err != nil {
		w.t.Fatalf("sync: %v", err)
	}
}

// scheduled files a valid request, has the agent approve it in the window, and
// returns the clone job's arguments.
func (w *workers) scheduled() jobs.CloneArgs {
	w.t.Helper()
	w.clock.Set(w.window)
	w.fileValid()
	w.sync()
	w.zd.change(fakeTicket, fakeAgent, []string{"clone_approved"}, nil, nil)
	w.sync()
	w.wantState(rules.Scheduled)
	return jobs.CloneArgs{TicketID: fakeTicket, Fingerprint: w.query("SELECT fingerprint FROM clone_requests WHERE ticket_id = $1::bigint")}
}

func (w *workers) query(sql string) string {
	w.t.Helper()
	return pgtest.QueryOne[string](w.t, w.pool.Config().ConnString(), sql, fakeTicket)
}

func (w *workers) wantState(want rules.State) {
	w.t.Helper()
	if got := rules.State(w.query("SELECT state FROM clone_requests WHERE ticket_id = $1::bigint")); got != want {
		w.t.Fatalf("request is %s, want %s", got, want)
	}
}

// queued lists the outbox's keys for the ticket, without the ticket id.
func (w *workers) queued() []string {
	w.t.Helper()
	keys := w.strings("SELECT key FROM outbox WHERE ticket_id = $1::bigint ORDER BY id")
	for i, k := range keys {
		keys[i] = strings.TrimPrefix(k, fmt.Sprint(fakeTicket)+"/")
	}
	return keys
}

// audit lists the ticket's audit log as "from>to:reason".
func (w *workers) audit() []string {
	w.t.Helper()
	return w.strings("SELECT coalesce(from_state, '') || '>' || to_state || ':' || reason FROM audit_log WHERE ticket_id = $1::bigint ORDER BY id")
}

// strings runs a query of one text column about the ticket.
func (w *workers) strings(sql string) []string {
	w.t.Helper()
	rows, err := w.pool.Query(w.ctx, sql, fakeTicket)
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func kindsOf(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		parts := strings.Split(k, "/")
		out[i] = parts[0]
		if strings.HasSuffix(k, "/internal") {
			out[i] += "/internal"
		}
	}
	return out
}

// The sync reads a valid request, checks it, plans it once to acknowledge it, and
// records one transition; reading the same ticket again checks it again and
// changes nothing.
func TestSyncWorkerDecidesOnceAndPlansOnlyToAnnounce(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	w.fileValid()
	w.sync()
	w.wantState(rules.AwaitingApproval)
	if got, want := kindsOf(w.queued()), []string{"awaiting_approval", "awaiting_approval/internal"}; !slices.Equal(got, want) {
		t.Fatalf("queued %v, want %v", got, want)
	}
	if got, want := w.audit(), []string{">received:received", "received>awaiting_approval:valid"}; !slices.Equal(got, want) {
		t.Fatalf("audit log %v, want %v", got, want)
	}
	w.sync()
	if got, want := w.cl.called(), []string{"check acme-prod->acme-sandbox", "plan acme-prod->acme-sandbox", "check acme-prod->acme-sandbox"}; !slices.Equal(got, want) {
		t.Fatalf("cloner calls %v, want %v", got, want)
	}
	if n := len(w.queued()); n != 2 {
		t.Fatalf("a sync of an unchanged ticket queued more: %v", w.queued())
	}
}

// A request with problems needs no instance: the cloner is never asked.
func TestSyncWorkerAsksNoInstanceForAnIncompleteRequest(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	w.zd.file(fakeTicket, fakeCustomer, fakeOrg, map[int64]any{ruleFieldProduction: "acme-prod", ruleFieldWipe: true}, "sandbox_clone")
	w.sync()
	w.wantState(rules.NeedsInfo)
	if calls := w.cl.called(); len(calls) != 0 {
		t.Fatalf("the cloner was asked %v", calls)
	}
}

// Another sync moves the request while this one plans (outside any transaction):
// this one finds the request moved when it applies, decides again from the new
// record, and announces nothing twice.
func TestSyncWorkerDecidesAgainWhenTheRequestMoved(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	w.fileValid()
	nested := false
	w.cl.during = func(call string) {
		if call != "plan" || nested {
			return
		}
		nested = true
		if err := w.s.sync.sync(w.ctx, fakeTicket, troubleSync); err != nil {
			t.Errorf("the other sync: %v", err)
		}
	}
	w.sync()
	w.wantState(rules.AwaitingApproval)
	if got, want := w.audit(), []string{">received:received", "received>awaiting_approval:valid"}; !slices.Equal(got, want) {
		t.Fatalf("audit log %v, want each move once: %v", got, want)
	}
	if got, want := kindsOf(w.queued()), []string{"awaiting_approval", "awaiting_approval/internal"}; !slices.Equal(got, want) {
		t.Fatalf("queued %v, want %v", got, want)
	}
}

// Two syncs judge the author of one approval differently (the agent was demoted
// in between): the judgement stored first wins, and the later sync decides again
// with it instead of applying its own.
func TestSyncWorkerKeepsTheFirstJudgementOfAnAuthor(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	w.clock.Set(w.window)
	w.fileValid()
	w.sync()
	w.zd.change(fakeTicket, fakeAgent, []string{"clone_approved"}, nil, nil)
	approval := w.zd.audits[fakeTicket][1].ID
	// This sync judges the agent an agent; while it checks the instances, another
	// one, which read the agent after a demotion, stores its judgement first.
	stored := false
	w.cl.during = func(call string) {
		if stored {
			return
		}
		stored = true
		if _, err := w.pool.Exec(w.ctx, `INSERT INTO tag_authors (ticket_id, audit_id, author_id, role) VALUES ($1::bigint, $2::bigint, $3::bigint, 'end-user')`,
			fakeTicket, approval, fakeAgent); err != nil {
			t.Error(err)
		}
	}
	w.sync()
	w.wantState(rules.AwaitingApproval)
	if got := kindsOf(w.queued()); !slices.Contains(got, "approval_refused") || slices.Contains(got, "scheduled") {
		t.Fatalf("queued %v: the stored judgement (an end user) should decide", got)
	}
}

// Zendesk rate limiting the sync snoozes the job within a minute, and is no
// trouble of the ticket's; a ticket Zendesk cannot describe cancels the job.
func TestSyncWorkerOutcomes(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	w.fileValid()
	work := func() error {
		job := &river.Job[jobs.TicketSyncArgs]{JobRow: testJobRow(jobs.TicketSyncArgs{}.Kind()), Args: jobs.TicketSyncArgs{TicketID: fakeTicket}}
		return w.s.sync.worker().Work(w.ctx, job)
	}
	w.zd.ticketErr = &notifier.RateLimitError{Status: 429, RetryAfter: 10 * time.Minute}
	var snooze *river.JobSnoozeError
	if err := work(); !errors.As(err, &snooze) || snooze.Duration != time.Minute {
		t.Fatalf("rate limited: %v, want a snooze of a minute", err)
	}
	if n := w.query("SELECT count(*)::text FROM ticket_troubles WHERE ticket_id = $1::bigint"); n != "0" {
		t.Fatalf("Zendesk's rate limit was recorded as the ticket's trouble")
	}
	w.zd.ticketErr = fmt.Errorf("get ticket: %w: id is not an integer", notifier.ErrMalformed)
	var cancel *river.JobCancelError
	if err := work(); !errors.As(err, &cancel) {
		t.Fatalf("malformed: %v, want the job cancelled", err)
	}
	w.zd.ticketErr = nil
	if err := work(); err != nil {
		t.Fatal(err)
	}
	w.wantState(rules.AwaitingApproval)
}

// Start moves the scheduled request to running once, in its window; a job for
// a request changed since it was queued starts nothing; a job late for the window
// waits for the next one.
func TestStartMovesTheScheduledRequestToRunning(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	args := w.scheduled()
	stale := args
	stale.Fingerprint = "an older request"
	if r, err := w.s.runner.start(w.ctx, stale); err != nil || r != nil {
		t.Fatalf("start of a stale job = %+v, %v", r, err)
	}
	w.clock.Set(w.window.Add(6 * time.Hour))
	if r, err := w.s.runner.start(w.ctx, args); err != nil || r != nil {
		t.Fatalf("start out of the window = %+v, %v", r, err)
	}
	w.wantState(rules.Scheduled)
	if got := w.query("SELECT to_char(scheduled_for AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM clone_requests WHERE ticket_id = $1::bigint"); got != "2026-11-30 02:00" {
		t.Fatalf("a late job rescheduled the clone for %s, want the next window", got)
	}
	w.clock.Set(w.window.Add(24 * time.Hour))
	r, err := w.s.runner.start(w.ctx, args)
	if err != nil || r == nil || r.State != rules.Running || r.Attempts != 1 {
		t.Fatalf("start = %+v, %v", r, err)
	}
	w.wantState(rules.Running)
	if got := w.audit(); got[len(got)-1] != "scheduled>running:started" {
		t.Fatalf("audit log %v", got)
	}
	if got := kindsOf(w.queued()); got[len(got)-1] != "running" {
		t.Fatalf("queued %v", got)
	}
}

// Finish records a clone's end: ready with its report, or failed with the error,
// the approval then spent.
func TestFinishRecordsReadyOrFailed(t *testing.T) {
	t.Parallel()
	for _, ok := range []bool{true, false} {
		t.Run(fmt.Sprint("ready=", ok), func(t *testing.T) {
			t.Parallel()
			w := newWorkers(t)
			args := w.scheduled()
			r, err := w.s.runner.start(w.ctx, args)
			if err != nil || r == nil {
				t.Fatalf("start = %v, %v", r, err)
			}
			report := &cloner.Report{From: "acme-prod", To: "acme-sandbox", Rows: 1520, SnapshotAt: w.window,
				Categories:   []cloner.CategoryReport{{Name: "catalog", Cloned: true, Rows: 1520}},
				Verification: cloner.Verification{OK: true, TablesChecked: 1}}
			var cause error
			if !ok {
				report, cause = nil, errors.New("verify public.plans: checksums differ")
			}
			if err := w.s.runner.finish(w.ctx, r, report, cause); err != nil {
				t.Fatal(err)
			}
			want, msg := rules.Ready, "ready"
			if !ok {
				want, msg = rules.Failed, "failed"
			}
			w.wantState(want)
			if got := kindsOf(w.queued()); !slices.Equal(got[len(got)-2:], []string{msg, msg + "/internal"}) {
				t.Fatalf("queued %v", got)
			}
			if ok {
				if rows := w.query("SELECT (report->>'rows')::text FROM clone_requests WHERE ticket_id = $1::bigint"); rows != "1520" {
					t.Fatalf("report rows %s", rows)
				}
				return
			}
			if last := w.query("SELECT last_error FROM clone_requests WHERE ticket_id = $1::bigint"); !strings.Contains(last, "checksums differ") {
				t.Fatalf("last_error %q", last)
			}
			if w.query("SELECT (approvals_after = approval_audit_id)::text FROM clone_requests WHERE ticket_id = $1::bigint") != "true" {
				t.Fatal("a failed clone's approval can carry it again")
			}
		})
	}
}

// A clone whose runner died is put back to scheduled, the ticket told, and its
// job queued again as a new run.
func TestRestartPutsAnInterruptedCloneBack(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	args := w.scheduled()
	if r, err := w.s.runner.start(w.ctx, args); err != nil || r == nil {
		t.Fatalf("start = %v, %v", r, err)
	}
	// The runner's job is running, as River left it when its process died.
	if _, err := w.pool.Exec(w.ctx, "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE kind = 'clone'"); err != nil {
		t.Fatal(err)
	}
	if err := w.s.due.rescueInterrupted(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.wantState(rules.Scheduled)
	if got := kindsOf(w.queued()); got[len(got)-1] != "interrupted" {
		t.Fatalf("queued %v", got)
	}
	if got := w.audit(); got[len(got)-1] != "running>scheduled:interrupted" {
		t.Fatalf("audit log %v", got)
	}
	if n := w.query(`SELECT count(*)::text FROM river_job WHERE kind = 'clone' AND (args->>'ticket_id')::bigint = $1::bigint AND (args->>'run')::int = 1`); n != "1" {
		t.Fatalf("%s clone jobs of run 1, want 1", n)
	}
	// Its runner alive (holding the run lock), a running clone is left alone.
	if r, err := w.s.runner.start(w.ctx, args); err != nil || r == nil {
		t.Fatalf("start = %v, %v", r, err)
	}
	release, ok, err := w.s.runner.repo.holdRunLock(w.ctx, fakeTicket)
	if err != nil || !ok {
		t.Fatalf("run lock: %v %v", ok, err)
	}
	defer release()
	if err := w.s.due.rescueInterrupted(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.wantState(rules.Running)
}

// A clone that finds its sandbox busy waits with its request running; in the
// moment before the queue records its job as waiting (the job still "running",
// the run lock free), the due rescue does not take it for a clone whose runner
// died: no "interrupted" comment, no second job. A runner gone past its wait is
// rescued as before.
func TestBusySandboxIsNotTakenForAnInterruptedClone(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	args := w.scheduled()
	w.cl.clone = func(context.Context, string, string, cloner.Options) (*cloner.Report, error) {
		return nil, fmt.Errorf("sandbox acme-sandbox: %w", cloner.ErrBusy)
	}
	var snooze *river.JobSnoozeError
	if err := w.s.runner.run(w.ctx, args, 1); !errors.As(err, &snooze) {
		t.Fatalf("run: %v, want a snooze", err)
	}
	w.wantState(rules.Running)
	before := kindsOf(w.queued())
	if _, err := w.pool.Exec(w.ctx, "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE kind = 'clone'"); err != nil {
		t.Fatal(err)
	}
	if err := w.s.due.rescueInterrupted(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.wantState(rules.Running)
	if got := kindsOf(w.queued()); !slices.Equal(got, before) {
		t.Fatalf("queued %v after the rescue, %v before", got, before)
	}
	if n := w.query(`SELECT count(*)::text FROM river_job WHERE kind = 'clone' AND (args->>'ticket_id')::bigint = $1::bigint`); n != "1" {
		t.Fatalf("%s clone jobs, want 1", n)
	}
	// Long past its wait, with no job waiting: its runner is gone.
	if _, err := w.pool.Exec(w.ctx, "UPDATE clone_requests SET waits_until = now() - interval '1 second'"); err != nil {
		t.Fatal(err)
	}
	if err := w.s.due.rescueInterrupted(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.wantState(rules.Scheduled)
}

func testJobRow(kind string) *rivertype.JobRow {
	return &rivertype.JobRow{ID: 1, Kind: kind, Attempt: 1}
}

// The outbox posts a ticket's announcements oldest first, once each; a closed
// ticket's are dropped; a failure stops the delivery there, recorded, for a retry.
func TestDeliverPostsInOrderOnce(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	w.fileValid()
	w.sync()
	fails := 1
	w.zd.fail = func(_ int64, a notifier.Announcement) error {
		if strings.HasSuffix(a.Key, "/internal") && fails > 0 {
			fails--
			return &notifier.StatusError{Status: 502, Body: "bad gateway"}
		}
		return nil
	}
	if err := w.s.outbox.deliver(w.ctx, fakeTicket); err == nil {
		t.Fatal("a failed post was not reported")
	}
	if got := kindsOf(w.zd.posted(fakeTicket)); !slices.Equal(got, []string{"awaiting_approval"}) {
		t.Fatalf("posted %v before the failure", got)
	}
	if e := w.query("SELECT last_error FROM outbox WHERE ticket_id = $1::bigint AND posted_at IS NULL"); !strings.Contains(e, "502") {
		t.Fatalf("the failure was recorded as %q", e)
	}
	if err := w.s.outbox.deliver(w.ctx, fakeTicket); err != nil {
		t.Fatal(err)
	}
	if err := w.s.outbox.deliver(w.ctx, fakeTicket); err != nil {
		t.Fatal(err)
	}
	if got := kindsOf(w.zd.posted(fakeTicket)); !slices.Equal(got, []string{"awaiting_approval", "awaiting_approval/internal"}) {
		t.Fatalf("posted %v, want each once in order", got)
	}
	// A closed ticket takes no comment: the announcement is dropped, the next goes.
	w.zd.change(fakeTicket, fakeCustomer, []string{"clone_hold"}, nil, nil)
	w.zd.change(fakeTicket, fakeCustomer, nil, []string{"sandbox_clone"}, nil)
	w.sync()
	w.zd.fail = func(int64, notifier.Announcement) error { return fmt.Errorf("announce: %w", notifier.ErrClosed) }
	if err := w.s.outbox.deliver(w.ctx, fakeTicket); err != nil {
		t.Fatal(err)
	}
	if n := w.query("SELECT count(*)::text FROM outbox WHERE ticket_id = $1::bigint AND posted_at IS NULL"); n != "0" {
		t.Fatalf("%s announcements of a closed ticket left pending", n)
	}
	// Another worker delivering the ticket's announcements: this one stands aside.
	key, _ := outboxLocks.key(fakeTicket)
	_, release, ok, err := w.s.outbox.repo.holdLock(w.ctx, key)
	if err != nil || !ok {
		t.Fatalf("outbox lock: %v %v", ok, err)
	}
	defer release()
	if err := w.s.outbox.deliver(w.ctx, fakeTicket); !errors.Is(err, errOutboxBusy) {
		t.Fatalf("deliver while another worker does = %v, want errOutboxBusy", err)
	}
}

// A whole run on the fakes: the clone's export reaches the ticket after the
// started notice, before the wipe; then the ready notice is queued.
func TestRunPostsTheExportAfterTheStartedNotice(t *testing.T) {
	t.Parallel()
	w := newWorkers(t)
	args := w.scheduled()
	if err := w.s.outbox.deliver(w.ctx, fakeTicket); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "acme-sandbox-20261129-070003-workflows.zip")
	if err := os.WriteFile(archive, []byte("PK archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.cl.clone = func(ctx context.Context, from, to string, opts cloner.Options) (*cloner.Report, error) {
		export := &cloner.SandboxExport{Round: 1, Workflows: []string{"Draft: new onboarding"}, Archives: []cloner.Archive{{
			Category: "workflows", Rows: 2, Tables: []cloner.ArchiveTable{{Table: "public.workflows", Rows: 2, OnlyInSandbox: 1, Changed: 1}},
			Files: []cloner.ArchiveFile{{Name: filepath.Base(archive), Path: archive, Bytes: 10}},
		}}}
		if err := opts.BeforeWipe(ctx, export); err != nil {
			return nil, err
		}
		return &cloner.Report{From: from, To: to, Rows: 10, SnapshotAt: w.window,
			Export:       cloner.ExportSummary{Rounds: 1, Rows: export.Rows(), Archives: export.Archives, Workflows: export.Workflows},
			Verification: cloner.Verification{OK: true}}, nil
	}
	if err := w.s.runner.run(w.ctx, args, 1); err != nil {
		t.Fatal(err)
	}
	w.wantState(rules.Ready)
	posts := w.zd.posted(fakeTicket)
	got := kindsOf(posts)
	if want := []string{"awaiting_approval", "awaiting_approval/internal", "scheduled", "running", "export"}; !slices.Equal(got, want) {
		t.Fatalf("posted %v, want %v", got, want)
	}
	if a := w.zd.announcement(posts[len(posts)-1]); len(a.Attachments) != 1 || a.Attachments[0].Path != archive || a.Attachments[0].ContentType != "application/zip" ||
		!strings.Contains(a.Body, "acme-sandbox-20261129-070003-workflows.zip") {
		t.Errorf("export announcement: %+v", a)
	}
	if got := kindsOf(w.queued()); got[len(got)-2] != "ready" {
		t.Fatalf("queued %v", got)
	}
}
