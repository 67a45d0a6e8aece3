package cloner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
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
	reported           int64 // bytes already counted in the clone's progress
}

// worker holds one production connection on the clone's snapshot and one sandbox
// connection.
type worker struct {
	prod    *pgx.Conn
	prodTx  pgx.Tx
	sandbox *pgx.Conn
}

// loadSettings are every staged load transaction's.
func (r *run) loadSettings() []string {
	return append([]string{
		fmt.Sprintf("SET LOCAL lock_timeout = %d", r.c.lockTimeout.Milliseconds()),
		"SET LOCAL maintenance_work_mem = '256MB'",
		"SET LOCAL standard_conforming_strings = on",
		"SET LOCAL synchronous_commit = off",
	}, textSettings...)
}

// loadUnit copies, indexes and checksums one unit in one sandbox transaction.
// TRUNCATE in the same transaction lets COPY write frozen rows; the production
// checksum runs on the production connection while the sandbox builds the indexes.
func (r *run) loadUnit(ctx context.Context, w *worker, u *unit) error {
	start := time.Now()
	tx, err := w.sandbox.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin staged load of %s: %w", u.rel.quoted, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
	if err := applySettings(ctx, tx, r.loadSettings()); err != nil {
		return err
	}
	var prodSum chan checksumOutcome
	if u.spec != nil {
		if _, err := tx.Exec(ctx, "TRUNCATE "+u.rel.stagedIdent()); err != nil {
			return fmt.Errorf("prepare staged table for %s: %w", u.rel.quoted, err)
		}
		if err := r.copyUnit(ctx, w, tx, u); err != nil {
			return err
		}
		prodSum = make(chan checksumOutcome, 1)
		go func() {
			sum, err := checksum(ctx, w.prodTx, u.spec, true)
			prodSum <- checksumOutcome{sum, err}
		}()
	}
	err = r.buildKeys(ctx, tx, u.rel)
	if err == nil && u.spec != nil {
		u.staged, err = checksum(ctx, tx, u.stagedSpec(), false)
	}
	if prodSum != nil {
		got := <-prodSum
		if err == nil {
			u.production, err = got.sum, got.err
		}
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit staged table for %s: %w", u.rel.quoted, err)
	}
	u.seconds = time.Since(start).Seconds()
	return nil
}

type checksumOutcome struct {
	sum Checksum
	err error
}

func (r *run) copyUnit(ctx context.Context, w *worker, tx pgx.Tx, u *unit) error {
	rows, bytes, err := streamTable(ctx, w.prodTx.Conn().PgConn(), tx.Conn().PgConn(), u.spec, func(n int64) {
		r.loadProgress(u, n, false)
	})
	if err != nil {
		return err
	}
	u.rows, u.bytes = rows, bytes
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

func (r *run) buildKeys(ctx context.Context, tx pgx.Tx, rel *relation) error {
	stmts, err := rel.keyStatements()
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("build %s on the staged %s: %w", s, rel.quoted, err)
		}
	}
	return nil
}

// stagedSpec is the unit's copy as the staged table holds it: the same columns, read
// from the staged table, for the sandbox side of the checksum.
func (u *unit) stagedSpec() *copySpec {
	s := *u.spec
	s.into = ""
	s.table = &table{name: tableName{stageSchema(u.rel.schema), u.rel.name}, kind: "r"}
	return &s
}

// runUnits runs fn for every unit on the workers, the largest units first. The first
// error cancels the rest and is returned.
func runUnits[T any](ctx context.Context, workers []*worker, items []T, fn func(context.Context, *worker, T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan T)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range next {
				if err := fn(ctx, w, it); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case next <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// bySizeDesc orders units largest first, so the longest ones never start last.
func bySizeDesc(units []*unit) []*unit {
	out := slices.Clone(units)
	slices.SortStableFunc(out, func(a, b *unit) int {
		switch {
		case a.size > b.size:
			return -1
		case a.size < b.size:
			return 1
		}
		return 0
	})
	return out
}
