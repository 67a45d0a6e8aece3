package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/natsort"
)

// runRollback restores a sandbox from the copy its latest clone kept, or lists the
// copies kept (--list). Exit codes as for clone: 2 refused, 3 busy, 130 interrupted.
func runRollback(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, path := newFlags("rollback")
	to := fs.String("to", "", "the sandbox to restore (required unless --list)")
	yes := fs.Bool("yes", false, "confirm that the sandbox's changes since its clone may be lost (required)")
	listOnly := fs.Bool("list", false, "list what can be restored, and until when")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !*listOnly && *to == "" {
		return usageError("rollback", "--to is required, or --list")
	}
	if !*listOnly && !*yes {
		return usageError("rollback", fmt.Sprintf("rollback replaces %s with its pre-clone copy, losing every change made since the clone; run it again with --yes to confirm", *to))
	}
	con := newConsole(stderr)
	c, err := newCloner(*path, getenv, con)
	if err != nil {
		return err
	}
	if *listOnly {
		return listCopies(ctx, c, *to, stdout)
	}
	prog := newProgress(con, time.Now)
	rep, err := c.Rollback(ctx, *to, cloner.RollbackOptions{Progress: prog.update})
	prog.stop(err)
	switch {
	case err == nil:
		return writeRollback(stdout, rep)
	case errors.Is(err, cloner.ErrRefused):
		return &exitError{code: 2, err: err}
	case errors.Is(err, cloner.ErrBusy):
		return &exitError{code: 3, err: err}
	case ctx.Err() != nil:
		return &exitError{code: 130, err: fmt.Errorf("interrupted: the rollback of %s was stopped and undone; the sandbox is unchanged", *to)}
	}
	return fmt.Errorf("rollback %s: %w (the sandbox is unchanged)", *to, err)
}

// listCopies writes each sandbox's kept copy; a sandbox that does not answer is
// reported after the others.
func listCopies(ctx context.Context, c *cloner.Cloner, to string, stdout io.Writer) error {
	names := c.Sandboxes()
	if to != "" {
		names = []string{to}
	}
	copies, err := c.RollbackCopies(ctx, names...)
	ew := &errWriter{w: stdout}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "sandbox\tcloned from\tclone\ttaken\trestorable until\tsize\t\n")
	natsort.Strings(names)
	for _, name := range names {
		rc, ok := copies[name]
		switch {
		case !ok:
			continue
		case rc == nil:
			fmt.Fprintf(tw, "%s\t-\t-\t-\tnothing kept\t-\t\n", name)
		default:
			until := rc.ExpiresAt.UTC().Format("2006-01-02 15:04 MST")
			if rc.Expired(time.Now()) {
				until = "expired " + until
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", name, rc.From, rc.CloneID, rc.TakenAt.UTC().Format("2006-01-02 15:04 MST"), until, cloner.HumanBytes(rc.Bytes))
		}
	}
	tw.Flush()
	if ew.err != nil {
		return ew.err
	}
	return interrupted(ctx, err, "rollback --list")
}

// writeRollback writes the evidence of a rollback for a person.
func writeRollback(w io.Writer, r *cloner.RollbackReport) error {
	ew := &errWriter{w: w}
	ew.printf("Rollback of %s: verified and committed in %.2fs\n", r.To, r.Seconds)
	ew.printf("Restored the sandbox as it was at %s, before the clone from %s (clone %s); changes made since are gone.\n",
		r.Copy.TakenAt.UTC().Format("2006-01-02 15:04:05 MST"), r.Copy.From, r.Copy.CloneID)
	matched := 0
	for _, t := range r.Tables {
		if t.Match {
			matched++
		}
	}
	ew.printf("Verification: %s restored, %s, %s the kept copy (rows and checksum), %s advanced\n",
		plural(int64(len(r.Tables)), "table", "tables"), plural(r.Rows, "row", "rows"),
		plural(int64(matched), "table matches", "tables match"), plural(int64(len(r.Sequences)), "sequence", "sequences"))
	if len(r.Refreshed) > 0 {
		ew.printf("Materialized views refreshed: %s\n", strings.Join(r.Refreshed, ", "))
	}
	return ew.err
}
