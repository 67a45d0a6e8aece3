package cloner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// replace runs a clone by the in-place method: in the sandbox transaction it keeps
// the rows of every manifest table for rollback, wipes and refills the tables,
// refreshes the materialized views over them, verifies and commits.
func (r *run) replace(ctx context.Context, tx pgx.Tx, snap *snapshot) error {
	r.phaseStart("wipe")
	if _, err := tx.Exec(ctx, "SET LOCAL maintenance_work_mem = '"+indexSortMemory+"'"); err != nil {
		return fmt.Errorf("sandbox settings: %w", err)
	}
	if err := preferLZ4(ctx, tx, "LOCAL"); err != nil {
		return err
	}
	if err := r.keepRows(ctx, tx); err != nil {
		return err
	}
	kept, err := sequenceStates(ctx, tx, tableOIDs(r.plan.wipe))
	if err != nil {
		return err
	}
	r.keptSequences = kept
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
	if err := r.c.describeIntegrations(ctx, snap.tx, r.plan); err != nil {
		return fmt.Errorf("production %s: %w", r.report.From, err)
	}
	sums, err := r.copyAll(ctx, tx, snap)
	if err != nil {
		return err
	}
	r.phaseStart("rebuild")
	if err := rb.create(ctx, tx, r.c.log, r.stepper("rebuild")); err != nil {
		return err
	}
	r.report.Verification.ForeignKeysValidated = len(rb.foreignKeys)
	r.report.Verification.ForeignKeysNull = len(rb.kept)
	r.phaseStart("sequences")
	seqs, err := advanceSequences(ctx, tx, specOIDs(r.plan.copies))
	if err != nil {
		return err
	}
	r.report.Verification.Sequences = seqs
	if r.report.Refreshed, err = refreshOver(ctx, tx, tableOIDs(r.plan.wipe)); err != nil {
		return err
	}
	r.phaseStart("verify")
	if err := r.verify(ctx, tx, sums); err != nil {
		return err
	}
	if err := writeRollbackCopy(ctx, tx, r.keptRows()); err != nil {
		return err
	}
	r.phaseStart("commit")
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit sandbox %s: %w", r.report.To, err)
	}
	r.phaseStart("done")
	return nil
}

func truncate(ctx context.Context, tx pgx.Tx, tables []*table) error {
	return onTables(ctx, tx, tables, "wipe sandbox tables", func(idents string) string { return "TRUNCATE " + idents + " RESTART IDENTITY" })
}

// onTables runs the statement that stmt makes of the tables' names, if there are
// tables; a lock it waited too long for is explained by the tables' holders.
func onTables(ctx context.Context, tx pgx.Tx, tables []*table, what string, stmt func(idents string) string) error {
	if len(tables) == 0 {
		return nil
	}
	idents, names := make([]string, len(tables)), make([]string, len(tables))
	for i, t := range tables {
		idents[i], names[i] = t.ident(), t.name.String()
	}
	if _, err := tx.Exec(ctx, stmt(strings.Join(idents, ", "))); err != nil {
		return fmt.Errorf("%s %s: %w", what, strings.Join(names, ", "), waited(err, sideSandbox, names, idents))
	}
	return nil
}

// copyAll streams every cloned table into the sandbox, and returns production's
// checksums of what it sent.
func (r *run) copyAll(ctx context.Context, tx pgx.Tx, snap *snapshot) (map[tableName]Checksum, error) {
	r.phaseStart("copy")
	sums := make(map[tableName]Checksum, len(r.plan.copies))
	var total int64
	planned, plannedTotal := r.plan.clonedBytes()
	for i := range r.plan.copies {
		s := &r.plan.copies[i]
		pr := Progress{Phase: "copy", Table: s.table.name.String(), TableIndex: i + 1, Tables: len(r.plan.copies), TotalBytes: total,
			PlannedBytes: plannedTotal, TablePlannedBytes: planned[s.table.name.String()]}
		r.progress(pr)
		start := time.Now()
		sum, bytes, err := streamTable(ctx, snap.tx.Conn().PgConn(), tx.Conn().PgConn(), s, func(n int64) {
			pr.TableBytes, pr.TotalBytes = n, total+n
			r.progress(pr)
		})
		if err != nil {
			return nil, err
		}
		sums[s.table.name] = sum
		total += bytes
		pr.TableBytes, pr.TotalBytes, pr.TableDone, pr.Rows = bytes, total, true, sum.Rows
		r.progress(pr)
		r.report.addTable(s, sum.Rows, bytes, time.Since(start))
	}
	return sums, nil
}

func (r *run) verify(ctx context.Context, tx pgx.Tx, production map[tableName]Checksum) error {
	e := &evidence{tx: tx, excluded: r.excludedWiped()}
	step := r.stepper("verify")
	for i := range r.plan.copies {
		s := &r.plan.copies[i]
		got, err := checksum(ctx, tx, s, false)
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		e.tables = append(e.tables, tableEvidence{name: s.table.name, nulled: s.nulled, sandbox: got})
		step(i+1, len(r.plan.copies))
	}
	r.report.Integrations, r.report.DependentWorkflows, r.report.DependentWorkflowCount = r.plan.Integrations, r.plan.DependentWorkflows, r.plan.DependentWorkflowCount
	for i := range e.tables {
		t := &e.tables[i]
		t.production = production[t.name]
		rt := r.report.table(t.name.String())
		rt.Checksum, rt.ProductionChecksum, rt.Match = t.sandbox, t.production, t.sandbox.equal(t.production)
	}
	return verify(ctx, e, &r.report.Verification)
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

// keepRows copies the rows of every manifest table of the sandbox into the rollback
// schemas (generated columns left out: they are computed again on restore), after
// dropping the previous copy.
func (r *run) keepRows(ctx context.Context, tx pgx.Tx) error {
	stmts, err := dropRollbackStatements(ctx, tx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, t := range r.plan.wipe {
		if !seen[t.name.schema] {
			seen[t.name.schema] = true
			stmts = append(stmts, createSchemaStatement(rollbackSchema(t.name.schema)))
		}
		var cols []string
		for _, c := range t.columns {
			if !c.generated {
				cols = append(cols, col(c.name))
			}
		}
		from := "ONLY " + t.ident()
		if t.kind == "p" {
			from = t.ident()
		}
		stmts = append(stmts, "CREATE TABLE "+quoteIdent(rollbackSchema(t.name.schema))+"."+quoteIdent(t.name.name)+
			" AS SELECT "+strings.Join(cols, ", ")+" FROM "+from)
	}
	if err := execAll(ctx, tx, stmts); err != nil {
		return fmt.Errorf("keep the sandbox's rows for rollback: %w", err)
	}
	return nil
}

// keptRows describes the copy keepRows made.
func (r *run) keptRows() *RollbackCopy {
	now := r.c.now()
	rc := &RollbackCopy{Instance: r.report.To, CloneID: r.report.ID, From: r.report.From, TakenAt: now,
		ExpiresAt: now.Add(r.c.retention), Method: MethodInPlace, Bytes: r.plan.RollbackBytes, Sequences: r.keptSequences}
	seen := map[string]bool{}
	for _, t := range r.plan.wipe {
		rc.Tables = append(rc.Tables, KeptTable{Schema: t.name.schema, Table: t.name.name, KeptSchema: rollbackSchema(t.name.schema)})
		if !seen[t.name.schema] {
			seen[t.name.schema] = true
			rc.Schemas = append(rc.Schemas, rollbackSchema(t.name.schema))
		}
	}
	r.report.Rollback = rc
	return rc
}

// tableOIDs are the tables' oids.
func tableOIDs(tables []*table) []uint32 {
	oids := make([]uint32, len(tables))
	for i, t := range tables {
		oids[i] = t.oid
	}
	return oids
}
