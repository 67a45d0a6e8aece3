// Command clonebench runs one clone between two databases, for the benchmark in
// bench/clone.sh: it prints the report, and the progress on a terminal.
//
//	clonebench --from URL --to URL [--json] [--manifest FILE]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/gaiia/clonebot/cloner"
	"github.com/sirupsen/logrus"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "clonebench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("clonebench", flag.ContinueOnError)
	from := fs.String("from", "", "production database URL")
	to := fs.String("to", "", "sandbox database URL")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	manifest := fs.String("manifest", "", "manifest file (default: built-in)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return errors.New("--from and --to are required")
	}
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(logrus.WarnLevel)
	if os.Getenv("CLONEBENCH_DEBUG") != "" {
		log.SetLevel(logrus.DebugLevel)
	}
	cfg := cloner.Config{
		Instances: []cloner.Instance{
			{Name: "bench-prod", Tenant: "bench", Environment: cloner.Production, DatabaseURL: *from},
			{Name: "bench-sandbox", Tenant: "bench", Environment: cloner.Sandbox, DatabaseURL: *to},
		},
		Logger: logrus.NewEntry(log),
	}
	if *manifest != "" {
		m, err := cloner.LoadManifest(*manifest)
		if err != nil {
			return err
		}
		cfg.Manifest = m
	}
	c, err := cloner.New(cfg)
	if err != nil {
		return err
	}
	opts := cloner.Options{}
	if cloner.IsTerminal(os.Stderr) {
		opts.Progress = cloner.ProgressPrinter(os.Stderr, true)
	}
	rep, err := c.Clone(ctx, "bench-prod", "bench-sandbox", opts)
	if err != nil {
		return err
	}
	if *asJSON {
		rep.Export.JSON = nil
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return cloner.WriteReport(stdout, rep)
}
