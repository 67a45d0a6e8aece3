package cloner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options tune one clone.
type Options struct {
	// BeforeWipe receives the sandbox-only workflows before the wipe (also when
	// there are none); an error aborts the clone and leaves the sandbox as it was.
	BeforeWipe func(ctx context.Context, export Export) error
	// Progress, when set, is called from the clone's goroutines one call at a time.
	Progress func(Progress)
}

// lockKey is the advisory lock (two int4 keys) that serialises clones into one
// sandbox; advisory locks are per database, so one constant serves every sandbox.
const lockClass, lockObject = 0x636c6f6e, 1 // "clon"

// run is the state of one clone.
type run struct {
	c       *Cloner
	opts    Options
	report  *Report
	plan    *Plan
	phase   string
	started time.Time
}

// Clone replaces the sandbox to with the configuration of production from. A refusal
// returns an error wrapping ErrRefused; a concurrent clone, ErrBusy. On any error the
// sandbox is unchanged; the report, when not nil, says what was learned.
func (c *Cloner) Clone(ctx context.Context, from, to string, opts Options) (*Report, error) {
	src, dst, problems := c.checkPair(from, to)
	if len(problems) > 0 {
		return nil, refusal(problems)
	}
	r := &run{c: c, opts: opts, report: &Report{From: from, To: to, Tenant: src.Tenant, StartedAt: c.now()}}
	log := c.log.WithFields(map[string]any{"from": from, "to": to})
	log.Info("clone starting")
	err := c.explainWait(ctx, src, dst, r.clone(ctx, src, dst))
	r.report.FinishedAt = c.now()
	r.report.Seconds = r.report.FinishedAt.Sub(r.report.StartedAt).Seconds()
	if err != nil {
		log.WithError(err).Warn("clone failed; sandbox unchanged")
		return r.report, err
	}
	log.WithFields(map[string]any{"rows": r.report.Rows, "bytes": r.report.Bytes, "seconds": r.report.Seconds}).Info("clone committed")
	return r.report, nil
}

func refusal(problems []string) error {
	return fmt.Errorf("%w: %s", ErrRefused, strings.Join(problems, "; "))
}

func (r *run) clone(ctx context.Context, src, dst Instance) error {
	r.begin("preflight")
	p := &Plan{From: r.report.From, To: r.report.To, Tenant: r.report.Tenant}
	sbx, err := r.c.connect(ctx, dst, p)
	if sbx == nil {
		return orRefusal(err, p)
	}
	defer sbx.Close(context.WithoutCancel(ctx))
	tx, err := r.lock(ctx, sbx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
	snap, err := r.openSnapshot(ctx, src, p)
	if snap == nil {
		return orRefusal(err, p)
	}
	defer snap.close(context.WithoutCancel(ctx))
	r.report.SnapshotAt = snap.at
	if err := r.c.preflight(ctx, snap.tx, tx, p, estimates); err != nil {
		return err
	}
	r.plan = p
	r.report.fromPlan(p)
	if !p.OK() {
		return refusal(p.Problems)
	}
	// Before the export: a role that may not silence triggers fails the clone
	// before anything about it is posted (the preflight only read the grant).
	if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
		return fmt.Errorf("silence sandbox triggers (needs a superuser or SET privilege on session_replication_role): %w", err)
	}
	if err := r.export(ctx, tx); err != nil {
		return err
	}
	return r.replace(ctx, tx, snap)
}

func orRefusal(err error, p *Plan) error {
	if err != nil {
		return err
	}
	return refusal(p.Problems)
}

// lock opens the sandbox transaction and takes the clone lock before anything else.
func (r *run) lock(ctx context.Context, conn *pgx.Conn) (pgx.Tx, error) {
	tx, err := conn.Begin(ctx) // READ COMMITTED; from the wipe on, TRUNCATE's locks keep other sessions out
	if err != nil {
		return nil, fmt.Errorf("begin sandbox transaction: %w", err)
	}
	var got bool
	if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1, $2)", lockClass, lockObject).Scan(&got); err != nil {
		tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
		return nil, fmt.Errorf("take the sandbox clone lock: %w", err)
	}
	if !got {
		tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
		return nil, fmt.Errorf("sandbox %s: %w", r.report.To, ErrBusy)
	}
	settings := append([]string{fmt.Sprintf("SET LOCAL lock_timeout = %d", r.c.lockTimeout.Milliseconds())}, textSettings...)
	if err := applySettings(ctx, tx, settings); err != nil {
		tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
		return nil, fmt.Errorf("sandbox settings: %w", err)
	}
	return tx, nil
}

func (r *run) export(ctx context.Context, tx pgx.Tx) error {
	r.begin("export")
	cat, err := readCatalog(ctx, tx)
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", r.report.To, err)
	}
	e, err := r.c.exportSandboxOnly(ctx, tx, r.plan, cat)
	if err != nil {
		return err
	}
	r.report.Export = ExportSummary{Workflows: e.Workflows, JSONBytes: len(e.JSON), JSON: e.JSON}
	if r.opts.BeforeWipe != nil {
		if err := r.opts.BeforeWipe(ctx, e); err != nil {
			return fmt.Errorf("save sandbox-only workflows before the wipe: %w", err)
		}
	}
	return nil
}

// replace wipes and refills the sandbox, verifies it and commits.
func (r *run) replace(ctx context.Context, tx pgx.Tx, snap *snapshot) error {
	r.begin("wipe")
	if _, err := tx.Exec(ctx, "SET LOCAL maintenance_work_mem = '256MB'"); err != nil {
		return fmt.Errorf("sandbox settings: %w", err)
	}
	rb, err := captureRebuild(ctx, tx, r.plan.copies)
	if err != nil {
		return err
	}
	if err := rb.drop(ctx, tx); err != nil {
		return err
	}
	if err := truncate(ctx, tx, r.plan.wipe); err != nil {
		return err
	}
	// Production checksums run on their own connection, on one core, during the
	// load: the load is bound by the sandbox's single backend, which leaves the rest
	// of the machine idle; the index rebuild after it uses every core.
	sums := snap.startChecksums(ctx, r.plan, r.c.describeIntegrations)
	defer sums.stop()
	if err := r.copyAll(ctx, tx, snap); err != nil {
		return err
	}
	r.begin("rebuild")
	if err := rb.create(ctx, tx, r.c.log, r.stepper("rebuild")); err != nil {
		return err
	}
	r.report.Verification.ForeignKeysValidated = len(rb.foreignKeys)
	r.report.Verification.ForeignKeysNull = len(rb.kept)
	r.begin("sequences")
	seqs, err := advanceSequences(ctx, tx, r.plan.copies)
	if err != nil {
		return err
	}
	r.report.Verification.Sequences = seqs
	r.begin("verify")
	if err := r.verify(ctx, tx, sums); err != nil {
		return err
	}
	r.begin("commit")
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit sandbox %s: %w", r.report.To, err)
	}
	r.begin("done")
	return nil
}

func truncate(ctx context.Context, tx pgx.Tx, tables []*table) error {
	if len(tables) == 0 {
		return nil
	}
	idents, names := make([]string, len(tables)), make([]string, len(tables))
	for i, t := range tables {
		idents[i], names[i] = t.ident(), t.name.String()
	}
	if _, err := tx.Exec(ctx, "TRUNCATE "+strings.Join(idents, ", ")+" RESTART IDENTITY"); err != nil {
		return fmt.Errorf("wipe sandbox tables %s: %w", strings.Join(names, ", "), waited(err, sideSandbox, names, idents))
	}
	return nil
}

func (r *run) copyAll(ctx context.Context, tx pgx.Tx, snap *snapshot) error {
	r.begin("copy")
	var total int64
	planned, plannedTotal := r.plan.clonedBytes()
	for i := range r.plan.copies {
		s := &r.plan.copies[i]
		pr := Progress{Phase: "copy", Table: s.table.name.String(), TableIndex: i + 1, Tables: len(r.plan.copies), TotalBytes: total,
			PlannedBytes: plannedTotal, TablePlannedBytes: planned[s.table.name.String()]}
		r.progress(pr)
		start := time.Now()
		rows, bytes, err := streamTable(ctx, snap.tx.Conn().PgConn(), tx.Conn().PgConn(), s, func(n int64) {
			pr.TableBytes, pr.TotalBytes = n, total+n
			r.progress(pr)
		})
		if err != nil {
			return err
		}
		total += bytes
		pr.TableBytes, pr.TotalBytes, pr.TableDone, pr.Rows = bytes, total, true, rows
		r.progress(pr)
		r.report.addTable(s, rows, bytes, time.Since(start))
	}
	return nil
}

func (r *run) verify(ctx context.Context, tx pgx.Tx, sums *pendingChecksums) error {
	v := &r.report.Verification
	var failures []string
	got := make([]Checksum, len(r.plan.copies))
	step := r.stepper("verify")
	for i := range r.plan.copies {
		var err error
		if got[i], err = checksum(ctx, tx, &r.plan.copies[i], false); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		step(i+1, len(r.plan.copies))
	}
	prod := sums.wait()
	if prod.err != nil {
		return prod.err
	}
	r.report.Integrations, r.report.DependentWorkflows, r.report.DependentWorkflowCount = r.plan.Integrations, r.plan.DependentWorkflows, r.plan.DependentWorkflowCount
	for i := range r.plan.copies {
		s, got := &r.plan.copies[i], got[i]
		want := prod.sums[s.table.name]
		t := r.report.table(s.table.name.String())
		t.Checksum, t.ProductionChecksum, t.Match = got, want, got.Rows == want.Rows && got.Sum == want.Sum
		v.TablesChecked++
		if !t.Match {
			failures = append(failures, fmt.Sprintf("table %s: sandbox %d rows sum %s, production %d rows sum %s", s.table.name, got.Rows, got.Sum, want.Rows, want.Sum))
		}
		if got.filled > 0 {
			failures = append(failures, fmt.Sprintf("table %s: %d rows hold a value in %s, which the clone sets to NULL", s.table.name, got.filled, strings.Join(s.nulled, ", ")))
		}
		v.NulledColumnsChecked += len(s.nulled)
	}
	nonEmpty, err := excludedEmpty(ctx, tx, r.excludedWiped())
	if err != nil {
		return err
	}
	v.ExcludedChecked = len(r.excludedWiped())
	for _, t := range nonEmpty {
		failures = append(failures, fmt.Sprintf("excluded table %s is not empty after the load", t))
	}
	for _, s := range v.Sequences {
		if !s.OK {
			failures = append(failures, fmt.Sprintf("sequence %s is at %d, below the copied id %d", s.Sequence, s.Value, s.MaxID))
		}
	}
	v.Failures, v.OK = failures, len(failures) == 0
	if !v.OK {
		return fmt.Errorf("verification failed, sandbox rolled back: %s", strings.Join(failures, "; "))
	}
	return nil
}

func (r *run) excludedWiped() []*table {
	var out []*table
	for _, t := range r.plan.wipe {
		if !r.c.tables.isCloned(t.name) {
			out = append(out, t)
		}
	}
	return out
}

// begin closes the running phase and starts the next one.
func (r *run) begin(phase string) {
	now := time.Now()
	if r.phase != "" {
		r.report.Phases = append(r.report.Phases, Phase{Name: r.phase, Seconds: now.Sub(r.started).Seconds()})
	}
	r.phase, r.started = phase, now
	if phase == "done" {
		r.phase = ""
	}
	if phase != "copy" {
		r.progress(Progress{Phase: phase, Tables: len(r.planCopies())})
	}
}

func (r *run) planCopies() []copySpec {
	if r.plan == nil {
		return nil
	}
	return r.plan.copies
}

// stepper reports the steps of a phase as they finish.
func (r *run) stepper(phase string) func(done, steps int) {
	return func(done, steps int) {
		r.progress(Progress{Phase: phase, Tables: len(r.planCopies()), Done: done, Steps: steps})
	}
}

func (r *run) progress(p Progress) {
	if r.opts.Progress != nil {
		r.opts.Progress(p)
	}
}

// snapshot is the production side: one REPEATABLE READ, READ ONLY transaction for
// the copy and a second connection sharing its snapshot for the checksums.
type snapshot struct {
	conn, sumConn *pgx.Conn
	tx, sumTx     pgx.Tx
	at            time.Time
}

type checksumResult struct {
	sums map[tableName]Checksum
	err  error
}

func (r *run) openSnapshot(ctx context.Context, in Instance, p *Plan) (*snapshot, error) {
	s := &snapshot{}
	var err error
	if s.conn, err = r.c.connect(ctx, in, p); s.conn == nil {
		return nil, err
	}
	if s.sumConn, err = r.c.connect(ctx, in, p); s.sumConn == nil {
		s.close(ctx)
		return nil, err
	}
	if err := s.begin(ctx); err != nil {
		s.close(ctx)
		return nil, fmt.Errorf("production %s: %w", in.Name, err)
	}
	return s, nil
}

func (s *snapshot) begin(ctx context.Context) error {
	var err error
	if s.tx, err = s.conn.BeginTx(ctx, snapshotTx); err != nil {
		return fmt.Errorf("begin snapshot: %w", err)
	}
	var id string
	if err := s.tx.QueryRow(ctx, "SELECT pg_export_snapshot(), clock_timestamp()").Scan(&id, &s.at); err != nil {
		return fmt.Errorf("export snapshot: %w", err)
	}
	if s.sumTx, err = s.sumConn.BeginTx(ctx, snapshotTx); err != nil {
		return fmt.Errorf("begin checksum transaction: %w", err)
	}
	if _, err := s.sumTx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+strings.ReplaceAll(id, "'", "")+"'"); err != nil {
		return fmt.Errorf("share snapshot: %w", err)
	}
	// One process: the checksums overlap the load, and production is spared parallel workers.
	if err := applySettings(ctx, s.sumTx, append([]string{"SET LOCAL max_parallel_workers_per_gather = 0"}, textSettings...)); err != nil {
		return err
	}
	return applySettings(ctx, s.tx, textSettings)
}

// pendingChecksums are production checksums computed while the sandbox loads.
type pendingChecksums struct {
	cancel context.CancelFunc
	done   chan checksumResult
	result *checksumResult
}

// startChecksums computes the production checksums, then describes the
// integrations into plan, on the second snapshot connection.
func (s *snapshot) startChecksums(ctx context.Context, plan *Plan, describe func(context.Context, querier, *Plan) error) *pendingChecksums {
	ctx, cancel := context.WithCancel(ctx)
	p := &pendingChecksums{cancel: cancel, done: make(chan checksumResult, 1)}
	go func() {
		sums, err := productionChecksums(ctx, s.sumTx, plan.copies)
		if err == nil {
			err = describe(ctx, s.sumTx, plan)
		}
		p.done <- checksumResult{sums, err}
	}()
	return p
}

func (p *pendingChecksums) wait() checksumResult {
	if p.result == nil {
		r := <-p.done
		p.result = &r
	}
	return *p.result
}

// stop ends the computation early (the clone failed) and waits for it, so that its
// connection is idle before it is closed.
func (p *pendingChecksums) stop() {
	p.cancel()
	p.wait()
}

func (s *snapshot) close(ctx context.Context) {
	for _, tx := range []pgx.Tx{s.sumTx, s.tx} {
		if tx != nil {
			tx.Rollback(ctx) //nolint:errcheck // read only
		}
	}
	for _, c := range []*pgx.Conn{s.sumConn, s.conn} {
		if c != nil {
			c.Close(ctx)
		}
	}
}
