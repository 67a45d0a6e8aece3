package cloner

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// unit is one relation the staged load fills: a plain table or a partition of a
// cloned table, or an excluded table, which stays empty but gets its keys.
type unit struct {
	rel  *relation
	spec *copySpec // production to staged; nil for an excluded table
	size int64     // production bytes: the largest units start first

	rows, bytes        int64
	production, staged Checksum
	seconds            float64
	reported           int64      // bytes already counted in the clone's progress
	split              *splitLoad // the table this unit is a part of, when split
}

// splitLoad is a large table loaded by several workers at once, each a range of
// its production pages, into the same staged table: the last part to commit builds
// the keys and takes the staged checksum of the whole.
type splitLoad struct {
	rel       *relation
	first     *unit // holds the whole table's staged checksum
	parts     int
	remaining atomic.Int32
}

// worker holds one production connection on the clone's snapshot and one sandbox
// connection.
type worker struct {
	prod    *pgx.Conn
	prodTx  pgx.Tx
	sandbox *pgx.Conn
}

// Index builds sort in runs of indexSortMemory: more made btree builds slower here
// (6M bigints: 2.3 s at 64 MB, 4.3 s at 256 MB), the runs no longer fitting the
// CPU's caches, and less made large ones slower (24M two-column keys: 8.1 s at
// 16 MB, 6.9 s at 64 MB). A GIN build gathers its entries in memory of that size
// and is faster with less: 280k jsonb documents (jsonb_path_ops) in 4.7 s at 16 MB
// against 5.5 s at 64 MB and 5.7 s at 256 MB.
const (
	indexSortMemory = "64MB"
	ginBuildMemory  = "16MB"
)

// indexBuild is the statements that build the index of def, of access method
// method, with the memory that method builds fastest with; they run in a
// transaction (SET LOCAL).
func indexBuild(def, method string) []string {
	if method != "gin" {
		return []string{def}
	}
	return []string{"SET LOCAL maintenance_work_mem = '" + ginBuildMemory + "'", def, "SET LOCAL maintenance_work_mem = '" + indexSortMemory + "'"}
}

// loadSettings are the sandbox settings of every worker's session.
func (r *run) loadSettings() []string {
	return append([]string{
		fmt.Sprintf("SET lock_timeout = %d", r.c.lockTimeout.Milliseconds()),
		"SET maintenance_work_mem = '" + indexSortMemory + "'",
		"SET standard_conforming_strings = on",
		// The switch commits synchronously: its WAL record comes after every staged
		// commit's, so once it is durable they are too.
		"SET synchronous_commit = off",
		// Carried foreign keys are in place during the load; their triggers, like
		// every trigger, stay silent (the clone checked the role may do this).
		"SET session_replication_role = replica",
	}, sessionSettings(textSettings)...)
}

// sessionSettings turns SET LOCAL statements into session ones.
func sessionSettings(local []string) []string {
	out := make([]string, len(local))
	for i, s := range local {
		out[i] = strings.Replace(s, "SET LOCAL ", "SET ", 1)
	}
	return out
}

// batch is what one worker loads in one sandbox transaction: one large unit, or
// several small ones, which then share the transaction's round trips.
type batch []*unit

// Small units are batched up to these limits.
const (
	smallUnit     = 4 << 20
	batchMaxBytes = 16 << 20
	batchMaxUnits = 32
)

// batches orders the units largest first, so the longest never start last, and
// groups the small ones.
func batches(units []*unit) []batch {
	sorted := slices.Clone(units)
	slices.SortStableFunc(sorted, func(a, b *unit) int { return cmp.Compare(b.rank(), a.rank()) })
	var out []batch
	var cur batch
	var curBytes int64
	for _, u := range sorted {
		if u.size >= smallUnit {
			out = append(out, batch{u})
			continue
		}
		if len(cur) == batchMaxUnits || curBytes+u.size > batchMaxBytes {
			out, cur, curBytes = append(out, cur), nil, 0
		}
		cur, curBytes = append(cur, u), curBytes+u.size
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// rank orders the units: the largest first, and the parts of a split table by the
// size of the whole, since its keys, its checksum and its foreign keys wait for the
// last of them; loaded side by side early, they leave that tail room to run
// beside the other tables.
func (u *unit) rank() int64 {
	if u.split != nil {
		return u.size * int64(u.split.parts)
	}
	return u.size
}

// batchTask loads b, then tells the tracker which tables are in.
func (r *run) batchTask(b batch, t *loadTracker) task {
	return func(ctx context.Context, w *worker) ([]task, error) {
		if err := r.loadBatch(ctx, w, b); err != nil {
			return nil, err
		}
		var next []task
		for _, u := range b {
			switch {
			case u.split == nil:
				next = append(next, t.loaded(u.rel)...)
			case u.split.remaining.Add(-1) == 0:
				if err := r.splitKeys(ctx, w, u.split); err != nil {
					return nil, err
				}
				next = append(append(next, r.splitChecksum(u.split)), t.loaded(u.rel)...)
			}
		}
		return next, nil
	}
}

// loadBatch copies, indexes and checksums a batch in one sandbox transaction;
// production's checksums come with the copy.
func (r *run) loadBatch(ctx context.Context, w *worker, b batch) error {
	start := time.Now()
	tx, err := w.sandbox.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin staged load of %s: %w", b[0].rel.quoted, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
	for _, u := range b {
		if u.spec == nil {
			continue
		}
		// Emptying a table in the load's transaction lets COPY write frozen rows,
		// which spares the sandbox a later rewrite; for a small table a new file is
		// not worth it, the parts of a split table load side by side, and a table
		// that another's foreign key references cannot be emptied alone.
		if u.spec.thaw = u.size < smallUnit || u.split != nil || u.rel.carriedIn; !u.spec.thaw {
			if _, err := tx.Exec(ctx, "TRUNCATE "+u.rel.stagedIdent()); err != nil {
				return fmt.Errorf("prepare staged table for %s: %w", u.rel.quoted, err)
			}
		}
		if err := r.copyUnit(ctx, w, tx, u); err != nil {
			return err
		}
	}
	if err := r.finishBatch(ctx, tx, b); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit staged table for %s: %w", b[0].rel.quoted, err)
	}
	for _, u := range b {
		u.seconds = time.Since(start).Seconds() / float64(len(b))
	}
	return nil
}

// splitKeys builds the keys of a split table once every part has committed.
func (r *run) splitKeys(ctx context.Context, w *worker, sl *splitLoad) error {
	start := time.Now()
	stmts, err := sl.rel.keyStatements()
	if err != nil {
		return err
	}
	if err := pgx.BeginFunc(ctx, w.sandbox, func(tx pgx.Tx) error { return execAll(ctx, tx, stmts) }); err != nil {
		return fmt.Errorf("build keys and indexes of the staged %s: %w", sl.rel.quoted, err)
	}
	sl.first.seconds += time.Since(start).Seconds()
	return nil
}

// splitChecksum takes the staged checksum of a split table, whose keys are built:
// a task of its own, so that it reads the table while another worker validates
// the table's foreign keys (the locks of the two do not conflict).
func (r *run) splitChecksum(sl *splitLoad) task {
	return func(ctx context.Context, w *worker) ([]task, error) {
		start := time.Now()
		err := pgx.BeginFunc(ctx, w.sandbox, func(tx pgx.Tx) error {
			var err error
			sl.first.staged, err = checksum(ctx, tx, sl.first.stagedSpec(), false)
			return err
		})
		if err != nil {
			return nil, err
		}
		sl.first.seconds += time.Since(start).Seconds()
		return nil, nil
	}
}

// finishBatch builds the batch's keys and indexes and takes the staged checksums.
func (r *run) finishBatch(ctx context.Context, tx pgx.Tx, b batch) error {
	var stmts []string
	for _, u := range b {
		if u.split != nil {
			continue // built once every part is in
		}
		s, err := u.rel.keyStatements()
		if err != nil {
			return err
		}
		stmts = append(stmts, s...)
	}
	if err := execAll(ctx, tx, stmts); err != nil {
		return fmt.Errorf("build keys and indexes of the staged tables: %w", err)
	}
	for _, u := range b {
		if u.spec == nil || u.split != nil {
			continue
		}
		var err error
		if u.staged, err = checksum(ctx, tx, u.stagedSpec(), false); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) copyUnit(ctx context.Context, w *worker, tx pgx.Tx, u *unit) error {
	sum, bytes, err := streamTable(ctx, w.prodTx.Conn().PgConn(), tx.Conn().PgConn(), u.spec, func(n int64) {
		r.loadProgress(u, n, false)
	})
	if err != nil {
		return err
	}
	u.production, u.rows, u.bytes = sum, sum.Rows, bytes
	r.loadProgress(u, bytes, true)
	return nil
}

// loadProgress reports a unit's bytes streamed so far, and the clone's total. Units
// load in parallel: TableIndex counts the units finished.
func (r *run) loadProgress(u *unit, n int64, done bool) {
	total := atomic.AddInt64(&r.copied, n-u.reported)
	u.reported = n
	p := Progress{Phase: "copy", Table: u.rel.quoted, Tables: r.unitCount, TableBytes: n, TotalBytes: total,
		TableDone: done, PlannedBytes: r.plannedBytes, TablePlannedBytes: u.size}
	if done {
		p.Rows = u.rows
		p.TableIndex = int(atomic.AddInt32(&r.unitsDone, 1))
	} else {
		p.TableIndex = int(atomic.LoadInt32(&r.unitsDone)) + 1
	}
	r.progress(p)
}

// stagedSpec is the unit's copy as the staged table holds it: the same columns, read
// from the staged table, for the sandbox side of the checksum.
func (u *unit) stagedSpec() *copySpec {
	s := *u.spec
	s.into, s.where = "", ""
	s.table = &table{name: tableName{stageSchema(u.rel.schema), u.rel.name}, kind: "r"}
	return &s
}

// Tables this large (and more than half a worker's fair share) are split between
// workers, so that one table does not load on one core while the others idle.
const splitMin = 64 << 20

// splitUnits splits the large cloned units into ranges of their production pages,
// about half a worker's share each. The first range is open below and the last open
// above, so that every row of the snapshot is in exactly one part whatever the
// table's size when it was measured.
func splitUnits(units []*unit, pages map[string]int64, jobs int, minSize int64) []*unit {
	var total int64
	for _, u := range units {
		total += u.size
	}
	share := total / int64(2*jobs)
	var out []*unit
	for _, u := range units {
		n := int64(0)
		if u.spec != nil && u.size >= minSize && share > 0 && u.size > share && pages[u.rel.quoted] > 1 {
			n = min((u.size+share-1)/share, int64(2*jobs), pages[u.rel.quoted])
		}
		if n < 2 {
			out = append(out, u)
			continue
		}
		out = append(out, splitUnit(u, n, pages[u.rel.quoted])...)
	}
	return out
}

func splitUnit(u *unit, n, pages int64) []*unit {
	sl := &splitLoad{rel: u.rel, parts: int(n)}
	sl.remaining.Store(int32(n))
	parts := make([]*unit, n)
	for i := range n {
		lo, hi := pages*i/n, pages*(i+1)/n
		spec := *u.spec
		var conds []string
		if i > 0 {
			conds = append(conds, fmt.Sprintf("ctid >= '(%d,0)'::tid", lo))
		}
		if i < n-1 {
			conds = append(conds, fmt.Sprintf("ctid < '(%d,0)'::tid", hi))
		}
		spec.where = strings.Join(conds, " AND ")
		parts[i] = &unit{rel: u.rel, spec: &spec, size: u.size / n, split: sl}
	}
	sl.first = parts[0]
	return parts
}
