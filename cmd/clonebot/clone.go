package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gaiia/clonebot/bot"
	"github.com/gaiia/clonebot/cloner"
)

// pairFlags are the flags plan and clone share.
type pairFlags struct {
	fs       *flag.FlagSet
	config   *string
	from, to *string
}

func newPairFlags(name string) pairFlags {
	fs, path := newFlags(name)
	return pairFlags{
		fs: fs, config: path,
		from: fs.String("from", "", "the production instance to copy (required)"),
		to:   fs.String("to", "", "the sandbox instance to replace (required)"),
	}
}

func (p pairFlags) parse(args []string) error {
	if err := parseFlags(p.fs, args); err != nil {
		return err
	}
	if *p.from == "" || *p.to == "" {
		return usageError(p.fs.Name(), "--from and --to are required")
	}
	return nil
}

// newCloner loads the instance settings and builds their cloner, logging on con.
func newCloner(path string, getenv func(string) string, con *console) (*cloner.Cloner, error) {
	cfg, err := loadInstances(path, getenv)
	if err != nil {
		return nil, err
	}
	log := newConsoleLogger(con)
	c, err := bot.NewCloner(cfg, bot.Options{Config: cfg, Logger: log})
	if err != nil { // a manifest that cannot be read or classifies wrongly: the configuration's
		return nil, &exitError{code: 2, err: err}
	}
	return c, nil
}

// runPlan prints the preflight plan, for a person or (--json) for a program;
// exit 2 when the clone would be refused.
func runPlan(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	p := newPairFlags("plan")
	asJSON := p.fs.Bool("json", false, "print the plan as one JSON object (described in docs/plan-json.md)")
	if err := p.parse(args); err != nil {
		return err
	}
	c, err := newCloner(*p.config, getenv, newConsole(stderr))
	if err != nil {
		return err
	}
	plan, err := c.Plan(ctx, *p.from, *p.to)
	if err != nil {
		return interrupted(ctx, err, "plan")
	}
	write := writePlan
	if *asJSON {
		write = writePlanJSON
	}
	if err := write(stdout, plan); err != nil {
		return err
	}
	if !plan.OK() {
		return &exitError{code: 2, err: fmt.Errorf("a clone of %s into %s would be refused (%s above)", *p.from, *p.to, plural(int64(len(plan.Problems)), "problem", "problems"))}
	}
	return nil
}

// runClone runs an operator's immediate clone: progress on stderr, the report on
// stdout. The sandbox export goes to --export-dir, else to a new temporary
// directory the report names (removed again when there was nothing to save or
// the clone failed: then the sandbox is unchanged).
func runClone(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	p := newPairFlags("clone")
	yes := p.fs.Bool("yes", false, "confirm that the sandbox may be wiped (required)")
	jobs := p.fs.Int("jobs", 0, "tables loaded at once (default: clone.jobs in the configuration, else the cores available)")
	exportDir := p.fs.String("export-dir", "", "directory (created if missing) for the sandbox export: a zip per category of every sandbox row the clone deletes or overwrites (default: a new temporary directory, named in the report)")
	if err := p.parse(args); err != nil {
		return err
	}
	if *jobs < 0 {
		return usageError("clone", "--jobs must be a positive number")
	}
	if !*yes {
		return usageError("clone", fmt.Sprintf("clone wipes %s; run it again with --yes to confirm", *p.to))
	}
	con := newConsole(stderr)
	c, err := newCloner(*p.config, getenv, con)
	if err != nil {
		return err
	}
	dir, temporary, err := exportDirectory(*exportDir, *p.to)
	if err != nil {
		return err
	}
	prog := newProgress(con, time.Now)
	report, err := c.Clone(ctx, *p.from, *p.to, cloner.Options{Progress: prog.update, Jobs: *jobs, ExportDir: dir})
	prog.stop(err)
	if temporary && (err != nil || report.Export.Rows == 0) {
		os.RemoveAll(dir)
		if report != nil {
			report.Export.Dir = ""
		}
	}
	switch {
	case err == nil:
		return writeReport(stdout, report)
	case errors.Is(err, cloner.ErrRefused):
		return &exitError{code: 2, err: err}
	case errors.Is(err, cloner.ErrBusy):
		return &exitError{code: 3, err: err}
	case ctx.Err() != nil:
		return &exitError{code: 130, err: fmt.Errorf("interrupted: the clone of %s into %s was stopped and rolled back; the sandbox is unchanged", *p.from, *p.to)}
	}
	return fmt.Errorf("clone %s into %s: %w (the sandbox is unchanged)", *p.from, *p.to, err)
}

// exportDirectory makes the directory the export is written to: dir, created if
// missing, or a new temporary one.
func exportDirectory(dir, sandbox string) (path string, temporary bool, err error) {
	if dir == "" {
		path, err := os.MkdirTemp("", "clonebot-export-"+sandbox+"-")
		if err != nil {
			return "", false, fmt.Errorf("make a directory for the sandbox export: %w (name one with --export-dir)", err)
		}
		return path, true, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("--export-dir: %w", err)
	}
	return dir, false, nil
}

// interrupted turns the error of a command stopped by a signal into a plain
// message, exit 130.
func interrupted(ctx context.Context, err error, what string) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	return &exitError{code: 130, err: fmt.Errorf("interrupted: %s stopped before it finished", what)}
}
