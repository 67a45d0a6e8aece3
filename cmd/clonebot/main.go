// Command clonebot turns Zendesk tickets into verified production-to-sandbox
// configuration clones. See README.md for the subcommands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // tenants' time zones must resolve in a minimal container image too
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clonebot:", err)
	}
	os.Exit(exitCode(err))
}

// exitError carries a specific exit status (plan uses 2 for "clone not allowed").
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		return 1
	}
}

const usage = `Usage: clonebot <command> [flags]

Commands:
  serve     run the webhook server and the job workers
  migrate   create or upgrade the bot's own database
  plan      show the preflight plan of a clone (--from PROD --to SANDBOX), read only
  clone     clone production into a sandbox now (--from PROD --to SANDBOX --yes)
  demo      run the whole story on this machine with a local PostgreSQL
  version   print the version

Every command but demo and version reads the configuration from --config, or the
file named by CLONEBOT_CONFIG, or ./clonebot.yaml.
`

// run is the whole program, callable from tests with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2, err: errors.New("no command given")}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "plan":
		return runPlan(ctx, rest, getenv, stdout, stderr)
	case "clone":
		return runClone(ctx, rest, getenv, stdout, stderr)
	case "demo":
		return runDemo(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "clonebot", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2, err: fmt.Errorf("unknown command %q", cmd)}
	}
}
