package cloner

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/natsort"
)

// swap runs a clone by the swap method: the sandbox connection lock holds the clone
// lock throughout; staged tables are built and loaded on the workers, then switched in.
// Until the switch commits the live sandbox is untouched, and whatever fails, the
// staged tables are dropped.
func (r *run) swap(ctx context.Context, lock *pgx.Conn, set *stagedSet, snap *snapshot, dst Instance) (err error) {
	r.phaseStart("stage")
	if err := r.stage(ctx, lock, set); err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			r.dropStaged(context.WithoutCancel(ctx), lock)
		}
	}()
	workers, err := r.openWorkers(ctx, snap, dst)
	if err != nil {
		return err
	}
	defer closeWorkers(context.WithoutCancel(ctx), workers)
	units, err := r.units(ctx, set, snap)
	if err != nil {
		return err
	}
	for _, u := range units {
		if u.spec != nil {
			r.unitCount++
		}
	}
	_, r.plannedBytes = r.plan.clonedBytes()
	tracker := newLoadTracker(r, set)
	tasks := tracker.initial()
	for _, b := range batches(units) {
		tasks = append(tasks, r.batchTask(b, tracker))
	}
	r.phaseStart("copy")
	err = r.loadBesideExport(ctx, lock, snap, workers, tasks)
	if err == nil {
		err = tracker.unfinished()
	}
	if err != nil {
		return err
	}
	r.report.Integrations, r.report.DependentWorkflows, r.report.DependentWorkflowCount = r.plan.Integrations, r.plan.DependentWorkflows, r.plan.DependentWorkflowCount
	r.report.Verification.ForeignKeysValidated = tracker.validated
	r.report.Verification.ForeignKeysCarried = set.carried()
	if err := r.switchWithExport(ctx, lock, set, units, snap); err != nil {
		return err
	}
	committed = true
	r.phaseStart("cleanup")
	r.dropStaged(context.WithoutCancel(ctx), lock)
	r.phaseStart("done")
	return nil
}

// loadBesideExport runs the load's tasks on the workers while the lock's
// connection exports the sandbox and the snapshot's own connection, with it, reads
// production for the export's drift and then names the integrations: neither
// connection has other work during the load, the export reads only the live tables
// and the load writes only the staged ones, and the switch, which replaces the live
// tables, waits for both. A failure of either stops the other; an export that
// failed is the error reported, since it stopped the load.
func (r *run) loadBesideExport(ctx context.Context, lock *pgx.Conn, snap *snapshot, workers []*worker, tasks []task) error {
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	exportCtx, stopExport := context.WithCancel(ctx)
	defer stopExport()
	exported := make(chan error, 1)
	var phase Phase // read once exported has delivered
	go func() {
		start := time.Now()
		if r.opts.duringExport != nil {
			r.opts.duringExport(exportCtx)
		}
		err := r.exportRound(exportCtx, lock, snap)
		seconds := time.Since(start).Seconds()
		if err == nil {
			if err = r.c.describeIntegrations(exportCtx, snap.tx, r.plan); err != nil {
				err = fmt.Errorf("production %s: %w", r.report.From, err)
			}
		}
		if err != nil && exportCtx.Err() != nil {
			// Stopped from outside: by the load's failure, or the clone's end, whose
			// error is the one to report.
			err = nil
		}
		if err != nil {
			stopLoad()
		}
		phase = Phase{Name: "export", Seconds: seconds, During: "copy"}
		exported <- err
	}()
	err := runTasks(loadCtx, workers, tasks)
	if err != nil {
		stopExport()
	}
	if xerr := <-exported; xerr != nil {
		err = xerr
	}
	r.report.Phases = append(r.report.Phases, phase)
	return err
}

// switchWithExport switches the staged tables in, provided the sandbox still
// holds what its export saved; when the application wrote to it during the load,
// the sandbox is exported again (the staged tables stay as they are) and the
// switch retried, a bounded number of times.
func (r *run) switchWithExport(ctx context.Context, lock *pgx.Conn, set *stagedSet, units []*unit, snap *snapshot) error {
	for {
		r.phaseStart("switch")
		err := r.switchOver(ctx, lock, set, units)
		if !errors.Is(err, ErrSandboxChanged) {
			return err
		}
		if r.exportRounds >= maxExportRounds {
			return fmt.Errorf("%w; exported %d times, each out of date by the switch: stop what writes to the sandbox, then clone again", err, r.exportRounds)
		}
		r.c.log.WithError(err).Warn("the sandbox changed during the load; exporting it again")
		if err := r.exportSnapshot(ctx, lock, snap); err != nil {
			return err
		}
	}
}

// stage drops what an interrupted clone left and creates the staged tables, empty,
// in one transaction.
func (r *run) stage(ctx context.Context, conn *pgx.Conn, set *stagedSet) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		leftovers, err := botSchemas(ctx, tx, stagePrefix)
		if err != nil {
			return err
		}
		stmts := []string{"SET LOCAL standard_conforming_strings = on", fmt.Sprintf("SET LOCAL lock_timeout = %d", r.c.lockTimeout.Milliseconds()), quietDDL}
		for _, s := range leftovers {
			stmts = append(stmts, "DROP SCHEMA "+quoteIdent(s)+" CASCADE")
		}
		for _, s := range set.appSchemas() {
			stmts = append(stmts, createSchemaStatement(stageSchema(s)))
		}
		// A table's new owner must be allowed to create in its schema: the stage
		// schemas, dropped after the clone, grant it to the live tables' owners.
		stmts = append(stmts, set.stageGrants()...)
		for _, rel := range set.rels {
			stmts = append(stmts, set.createStatements(rel)...)
		}
		carried, err := set.carriedStatements()
		if err != nil {
			return err
		}
		stmts = append(stmts, carried...)
		if err := execAll(ctx, tx, stmts); err != nil {
			return fmt.Errorf("create staged tables in sandbox %s: %w", r.report.To, err)
		}
		// The sequences as the clone found them, for a rollback: before the load,
		// which may draw on them (a default of a column the copy does not set).
		r.keptSequences, err = sequenceStates(ctx, tx, tableOIDs(r.plan.wipe))
		return err
	})
}

// quietDDL keeps the sandbox's event triggers (and rules and triggers) quiet
// through the DDL a clone runs: an application's event trigger that logs DDL
// into its own table would otherwise write to the sandbox from the clone's stage,
// and fail the switch. The role may set it: the preflight checks it.
const quietDDL = "SET LOCAL session_replication_role = replica"

// dropStaged removes the staged tables (after a failure, or what the switch left:
// empty schemas). Best effort: the next clone drops leftovers anyway.
func (r *run) dropStaged(ctx context.Context, conn *pgx.Conn) {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		schemas, err := botSchemas(ctx, tx, stagePrefix)
		if err != nil {
			return err
		}
		stmts := []string{quietDDL}
		for _, s := range schemas {
			stmts = append(stmts, "DROP SCHEMA "+quoteIdent(s)+" CASCADE")
		}
		return execAll(ctx, tx, stmts)
	})
	if err != nil {
		r.c.log.WithError(err).Warn("could not drop staged tables; the next clone drops them")
	}
}

// jobs is how many workers load in parallel: the clone's option, else the cloner's,
// else the cores available.
func (r *run) jobs() int {
	switch {
	case r.opts.Jobs > 0:
		return r.opts.Jobs
	case r.c.jobs > 0:
		return r.c.jobs
	}
	return runtime.GOMAXPROCS(0)
}

// openWorkers connects the workers: each a production connection that imports the
// clone's snapshot, and a sandbox connection.
func (r *run) openWorkers(ctx context.Context, snap *snapshot, dst Instance) ([]*worker, error) {
	n := r.jobs()
	workers := make([]*worker, 0, n)
	for range n {
		w := &worker{}
		workers = append(workers, w)
		var err error
		if w.prod, w.prodTx, err = snap.importer(ctx); err != nil {
			closeWorkers(ctx, workers)
			return nil, err
		}
		if w.sandbox, err = r.c.connectTo(ctx, dst); err != nil {
			closeWorkers(ctx, workers)
			return nil, fmt.Errorf("connect to instance %s: %w", dst.Name, err)
		}
		if err := execSession(ctx, w.sandbox, r.loadSettings()); err != nil {
			closeWorkers(ctx, workers)
			return nil, fmt.Errorf("instance %s: %w", dst.Name, err)
		}
		if err := preferLZ4(ctx, w.sandbox, ""); err != nil {
			closeWorkers(ctx, workers)
			return nil, fmt.Errorf("instance %s: %w", dst.Name, err)
		}
	}
	return workers, nil
}

func closeWorkers(ctx context.Context, workers []*worker) {
	for _, w := range workers {
		if w.prodTx != nil {
			w.prodTx.Rollback(ctx) //nolint:errcheck // read only
		}
		for _, c := range []*pgx.Conn{w.prod, w.sandbox} {
			if c != nil {
				c.Close(ctx)
			}
		}
	}
}

// units lists what the workers load: every plain table and partition of the set,
// cloned ones with their copy from production's relation of the same name.
func (r *run) units(ctx context.Context, set *stagedSet, snap *snapshot) ([]*unit, error) {
	specs := map[uint32]*copySpec{}
	for i := range r.plan.copies {
		specs[r.plan.copies[i].table.oid] = &r.plan.copies[i]
	}
	var units []*unit
	var names []string
	for _, rel := range set.rels {
		if rel.kind == "p" {
			continue
		}
		u := &unit{rel: rel}
		if spec := specs[set.root(rel).oid]; spec != nil {
			s := *spec
			s.table = &table{oid: rel.oid, name: rel.qualifiedName(), kind: "r"}
			s.into, s.root = rel.stagedIdent(), spec.table.oid
			u.spec = &s
			names = append(names, rel.quoted)
		}
		units = append(units, u)
	}
	sizes, pages, err := relationSizes(ctx, snap.tx, names)
	if err != nil {
		return nil, err
	}
	for _, u := range units {
		u.size = sizes[u.rel.quoted]
	}
	minSize := int64(splitMin)
	if r.opts.splitMin > 0 {
		minSize = r.opts.splitMin
	}
	return splitUnits(units, pages, r.jobs(), minSize), nil
}

// relationSizes reads the production relations' sizes (heap and TOAST) and their
// number of heap pages.
func relationSizes(ctx context.Context, q querier, names []string) (sizes, pages map[string]int64, err error) {
	rows, err := q.Query(ctx, `SELECT x, coalesce(pg_table_size(to_regclass(x)), 0),
		coalesce(pg_relation_size(to_regclass(x)), 0) / current_setting('block_size')::int FROM unnest($1::text[]) x`, names)
	if err != nil {
		return nil, nil, fmt.Errorf("production table sizes: %w", err)
	}
	sizes, pages = map[string]int64{}, map[string]int64{}
	defer rows.Close()
	for rows.Next() {
		var name string
		var size, n int64
		if err := rows.Scan(&name, &size, &n); err != nil {
			return nil, nil, fmt.Errorf("production table sizes: %w", err)
		}
		sizes[name], pages[name] = size, n
	}
	return sizes, pages, rows.Err()
}

// switchOver puts the staged tables in place in one transaction and verifies the
// result before it commits: the previous rollback copy is dropped, the live tables
// move to the rollback schemas (the new copy) and the staged ones take their places.
func (r *run) switchOver(ctx context.Context, conn *pgx.Conn, set *stagedSet, units []*unit) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin the switch: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
	stmts := []string{"SET LOCAL standard_conforming_strings = on", fmt.Sprintf("SET LOCAL lock_timeout = %d", r.c.lockTimeout.Milliseconds()), quietDDL}
	drops, err := dropRollbackStatements(ctx, tx)
	if err != nil {
		return err
	}
	if err := execAll(ctx, tx, append(stmts, set.lockStatement())); err != nil {
		return fmt.Errorf("switch sandbox %s: %w", r.report.To, set.waited(err))
	}
	// The live tables are ours now: did the application write since the export?
	if err := r.checkUnchanged(ctx, tx); err != nil {
		return err
	}
	stmts = drops
	for _, s := range set.appSchemas() {
		stmts = append(stmts, createSchemaStatement(rollbackSchema(s)))
	}
	stmts = append(stmts, set.moveOutStatements()...)
	stmts = append(stmts, set.moveInStatements()...)
	stmts = append(stmts, set.attachStatements()...)
	stmts = append(stmts, set.deps.statements()...)
	if err := execAll(ctx, tx, stmts); err != nil {
		return fmt.Errorf("switch sandbox %s: %w", r.report.To, set.waited(err))
	}
	r.report.Refreshed = set.deps.refreshedNames()
	if err := r.verifySwap(ctx, tx, set, units); err != nil {
		return err
	}
	if err := writeRollbackCopy(ctx, tx, r.keptCopy(set, MethodSwap)); err != nil {
		return err
	}
	if r.opts.beforeSwitchCommit != nil {
		r.opts.beforeSwitchCommit()
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit sandbox %s: %w", r.report.To, err)
	}
	return nil
}

// keptCopy describes the rollback copy a clone leaves.
func (r *run) keptCopy(set *stagedSet, method string) *RollbackCopy {
	now := r.c.now()
	rc := &RollbackCopy{Instance: r.report.To, CloneID: r.report.ID, From: r.report.From, TakenAt: now,
		ExpiresAt: now.Add(r.c.retention), Method: method, Bytes: r.plan.RollbackBytes, Sequences: r.keptSequences}
	parts := map[uint32]int{}
	for _, rel := range set.rels {
		if rel.parent != 0 {
			parts[set.root(rel).oid]++
		}
	}
	seen := map[string]bool{}
	for _, rel := range set.rels {
		if rel.parent != 0 {
			continue
		}
		rc.Tables = append(rc.Tables, KeptTable{Schema: rel.schema, Table: rel.name, KeptSchema: rollbackSchema(rel.schema), Partitions: parts[rel.oid]})
		if !seen[rel.schema] {
			seen[rel.schema] = true
			rc.Schemas = append(rc.Schemas, rollbackSchema(rel.schema))
		}
	}
	r.report.Rollback = rc
	return rc
}

// newOIDs are the live tables after the switch.
func newOIDs(ctx context.Context, tx pgx.Tx, set *stagedSet) ([]uint32, error) {
	names := make([]string, len(set.rels))
	for i, rel := range set.rels {
		names[i] = rel.quoted
	}
	var oids []uint32
	if err := tx.QueryRow(ctx, "SELECT array_agg(x::regclass::oid ORDER BY o) FROM unnest($1::text[]) WITH ORDINALITY u(x, o)", names).Scan(&oids); err != nil {
		return nil, fmt.Errorf("find the switched tables: %w", err)
	}
	return oids, nil
}

// verifySwap checks the switched sandbox inside the switch transaction: every
// cloned unit's checksum (taken by its worker on the staged table) equals
// production's, no sandbox row holds a value where the copy sends NULL, excluded
// tables are empty, sequences are past the copied ids, and nothing outside the bot's
// schemas depends on the rollback copy.
func (r *run) verifySwap(ctx context.Context, tx pgx.Tx, set *stagedSet, units []*unit) error {
	e := &evidence{tx: tx, excluded: r.excludedWiped(), swapped: true, tables: r.recordUnits(units)}
	oids, err := newOIDs(ctx, tx, set)
	if err != nil {
		return err
	}
	v := &r.report.Verification
	if v.Sequences, err = advanceSequences(ctx, tx, oids); err != nil {
		return err
	}
	if err := verify(ctx, e, v); err != nil {
		return err
	}
	r.stepper("switch")(v.TablesChecked, v.TablesChecked)
	return nil
}

// recordUnits sums the units into the report's tables, and into the evidence of
// the verification: a partitioned or split table's rows, bytes and checksums are
// its parts'.
func (r *run) recordUnits(units []*unit) []tableEvidence {
	byTable := map[uint32]*tableSums{}
	var order []uint32
	for _, u := range units {
		if u.spec == nil {
			continue
		}
		root := u.spec.root
		ts := byTable[root]
		if ts == nil {
			ts = &tableSums{spec: u.spec}
			byTable[root] = ts
			order = append(order, root)
		}
		ts.add(u)
	}
	evidence := make([]tableEvidence, 0, len(order))
	for _, oid := range order {
		ts := byTable[oid]
		spec := ts.manifestSpec(r.plan)
		r.report.addTable(spec, ts.rows, ts.bytes, time.Duration(ts.seconds*float64(time.Second)))
		t := r.report.table(spec.table.name.String())
		t.Checksum, t.ProductionChecksum, t.Match = ts.staged, ts.production, ts.staged.equal(ts.production)
		evidence = append(evidence, tableEvidence{name: spec.table.name, nulled: spec.nulled, sandbox: ts.staged, production: ts.production})
	}
	return evidence
}

// tableSums adds up the units of one cloned table.
type tableSums struct {
	spec               *copySpec
	rows, bytes        int64
	seconds            float64
	staged, production Checksum
}

func (t *tableSums) add(u *unit) {
	t.rows, t.bytes, t.seconds = t.rows+u.rows, t.bytes+u.bytes, t.seconds+u.seconds
	t.staged.plus(u.staged)
	t.production.plus(u.production)
}

func (t *tableSums) manifestSpec(p *Plan) *copySpec {
	for i := range p.copies {
		if p.copies[i].table.oid == t.spec.root {
			return &p.copies[i]
		}
	}
	return t.spec
}

// refreshedNames lists the materialized views the switch filled again.
func (d *dependents) refreshedNames() []string {
	out := make([]string, 0, len(d.matviews)+len(d.refreshed))
	for _, m := range d.matviews {
		out = append(out, m.quoted)
	}
	out = append(out, d.refreshed...)
	natsort.Strings(out)
	return out
}

// preferLZ4 makes the session (or, with scope "LOCAL", the transaction) compress
// TOASTed values with lz4 where the server supports it: for a column that names no
// compression of its own, the method is the writer's choice, invisible to anything
// that reads the value, and lz4 loads wide text about twice as fast as the default
// pglz. A server built without lz4 keeps its default.
func preferLZ4(ctx context.Context, q querier, scope string) error {
	var ok bool
	err := q.QueryRow(ctx, "SELECT coalesce('lz4' = ANY(enumvals), false) FROM pg_settings WHERE name = 'default_toast_compression'").Scan(&ok)
	if err != nil || !ok {
		return err
	}
	if _, err := q.Exec(ctx, "SET "+scope+" default_toast_compression = lz4"); err != nil {
		return fmt.Errorf("use lz4 for TOAST: %w", err)
	}
	return nil
}

// execSession applies session settings on conn.
func execSession(ctx context.Context, conn *pgx.Conn, settings []string) error {
	for _, s := range settings {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// waited turns a lock or statement timeout of the switch into a *WaitError naming
// the live tables, whose holders the clone then names.
func (s *stagedSet) waited(err error) error {
	names, idents := make([]string, len(s.rels)), make([]string, len(s.rels))
	for i, r := range s.rels {
		names[i], idents[i] = r.qualifiedName().String(), r.ident()
	}
	return waited(err, sideSandbox, names, idents)
}
