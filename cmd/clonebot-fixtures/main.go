// Command clonebot-fixtures creates and fills instance databases shaped like the
// platform's, for demos, tests and benchmarks.
//
//	clonebot-fixtures create --url URL [--kind production|sandbox] [--seed N] [--config-mb N] [--customer-mb N] [--recreate]
//
// The database named in URL is created if missing, given the instance schema and
// filled by the generator, then marked as complete. A database that a previous run
// completed is left as it is, so the command can run at every start of a compose
// project; --recreate drops it first. An interrupted run (Ctrl-C, SIGTERM) drops the
// database it created, so the next run starts afresh.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/fixtures"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clonebot-fixtures:", err)
	}
	os.Exit(exitCode(err))
}

const usage = `Usage: clonebot-fixtures create --url URL [flags]

Creates the database named in URL if it is missing, applies the platform's schema
and fills it with generated data. A database a previous run completed is left as
it is (exit 0); --recreate drops it first.
`

// exitError carries an exit status: 2 for a usage error, 130 for an interruption.
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

func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format+" (see 'clonebot-fixtures create --help')", args...)}
}

// options are create's flags, checked before anything is created.
type options struct {
	url      string
	db       string // the database named in url
	gen      fixtures.GenerateOptions
	recreate bool
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError("no command given")
	}
	switch args[0] {
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	case "create":
	default:
		return usageError("unknown command %q", args[0])
	}
	fs := newFlags()
	o, err := parse(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage+"\nFlags:\n")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	if err != nil {
		return err
	}
	return create(ctx, o, stdout)
}

func newFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by main
	fs.String("url", "", "database URL, e.g. postgres://postgres@127.0.0.1:5432/acme_prod (required)")
	fs.String("kind", string(fixtures.Production), "production or sandbox")
	fs.Int64("seed", 1, "seed of the generated data")
	fs.Float64("config-mb", 2, "approximate size of the configuration tables, MB")
	fs.Float64("customer-mb", 2, "approximate size of customer data and live state, MB (production only)")
	fs.Bool("recreate", false, "drop the database first if it exists")
	return fs
}

// parse reads and checks the flags; nothing is created before they are all valid.
func parse(fs *flag.FlagSet, args []string) (options, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return options{}, err
		}
		return options{}, usageError("create: %v", err)
	}
	if fs.NArg() > 0 {
		return options{}, usageError("create: unexpected argument %q", fs.Arg(0))
	}
	get := func(name string) flag.Getter { return fs.Lookup(name).Value.(flag.Getter) }
	o := options{url: get("url").Get().(string), recreate: get("recreate").Get().(bool)}
	o.gen = fixtures.GenerateOptions{
		Kind:          fixtures.Kind(get("kind").Get().(string)),
		Seed:          get("seed").Get().(int64),
		ConfigBytes:   int64(get("config-mb").Get().(float64) * (1 << 20)),
		CustomerBytes: int64(get("customer-mb").Get().(float64) * (1 << 20)),
	}
	switch {
	case o.url == "":
		return o, usageError("create: --url is required")
	case o.gen.Kind != fixtures.Production && o.gen.Kind != fixtures.Sandbox:
		return o, usageError("create: --kind must be production or sandbox, not %q", o.gen.Kind)
	case o.gen.ConfigBytes <= 0 || o.gen.CustomerBytes < 0:
		return o, usageError("create: --config-mb must be above 0 and --customer-mb at least 0")
	}
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return o, usageError("create: --url must be a postgres:// URL")
	}
	if o.db = strings.TrimPrefix(u.Path, "/"); o.db == "" || strings.Contains(o.db, "/") {
		return o, usageError("create: --url must name a database, e.g. postgres://postgres@127.0.0.1:5432/acme_prod")
	}
	return o, nil
}

func create(ctx context.Context, o options, stdout io.Writer) error {
	admin, err := connectAdmin(ctx, o.url)
	if err != nil {
		return err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	state, err := prepare(ctx, admin, o)
	if err != nil {
		return err
	}
	if state == complete {
		fmt.Fprintf(stdout, "%s already holds a generated instance; left as it is (--recreate rebuilds it)\n", o.db)
		return nil
	}
	start := time.Now()
	err = fill(ctx, admin, o)
	if err != nil && state == created {
		// An interrupted or failed run leaves nothing half made behind.
		if _, dropErr := admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+pgx.Identifier{o.db}.Sanitize()+" WITH (FORCE)"); dropErr != nil {
			err = errors.Join(err, fmt.Errorf("drop the unfinished database %s: %w", o.db, dropErr))
		}
	}
	if err != nil && ctx.Err() != nil {
		if state == created {
			return &exitError{code: 130, err: fmt.Errorf("interrupted: %s was not finished and has been dropped", o.db)}
		}
		return &exitError{code: 130, err: fmt.Errorf("interrupted: %s was not finished; run again with --recreate", o.db)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated %s instance %s in %s\n", o.gen.Kind, o.db, time.Since(start).Round(time.Millisecond))
	return nil
}

// connectAdmin connects to the server's maintenance database.
func connectAdmin(ctx context.Context, dbURL string) (*pgx.Conn, error) {
	u, _ := url.Parse(dbURL) // parse checked it
	u.Path = "/postgres"
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("connect to the maintenance database: %w", err)
	}
	return admin, nil
}

type dbState int

const (
	created  dbState = iota // this run created it
	empty                   // it existed without tables
	complete                // a previous run filled it
)

// marker is the database comment a finished run leaves.
const marker = "clonebot-fixtures: complete"

// prepare creates the database if it is missing (dropping it first with
// --recreate) and says what state it is in.
func prepare(ctx context.Context, admin *pgx.Conn, o options) (dbState, error) {
	ident := pgx.Identifier{o.db}.Sanitize()
	if o.recreate {
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			return 0, fmt.Errorf("drop database %s: %w", o.db, err)
		}
	}
	var comment *string
	err := admin.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", o.db).Scan(&comment)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
			return 0, fmt.Errorf("create database %s: %w", o.db, err)
		}
		return created, nil
	case err != nil:
		return 0, fmt.Errorf("look up database %s: %w", o.db, err)
	case comment != nil && *comment == marker:
		return complete, nil
	}
	return checkEmpty(ctx, o)
}

// checkEmpty accepts an existing database without tables, and refuses one that
// holds anything: it was not made by this command, or a run of it was cut short.
func checkEmpty(ctx context.Context, o options) (dbState, error) {
	conn, err := pgx.Connect(ctx, o.url)
	if err != nil {
		return 0, fmt.Errorf("connect to %s: %w", o.db, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var tables int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')").Scan(&tables); err != nil {
		return 0, fmt.Errorf("inspect %s: %w", o.db, err)
	}
	if tables > 0 {
		return 0, fmt.Errorf("database %s exists and holds %d tables that clonebot-fixtures did not finish; run again with --recreate to rebuild it", o.db, tables)
	}
	return empty, nil
}

// fill applies the schema, generates the data and marks the database complete.
func fill(ctx context.Context, admin *pgx.Conn, o options) error {
	if err := fixtures.ApplySchema(ctx, o.url); err != nil {
		return err
	}
	if err := fixtures.Generate(ctx, o.url, o.gen); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "COMMENT ON DATABASE "+pgx.Identifier{o.db}.Sanitize()+" IS '"+marker+"'"); err != nil {
		return fmt.Errorf("mark %s complete: %w", o.db, err)
	}
	return nil
}
