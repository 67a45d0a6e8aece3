package cloner

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"
)

// task is one piece of a swap's load, run by a worker. Finishing it can make others
// runnable: the keys of a partitioned table once its partitions are in, a foreign key
// once both its tables are.
type task func(ctx context.Context, w *worker) ([]task, error)

// runTasks runs tasks on the workers, and the tasks they make runnable, until none
// is left or one fails; the first failure cancels the others and is returned.
func runTasks(ctx context.Context, workers []*worker, initial []task) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := &taskQueue{queue: initial}
	q.cond = sync.NewCond(&q.mu)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.work(ctx, cancel, w)
		}()
	}
	wg.Wait()
	if q.err != nil {
		return q.err
	}
	return ctx.Err()
}

type taskQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []task
	running int
	err     error
}

func (q *taskQueue) work(ctx context.Context, cancel context.CancelFunc, w *worker) {
	for {
		t, ok := q.next()
		if !ok {
			return
		}
		more, err := t(ctx, w)
		q.mu.Lock()
		q.running--
		if err != nil && q.err == nil {
			q.err = err
			cancel()
		}
		if q.err == nil {
			// What a task makes runnable (keys, foreign keys, checksums of tables
			// just loaded) goes first: the tables still queued can run beside it,
			// while it, queued behind them, would be the clone's tail.
			q.queue = append(more, q.queue...)
		}
		q.cond.Broadcast()
		q.mu.Unlock()
	}
}

// next waits for a task; false when every task is done or one failed.
func (q *taskQueue) next() (task, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) == 0 && q.running > 0 && q.err == nil {
		q.cond.Wait()
	}
	if q.err != nil || len(q.queue) == 0 {
		return nil, false
	}
	t := q.queue[0]
	q.queue = q.queue[1:]
	q.running++
	return t, true
}

// loadTracker knows which staged relations have their rows and keys, and starts
// what waits for them: a partitioned table's keys when its last partition is in, a
// foreign key when both its tables are ready. Foreign keys so validate while other
// tables still load.
type loadTracker struct {
	r   *run
	set *stagedSet

	mu        sync.Mutex
	ready     map[uint32]bool
	leaves    map[uint32]int // partitioned roots: leaves not yet in
	pending   []pendingKey   // foreign keys not yet started
	validated int
}

type pendingKey struct {
	rel *relation
	fk  foreignKeyDef
}

func newLoadTracker(r *run, set *stagedSet) *loadTracker {
	t := &loadTracker{r: r, set: set, ready: map[uint32]bool{}, leaves: map[uint32]int{}}
	for _, rel := range set.rels {
		if rel.kind != "p" && rel.parent != 0 {
			t.leaves[set.root(rel).oid]++
		}
		for _, fk := range rel.foreignKeys {
			if !fk.attached && !fk.carried {
				t.pending = append(t.pending, pendingKey{rel, fk})
			}
		}
	}
	return t
}

// initial are the tasks that wait for nothing but the load: partitioned tables
// without partitions build their keys at once.
func (t *loadTracker) initial() []task {
	var out []task
	for _, rel := range t.set.rels {
		if rel.kind == "p" && rel.parent == 0 && t.leaves[rel.oid] == 0 {
			out = append(out, t.treeKeys(rel))
		}
	}
	return out
}

// loaded records that a plain table or partition has its rows and keys.
func (t *loadTracker) loaded(rel *relation) []task {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ready[rel.oid] = true
	var out []task
	if rel.parent != 0 {
		root := t.set.root(rel)
		if t.leaves[root.oid]--; t.leaves[root.oid] == 0 {
			out = append(out, t.treeKeys(root))
		}
	}
	return append(out, t.startable()...)
}

// startable takes the pending foreign keys whose tables are both ready. The caller
// holds mu.
func (t *loadTracker) startable() []task {
	var out []task
	t.pending = slices.DeleteFunc(t.pending, func(p pendingKey) bool {
		if !t.ready[p.rel.oid] || !t.ready[p.fk.target] {
			return false
		}
		out = append(out, t.foreignKey(p.rel, p.fk))
		return true
	})
	return out
}

// treeKeys builds the keys and indexes of a partitioned table and of the
// partitioned tables under it, deepest first: each attaches its partitions'.
func (t *loadTracker) treeKeys(root *relation) task {
	return func(ctx context.Context, w *worker) ([]task, error) {
		var stmts []string
		for i := len(t.set.rels) - 1; i >= 0; i-- {
			rel := t.set.rels[i]
			if rel.kind != "p" || t.set.root(rel) != root {
				continue
			}
			s, err := rel.keyStatements()
			if err != nil {
				return nil, err
			}
			stmts = append(stmts, s...)
		}
		err := pgx.BeginFunc(ctx, w.sandbox, func(tx pgx.Tx) error { return execAll(ctx, tx, stmts) })
		if err != nil {
			return nil, fmt.Errorf("build the keys of partitioned table %s: %w", root.quoted, err)
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, rel := range t.set.rels {
			if rel.kind == "p" && t.set.root(rel) == root {
				t.ready[rel.oid] = true
			}
		}
		return t.startable(), nil
	}
}

// foreignKey adds one foreign key between staged tables and validates it. The add
// locks both tables, in oid order so that two adds cannot deadlock; the
// validation locks only against other validations of the same table.
func (t *loadTracker) foreignKey(rel *relation, fk foreignKeyDef) task {
	return func(ctx context.Context, w *worker) ([]task, error) {
		if t.r.opts.beforeForeignKey != nil {
			t.r.opts.beforeForeignKey()
		}
		stmt, validate, err := t.set.foreignKeyStatement(rel, fk)
		if err != nil {
			return nil, err
		}
		stmts := []string{t.lockPair(rel, fk), stmt}
		if fk.comment != nil {
			stmts = append(stmts, "COMMENT ON CONSTRAINT "+quoteIdent(fk.name)+" ON "+rel.stagedIdent()+" IS "+quoteLiteral(*fk.comment))
		}
		if err := pgx.BeginFunc(ctx, w.sandbox, func(tx pgx.Tx) error { return execAll(ctx, tx, stmts) }); err != nil {
			return nil, fmt.Errorf("add foreign key %s to the staged %s: %w", fk.name, rel.quoted, err)
		}
		if validate {
			v := "ALTER TABLE " + rel.stagedIdent() + " VALIDATE CONSTRAINT " + quoteIdent(fk.name)
			if _, err := w.sandbox.Exec(ctx, v); err != nil {
				return nil, fmt.Errorf("%s: %w", v, err)
			}
		}
		t.mu.Lock()
		t.validated++
		t.mu.Unlock()
		return nil, nil
	}
}

func (t *loadTracker) lockPair(rel *relation, fk foreignKeyDef) string {
	pair := []*relation{rel, t.set.byOID[fk.target]}
	slices.SortFunc(pair, func(a, b *relation) int { return cmp.Compare(a.oid, b.oid) })
	return "LOCK TABLE " + pair[0].stagedIdent() + ", " + pair[1].stagedIdent() + " IN SHARE ROW EXCLUSIVE MODE"
}

// unfinished names the foreign keys that never started: a bug if any.
func (t *loadTracker) unfinished() error {
	if len(t.pending) == 0 {
		return nil
	}
	p := t.pending[0]
	return fmt.Errorf("foreign key %s of %s was never added: its tables were not both loaded", p.fk.name, p.rel.quoted)
}
