package cloner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/natsort"
)

// Sentinel errors of Rollback.
var (
	// ErrNoCopy means the sandbox keeps no pre-clone copy: never cloned, already
	// rolled back, or pruned after it expired.
	ErrNoCopy = errors.New("no pre-clone copy is kept for this sandbox")
	// ErrExpired means the copy's retention has passed.
	ErrExpired = errors.New("the pre-clone copy has expired")
	// ErrSuperseded means a newer clone replaced the copy the caller meant.
	ErrSuperseded = errors.New("a newer clone into this sandbox replaced the pre-clone copy")
)

// RollbackOptions tune one rollback.
type RollbackOptions struct {
	// CloneID, when set, restores only the copy that clone left: a newer clone's
	// copy gives ErrSuperseded.
	CloneID string
	// Progress, when set, is told each phase.
	Progress func(Progress)
}

// RollbackReport is the evidence of one rollback.
type RollbackReport struct {
	To         string           `json:"to"`
	Copy       RollbackCopy     `json:"copy"`
	StartedAt  time.Time        `json:"started_at"`
	FinishedAt time.Time        `json:"finished_at"`
	Seconds    float64          `json:"seconds"`
	Tables     []RestoredTable  `json:"tables"`
	Rows       int64            `json:"rows"`
	Sequences  []SequenceReport `json:"sequences"`
	Refreshed  []string         `json:"refreshed,omitempty"` // materialized views filled again
	OK         bool             `json:"ok"`
	Failures   []string         `json:"failures,omitempty"`
}

// RestoredTable is one table put back, with the checksum of the kept copy and of the
// restored table.
type RestoredTable struct {
	Table    string   `json:"table"`
	Rows     int64    `json:"rows"`
	Kept     Checksum `json:"kept"`
	Restored Checksum `json:"restored"`
	Match    bool     `json:"match"`
}

// RollbackCopies lists what can be restored: each sandbox's copy, nil where there
// is none. A sandbox that does not answer is an error naming it; the others are
// still listed.
func (c *Cloner) RollbackCopies(ctx context.Context, sandboxes ...string) (map[string]*RollbackCopy, error) {
	out := map[string]*RollbackCopy{}
	var errs []error
	for _, name := range sandboxes {
		in, ok := c.instances[name]
		if !ok || in.Environment != Sandbox {
			errs = append(errs, fmt.Errorf("instance %q is not a sandbox of the registry", name))
			continue
		}
		rc, err := c.readCopyOf(ctx, in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[name] = rc
	}
	return out, errors.Join(errs...)
}

// CheckRollback reads the copy a rollback of sandbox to before clone cloneID would
// restore, and refuses it as Rollback would, without writing anything: ErrNoCopy,
// ErrExpired or ErrSuperseded (wrapped in ErrRefused). It is the question to ask
// before announcing a rollback; the rollback itself decides again under its lock.
func (c *Cloner) CheckRollback(ctx context.Context, sandbox, cloneID string) (*RollbackCopy, error) {
	in, ok := c.instances[sandbox]
	if !ok || in.Environment != Sandbox {
		return nil, rollbackRefusal(fmt.Sprintf("instance %q is not a sandbox of the registry", sandbox))
	}
	rc, err := c.readCopyOf(ctx, in)
	if err != nil {
		return nil, err
	}
	return rc, c.usable(rc, cloneID)
}

func (c *Cloner) readCopyOf(ctx context.Context, in Instance) (*RollbackCopy, error) {
	conn, err := c.connectTo(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("connect to instance %s: %w", in.Name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rc, err := readRollbackCopy(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", in.Name, err)
	}
	return rc, nil
}

// Rollback restores the sandbox to as it was before its latest clone, from the copy
// that clone kept: every kept table's rows, in one transaction, verified against the
// copy before it commits; then the copy is dropped. A refusal wraps ErrRefused,
// ErrNoCopy, ErrExpired or ErrSuperseded; a clone or rollback in progress, ErrBusy.
func (c *Cloner) Rollback(ctx context.Context, to string, opts RollbackOptions) (*RollbackReport, error) {
	in, ok := c.instances[to]
	if !ok {
		return nil, rollbackRefusal(fmt.Sprintf("instance %q is not in the registry", to))
	}
	if in.Environment != Sandbox {
		return nil, rollbackRefusal(fmt.Sprintf("%q is a %s, not a sandbox: only a sandbox is ever written", to, in.Environment))
	}
	rep := &RollbackReport{To: to, StartedAt: c.now()}
	log := c.log.WithField("to", to)
	log.Info("rollback starting")
	err := c.rollback(ctx, in, opts, rep)
	rep.FinishedAt = c.now()
	rep.Seconds = rep.FinishedAt.Sub(rep.StartedAt).Seconds()
	if err != nil {
		log.WithError(err).Warn("rollback failed; sandbox unchanged")
		return rep, err
	}
	log.WithFields(map[string]any{"rows": rep.Rows, "seconds": rep.Seconds}).Info("rollback committed")
	return rep, nil
}

func (c *Cloner) rollback(ctx context.Context, in Instance, opts RollbackOptions, rep *RollbackReport) error {
	progress := func(phase string) {
		if opts.Progress != nil {
			opts.Progress(Progress{Phase: phase})
		}
	}
	progress("preflight")
	conn, err := c.connectTo(ctx, in)
	if err != nil {
		return fmt.Errorf("connect to instance %s: %w", in.Name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := lockSandbox(ctx, conn, in.Name); err != nil {
		return err
	}
	defer unlockSandbox(ctx, conn)
	if err := c.checkTarget(ctx, conn, in); err != nil {
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin rollback of %s: %w", in.Name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
	rc, err := readRollbackCopy(ctx, tx)
	if err != nil {
		return err
	}
	if err := c.usable(rc, opts.CloneID); err != nil {
		return err
	}
	rep.Copy = *rc
	progress("restore")
	if err := c.restore(ctx, tx, rc, rep); err != nil {
		return err
	}
	progress("commit")
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit rollback of %s: %w", in.Name, err)
	}
	progress("done")
	return nil
}

// refusedFor refuses a rollback for reason, with detail.
func refusedFor(reason error, detail string) error {
	if detail != "" {
		return fmt.Errorf("rollback %w: %w (%s)", ErrRefused, reason, detail)
	}
	return fmt.Errorf("rollback %w: %w", ErrRefused, reason)
}

// usable refuses a copy that is missing, expired or another clone's.
func (c *Cloner) usable(rc *RollbackCopy, cloneID string) error {
	switch {
	case rc == nil:
		return refusedFor(ErrNoCopy, "")
	case cloneID != "" && rc.CloneID != cloneID:
		return refusedFor(ErrSuperseded, "the copy kept now is from the clone of "+rc.TakenAt.UTC().Format(time.RFC3339))
	case rc.Expired(c.now()):
		return refusedFor(ErrExpired, "it was kept until "+rc.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// restore puts the kept rows back into the live tables. Like an in-place clone: the
// live tables' indexes and keys are dropped and rebuilt around the load, triggers
// are silenced, identity values kept; then sequences move past the restored ids,
// materialized views over the tables are refreshed, and every table's checksum must
// equal its kept copy's before the copy is dropped.
func (c *Cloner) restore(ctx context.Context, tx pgx.Tx, rc *RollbackCopy, rep *RollbackReport) error {
	settings := []string{
		fmt.Sprintf("SET LOCAL lock_timeout = %d", c.lockTimeout.Milliseconds()),
		"SET LOCAL session_replication_role = replica",
		"SET LOCAL maintenance_work_mem = '" + indexSortMemory + "'",
	}
	if err := applySettings(ctx, tx, append(settings, textSettings...)); err != nil {
		return fmt.Errorf("rollback settings (the role needs SET on session_replication_role): %w", err)
	}
	if err := preferLZ4(ctx, tx, "LOCAL"); err != nil {
		return err
	}
	pairs, err := keptPairs(ctx, tx, rc)
	if err != nil {
		return err
	}
	specs := make([]copySpec, len(pairs))
	for i, p := range pairs {
		specs[i] = p.live
	}
	rb, err := captureRebuild(ctx, tx, specs)
	if err != nil {
		return err
	}
	if err := rb.drop(ctx, tx); err != nil {
		return err
	}
	if err := truncateSpecs(ctx, tx, specs); err != nil {
		return err
	}
	for _, p := range pairs {
		if err := p.copyBack(ctx, tx); err != nil {
			return err
		}
	}
	if err := rb.create(ctx, tx, c.log, func(int, int) {}); err != nil {
		return err
	}
	return c.finishRestore(ctx, tx, pairs, rc, rep)
}

func (c *Cloner) finishRestore(ctx context.Context, tx pgx.Tx, pairs []keptPair, rc *RollbackCopy, rep *RollbackReport) error {
	oids := make([]uint32, len(pairs))
	for i, p := range pairs {
		oids[i] = p.live.table.oid
	}
	var err error
	if rep.Sequences, err = advanceSequences(ctx, tx, oids); err != nil {
		return err
	}
	if err := restoreSequences(ctx, tx, oids, rc.Sequences, rep.Sequences); err != nil {
		return err
	}
	if rep.Refreshed, err = refreshOver(ctx, tx, oids); err != nil {
		return err
	}
	for _, p := range pairs {
		t, err := p.verify(ctx, tx)
		if err != nil {
			return err
		}
		rep.Tables, rep.Rows = append(rep.Tables, t), rep.Rows+t.Rows
		if !t.Match {
			rep.Failures = append(rep.Failures, fmt.Sprintf("table %s: restored %d rows sum %s, kept %d rows sum %s", t.Table, t.Restored.Rows, t.Restored.Sum, t.Kept.Rows, t.Kept.Sum))
		}
	}
	for _, s := range rep.Sequences {
		if !s.OK {
			rep.Failures = append(rep.Failures, fmt.Sprintf("sequence %s is at %d, below the restored id %d", s.Sequence, s.Value, s.MaxID))
		}
	}
	if len(rep.Failures) > 0 {
		return fmt.Errorf("verification failed, sandbox unchanged: %s", strings.Join(rep.Failures, "; "))
	}
	rep.OK = true
	drops, err := dropRollbackStatements(ctx, tx)
	if err != nil {
		return err
	}
	return execAll(ctx, tx, drops)
}

// checkTarget refuses a database that its marker does not prove to be the sandbox
// in: a rollback writes it as a clone would.
func (c *Cloner) checkTarget(ctx context.Context, conn *pgx.Conn, in Instance) error {
	ev, err := readEvidence(ctx, conn, in)
	if err != nil {
		return err
	}
	if problem := c.enrollProblem(in, ev); problem != "" {
		return rollbackRefusal(problem)
	}
	return nil
}

// Pruned is what pruning did in one sandbox.
type Pruned struct {
	Sandbox string
	Dropped *RollbackCopy // the expired copy dropped, if any
	Staged  int           // stage schemas an interrupted clone left, dropped
	Err     error         // why the sandbox was skipped; it is tried again next time
}

// PruneRollbackCopies drops every sandbox's rollback copy once it has expired, and
// what an interrupted clone left staged. A sandbox that does not answer, is not
// proven by its marker, or is busy with a clone or rollback is skipped and reported.
func (c *Cloner) PruneRollbackCopies(ctx context.Context) []Pruned {
	var out []Pruned
	for _, name := range c.sandboxNames() {
		p := Pruned{Sandbox: name}
		p.Dropped, p.Staged, p.Err = c.prune(ctx, c.instances[name])
		if p.Dropped != nil || p.Staged > 0 || p.Err != nil {
			out = append(out, p)
		}
	}
	return out
}

// Sandboxes lists the sandboxes of the registry, by name.
func (c *Cloner) Sandboxes() []string { return c.sandboxNames() }

func (c *Cloner) sandboxNames() []string {
	var names []string
	for name, in := range c.instances {
		if in.Environment == Sandbox {
			names = append(names, name)
		}
	}
	natsort.Strings(names)
	return names
}

func (c *Cloner) prune(ctx context.Context, in Instance) (*RollbackCopy, int, error) {
	conn, err := c.connectTo(ctx, in)
	if err != nil {
		return nil, 0, fmt.Errorf("connect to instance %s: %w", in.Name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := lockSandbox(ctx, conn, in.Name); err != nil {
		return nil, 0, err
	}
	defer unlockSandbox(ctx, conn)
	if err := c.checkTarget(ctx, conn, in); err != nil {
		return nil, 0, err
	}
	var dropped *RollbackCopy
	var staged []string
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		rc, err := readRollbackCopy(ctx, tx)
		if err != nil {
			return err
		}
		var stmts []string
		if rc != nil && rc.Expired(c.now()) {
			if stmts, err = dropRollbackStatements(ctx, tx); err != nil {
				return err
			}
			dropped = rc
		}
		if staged, err = botSchemas(ctx, tx, stagePrefix); err != nil {
			return err
		}
		for _, s := range staged {
			stmts = append(stmts, "DROP SCHEMA "+quoteIdent(s)+" CASCADE")
		}
		if len(stmts) == 0 {
			return nil
		}
		return execAll(ctx, tx, append([]string{quietDDL}, stmts...))
	})
	if err != nil {
		return nil, 0, fmt.Errorf("prune sandbox %s: %w", in.Name, err)
	}
	if dropped != nil {
		c.log.WithFields(map[string]any{"sandbox": in.Name, "clone_id": dropped.CloneID, "expired_at": dropped.ExpiresAt}).Info("expired rollback copy dropped")
	}
	return dropped, len(staged), nil
}
