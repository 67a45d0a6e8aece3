package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gaiia/clonebot/bot"
	"github.com/gaiia/clonebot/cloner"
)

// pairFlags are the flags plan and clone share.
type pairFlags struct {
	fs       *flag.FlagSet
	config   *string
	from, to *string
}

func newPairFlags(name string, stderr io.Writer) pairFlags {
	fs, path := newFlags(name, stderr)
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
		return &exitError{code: 2, err: fmt.Errorf("%s: --from and --to are required", p.fs.Name())}
	}
	return nil
}

// newCloner loads the configuration and builds its cloner, logging to stderr.
func newCloner(path string, getenv func(string) string, stderr io.Writer) (*cloner.Cloner, error) {
	cfg, err := loadConfig(path, getenv)
	if err != nil {
		return nil, err
	}
	log := newLogger(stderr, "warn")
	return bot.NewCloner(cfg, bot.Options{Config: cfg, Logger: log})
}

// runPlan prints the preflight plan; exit 2 when the clone would be refused.
func runPlan(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	p := newPairFlags("plan", stderr)
	if err := p.parse(args); err != nil {
		return err
	}
	c, err := newCloner(*p.config, getenv, stderr)
	if err != nil {
		return err
	}
	plan, err := c.Plan(ctx, *p.from, *p.to)
	if err != nil {
		return err
	}
	if err := cloner.WritePlan(stdout, plan); err != nil {
		return err
	}
	if !plan.OK() {
		return &exitError{code: 2, err: fmt.Errorf("a clone of %s into %s would be refused (%d problems above)", *p.from, *p.to, len(plan.Problems))}
	}
	return nil
}

// runClone runs an operator's immediate clone.
func runClone(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	p := newPairFlags("clone", stderr)
	yes := p.fs.Bool("yes", false, "confirm that the sandbox may be wiped (required)")
	if err := p.parse(args); err != nil {
		return err
	}
	if !*yes {
		return &exitError{code: 2, err: fmt.Errorf("clone wipes %s; run it again with --yes to confirm", *p.to)}
	}
	c, err := newCloner(*p.config, getenv, stderr)
	if err != nil {
		return err
	}
	terminal := false
	if f, ok := stderr.(*os.File); ok {
		terminal = cloner.IsTerminal(f)
	}
	report, err := c.Clone(ctx, *p.from, *p.to, cloner.Options{Progress: cloner.ProgressPrinter(stderr, terminal)})
	if errors.Is(err, cloner.ErrRefused) {
		return &exitError{code: 2, err: err}
	}
	if errors.Is(err, cloner.ErrBusy) {
		return &exitError{code: 3, err: err}
	}
	if err != nil {
		return fmt.Errorf("clone %s into %s: %w (the sandbox is unchanged)", *p.from, *p.to, err)
	}
	return cloner.WriteReport(stdout, report)
}
