package cloner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options tune one clone.
type Options struct {
	// BeforeWipe receives the sandbox export before anything of the sandbox is
	// replaced (also when there is nothing to save): the drift of every cloned
	// table and the archives of every sandbox row the clone deletes or
	// overwrites, as files (Archive.Files[].Path) that exist until BeforeWipe
	// returns, or in ExportDir for good. An error aborts the clone and leaves the
	// sandbox as it was. A swap calls it again, with the next Round, when the
	// application wrote to the sandbox after the export (see export.go).
	BeforeWipe func(ctx context.Context, export *SandboxExport) error
	// ExportDir, when set, receives the archives and keeps them; it must exist.
	// Empty: they are written to a temporary directory, removed when the clone
	// ends.
	ExportDir string
	// Progress, when set, is called from the clone's goroutines one call at a time.
	Progress func(Progress)
	// Jobs is how many tables a swap loads at once; 0 means the cloner's setting.
	Jobs int
	// beforeSwitchCommit, in tests, runs inside the switch transaction before it
	// commits.
	beforeSwitchCommit func()
	// splitMin, in tests, replaces the size from which a table is split between
	// workers.
	splitMin int64
	// beforeForeignKey, in tests, runs before a swap adds a foreign key.
	beforeForeignKey func()
	// duringExport, in tests, runs as a swap's export starts, beside the load,
	// with the export's context.
	duringExport func(context.Context)
}

// lockKey is the advisory lock (two int4 keys) that serialises clones and rollbacks
// of one sandbox; advisory locks are per database, so one constant serves every
// sandbox.
const lockClass, lockObject = 0x636c6f6e, 1 // "clon"

// run is the state of one clone.
type run struct {
	c       *Cloner
	opts    Options
	report  *Report
	plan    *Plan
	phase   string
	started time.Time
	mu      sync.Mutex // serialises progress reports from the workers
	// A swap's copy: bytes streamed by all workers, units loaded and to load, and
	// the plan's size of the cloned tables.
	copied       int64
	unitsDone    int32
	unitCount    int
	plannedBytes int64
	// The sandbox export: the latest round, how many were made, the second its
	// files are named by, and the temporary directory holding them.
	exported     *SandboxExport
	exportRounds int
	exportedAt   time.Time
	tempDir      string
	// keptSequences are the sandbox's sequences as the clone found them, kept
	// with the rollback copy.
	keptSequences []KeptSequence
}

// Clone replaces the sandbox to with the configuration of production from. A refusal
// returns an error wrapping ErrRefused; a concurrent clone, ErrBusy. On any error the
// sandbox is unchanged; the report, when not nil, says what was learned.
func (c *Cloner) Clone(ctx context.Context, from, to string, opts Options) (*Report, error) {
	src, dst, problems := c.checkPair(from, to)
	if len(problems) > 0 {
		return nil, refusal(problems)
	}
	r := &run{c: c, opts: opts, report: &Report{ID: newCloneID(), From: from, To: to, Tenant: src.Tenant, StartedAt: c.now()}}
	log := c.log.WithFields(map[string]any{"from": from, "to": to})
	log.Info("clone starting")
	defer r.removeTemp()
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
	return fmt.Errorf("clone %w: %s", ErrRefused, strings.Join(problems, "; "))
}

func rollbackRefusal(problems ...string) error {
	return fmt.Errorf("rollback %w: %s", ErrRefused, strings.Join(problems, "; "))
}

func (r *run) clone(ctx context.Context, src, dst Instance) error {
	r.phaseStart("preflight")
	p := &Plan{From: r.report.From, To: r.report.To, Tenant: r.report.Tenant}
	sbx, err := r.c.connect(ctx, dst, p)
	if sbx == nil {
		return orRefusal(err, p)
	}
	defer sbx.Close(context.WithoutCancel(ctx))
	if err := lockSandbox(ctx, sbx, r.report.To); err != nil {
		return err
	}
	defer unlockSandbox(ctx, sbx)
	tx, err := r.begin(ctx, sbx)
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
	if p.Method == MethodSwap {
		// The preflight's transaction wrote nothing; the export and the swap run
		// their own, and the sandbox stays writable until the switch.
		if err := tx.Rollback(ctx); err != nil {
			return fmt.Errorf("end the sandbox preflight: %w", err)
		}
		return r.swap(ctx, sbx, p.swap, snap, dst)
	}
	if err := r.exportLocked(ctx, tx, snap); err != nil {
		return err
	}
	return r.replace(ctx, tx, snap)
}

// newCloneID names one clone, so that its rollback copy can be told from a later
// clone's.
func newCloneID() string {
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

func orRefusal(err error, p *Plan) error {
	if err != nil {
		return err
	}
	return refusal(p.Problems)
}

// lockSandbox takes the clone lock of the sandbox for the life of conn (a process
// that dies loses its connection, and the lock with it): one clone or rollback of a
// sandbox at a time.
func lockSandbox(ctx context.Context, conn *pgx.Conn, name string) error {
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", lockClass, lockObject).Scan(&got); err != nil {
		return fmt.Errorf("take the clone lock of sandbox %s: %w", name, err)
	}
	if !got {
		return fmt.Errorf("sandbox %s: %w", name, ErrBusy)
	}
	return nil
}

// unlockSandbox releases the clone lock at once: a closed connection releases it
// too, but only once its server process has gone, which the next clone could beat.
func unlockSandbox(ctx context.Context, conn *pgx.Conn) {
	conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, $2)", lockClass, lockObject) //nolint:errcheck // closing the connection releases it anyway
}

// begin opens a sandbox transaction with the clone's settings. READ COMMITTED: from
// the wipe on, TRUNCATE's locks keep other sessions out.
func (r *run) begin(ctx context.Context, conn *pgx.Conn) (pgx.Tx, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin sandbox transaction: %w", err)
	}
	settings := append([]string{fmt.Sprintf("SET LOCAL lock_timeout = %d", r.c.lockTimeout.Milliseconds())}, textSettings...)
	if err := applySettings(ctx, tx, settings); err != nil {
		tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
		return nil, fmt.Errorf("sandbox settings: %w", err)
	}
	return tx, nil
}

// phaseStart closes the running phase and starts the next one.
func (r *run) phaseStart(phase string) {
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
		r.mu.Lock()
		defer r.mu.Unlock()
		r.opts.Progress(p)
	}
}
