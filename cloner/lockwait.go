package cloner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Sides of a clone, for WaitError.
const (
	sideProduction = "production"
	sideSandbox    = "sandbox"
)

// WaitError says a statement of a clone gave up: waiting for a lock another
// session holds (lock_timeout), or running too long (statement_timeout). It names
// the tables and, where PostgreSQL can tell, the sessions that held them.
type WaitError struct {
	Side     string // production or sandbox
	Instance string
	Tables   []string
	// Lock is true for lock_timeout, false for statement_timeout.
	Lock     bool
	After    time.Duration
	Blockers []Blocker
	Err      error

	idents []string // the tables as SQL identifiers
}

// Blocker is a session holding (or first in line for) a lock on a table a clone
// waited for.
type Blocker struct {
	PID             int
	ApplicationName string
	User            string
	Table           string
	Mode            string // e.g. AccessExclusiveLock
	Granted         bool   // false: waiting for it, ahead of the clone
	For             time.Duration
}

func (e *WaitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s %s: ", e.Side, e.Instance, plural(len(e.Tables), "table", "tables"), strings.Join(e.Tables, ", "))
	if e.Lock {
		fmt.Fprintf(&b, "gave up waiting %s for a lock (instance_timeouts.lock)", e.After)
	} else {
		fmt.Fprintf(&b, "the statement ran out of its %s (instance_timeouts.statement)", e.After)
	}
	if len(e.Blockers) == 0 {
		if e.Lock {
			b.WriteString("; the session holding it was gone before it could be named")
		}
		return b.String()
	}
	b.WriteString(", blocked by ")
	for i, bl := range e.Blockers {
		if i > 0 {
			b.WriteString("; ")
		}
		how := "holding"
		if !bl.Granted {
			how = "queued first for"
		}
		fmt.Fprintf(&b, "pid %d (application_name %q, user %s) %s %s on %s, its transaction open for %s",
			bl.PID, bl.ApplicationName, bl.User, how, bl.Mode, bl.Table, bl.For.Round(time.Second))
	}
	return b.String()
}

func (e *WaitError) Unwrap() error { return e.Err }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// waited turns err into a *WaitError when a statement on tables (given as SQL
// identifiers, named for people in names) gave up waiting; any other error is
// returned as it is.
func waited(err error, side string, names, idents []string) error {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return err
	}
	switch {
	case pg.Code == "55P03": // lock_not_available
		return &WaitError{Side: side, Tables: names, idents: idents, Lock: true, Err: err}
	case pg.Code == "57014" && strings.Contains(pg.Message, "statement timeout"):
		return &WaitError{Side: side, Tables: names, idents: idents, Err: err}
	}
	return err
}

// explainWait completes a *WaitError in err with the instance and, reading its
// locks from a new session, the sessions in the way. err is returned as it is
// when it is no such error.
func (c *Cloner) explainWait(ctx context.Context, src, dst Instance, err error) error {
	var we *WaitError
	if !errors.As(err, &we) || we.Instance != "" {
		return err
	}
	// The wrappers' texts were written with the error as it was: keep what they
	// say the clone was doing, and say the rest again.
	doing := strings.TrimSuffix(err.Error(), we.Error())
	in := dst
	if we.Side == sideProduction {
		in = src
	}
	we.Instance = in.Name
	we.After = c.statementTimeout
	if we.Lock {
		we.After = c.lockTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	blockers, berr := c.blockers(ctx, in, we)
	if berr != nil {
		c.log.WithError(berr).Warn("could not name the sessions a clone waited for")
	}
	we.Blockers = blockers
	return fmt.Errorf("%s%w", doing, we)
}

// blockersSQL lists the sessions holding a lock, or queued for one, that conflicts
// with what the clone needed: on production a read of the tables, which only
// ACCESS EXCLUSIVE blocks; on the sandbox, where the clone rebuilds and truncates
// every table (a foreign key locks the table it references too), any lock on a
// table. The statement's own tables come first.
const blockersSQL = `WITH named AS (SELECT to_regclass(t) AS rel FROM unnest($1::text[]) t)
SELECT (SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = l.relation), a.pid, coalesce(a.application_name, ''), coalesce(a.usename, ''),
	l.mode, l.granted, extract(epoch FROM now() - coalesce(a.xact_start, a.query_start, a.backend_start))::float8
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND a.pid <> pg_backend_pid() AND (l.granted OR l.mode = 'AccessExclusiveLock')
  AND (l.relation IN (SELECT rel FROM named) AND ($2::boolean OR l.mode = 'AccessExclusiveLock')
    OR $2::boolean AND l.relation IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'))
ORDER BY l.relation IN (SELECT rel FROM named) DESC, l.granted DESC, a.xact_start NULLS LAST, a.pid
LIMIT 5`

func (c *Cloner) blockers(ctx context.Context, in Instance, we *WaitError) ([]Blocker, error) {
	conn, err := c.connectTo(ctx, in)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, blockersSQL, we.idents, we.Side == sideSandbox)
	if err != nil {
		return nil, fmt.Errorf("read the locks of %s: %w", in.Name, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Blocker, error) {
		var b Blocker
		var secs float64
		err := r.Scan(&b.Table, &b.PID, &b.ApplicationName, &b.User, &b.Mode, &b.Granted, &secs)
		b.For = time.Duration(secs * float64(time.Second))
		return b, err
	})
}
