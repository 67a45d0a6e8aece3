// Command clonebot turns Zendesk tickets into verified production-to-sandbox
// configuration clones. See README.md for the subcommands.
//
// serve logs JSON lines on stdout. The commands an operator runs by hand write
// their result (a plan, a report) on stdout and everything else (progress, warnings,
// errors) as plain text on stderr, so that no JSON log line lands in the middle of
// human output.
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

	// The image has no CA certificates of its own: where the system has none,
	// Zendesk's certificate is checked against this bundle of Mozilla's roots.
	_ "golang.org/x/crypto/x509roots/fallback"
)

// version and commit are set at build time with
// -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clonebot:", err)
	}
	os.Exit(exitCode(err))
}

// exitError carries a specific exit status: 2 for a usage error or a refused
// clone, 3 for a busy sandbox, 130 for an interruption.
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

// command is one subcommand.
type command struct {
	name     string
	synopsis string // the arguments, after "clonebot NAME"
	summary  string // one line for the command list
	run      func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "[--config FILE] [--listen ADDR]", "run the webhook server and the job workers", runServe},
		{"migrate", "[--config FILE]", "create or upgrade the bot's own database", runMigrate},
		{"plan", "--from PROD --to SANDBOX [--json] [--config FILE]", "show the preflight plan of a clone, read only", runPlan},
		{"clone", "--from PROD --to SANDBOX --yes [--export-dir DIR] [--jobs N] [--config FILE]", "clone production into a sandbox now", runClone},
		{"rollback", "--to SANDBOX --yes | --list [--to SANDBOX] [--config FILE]", "restore a sandbox as it was before its latest clone, or list what can be restored", runRollback},
		{"enroll", "--instance NAME [--force] [--config FILE]", "write an instance's marker into its database", runEnroll},
		{"health", "[--url URL] [--config FILE]", "check that a running serve is ready (the container's health check)", runHealth},
		{"trust", "--pem FILE | --url https://HOST", "check that this binary trusts a certificate chain", runTrust},
		{"demo", "[-v] [--keep] [--postgres URL]", "run the whole story on this machine with a local PostgreSQL", runDemo},
		{"version", "", "print the version", runVersion},
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func writeUsage(w io.Writer) {
	fmt.Fprint(w, "Usage: clonebot <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s  %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
serve, migrate, plan, clone, rollback and enroll read the configuration from --config,
or the file named by $CLONEBOT_CONFIG, or ./clonebot.yaml. plan, clone, rollback and
enroll need only the instance settings (tenants, manifest), not the Zendesk
credentials.
Run 'clonebot <command> --help' for a command's flags.
`)
}

// run is the whole program, callable from tests with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		writeUsage(stderr)
		return &exitError{code: 2, err: errors.New("no command given")}
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "--help", "-h":
		if len(rest) > 0 {
			return run(ctx, []string{rest[0], "--help"}, getenv, stdout, stderr)
		}
		writeUsage(stdout)
		return nil
	case "--version", "-v":
		name = "version"
	}
	cmd, ok := lookup(name)
	if !ok {
		return &exitError{code: 2, err: fmt.Errorf("unknown command %q; run 'clonebot --help' for the list", name)}
	}
	err := cmd.run(ctx, rest, getenv, stdout, stderr)
	var help *helpRequest
	if errors.As(err, &help) {
		help.write(stdout, cmd)
		return nil
	}
	return err
}

func runVersion(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "clonebot %s (commit %s)\n", version, commit)
	return nil
}
