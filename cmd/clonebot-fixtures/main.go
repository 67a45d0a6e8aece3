// Command clonebot-fixtures creates and fills instance databases shaped like the
// platform's, for demos, tests and benchmarks.
//
//	clonebot-fixtures create --url URL [--kind production|sandbox] [--seed N] [--config-mb N] [--customer-mb N] [--recreate]
//
// The database named in URL is created if missing (--recreate drops it first), given
// the instance schema and filled by the generator.
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
	"time"

	"github.com/gaiia/clonebot/fixtures"
	"github.com/jackc/pgx/v5"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "clonebot-fixtures:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: clonebot-fixtures create --url URL [--kind production|sandbox] [--seed N] [--config-mb N] [--customer-mb N] [--recreate]")
	}
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	dbURL := fs.String("url", "", "database URL (the database is created if missing)")
	kind := fs.String("kind", string(fixtures.Production), "production or sandbox")
	seed := fs.Int64("seed", 1, "seed of the generated data")
	configMB := fs.Float64("config-mb", 2, "approximate size of the configuration tables, MB")
	customerMB := fs.Float64("customer-mb", 2, "approximate size of customer data and live state, MB (production only)")
	recreate := fs.Bool("recreate", false, "drop the database first if it exists")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dbURL == "" {
		return errors.New("create: --url is required")
	}
	if err := createDatabase(ctx, *dbURL, *recreate); err != nil {
		return err
	}
	start := time.Now()
	if err := fixtures.ApplySchema(ctx, *dbURL); err != nil {
		return err
	}
	opts := fixtures.GenerateOptions{
		Kind:          fixtures.Kind(*kind),
		Seed:          *seed,
		ConfigBytes:   int64(*configMB * (1 << 20)),
		CustomerBytes: int64(*customerMB * (1 << 20)),
	}
	if err := fixtures.Generate(ctx, *dbURL, opts); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated %s instance in %s\n", *kind, time.Since(start).Round(time.Millisecond))
	return nil
}

// createDatabase creates the database named in dbURL through the server's
// maintenance database.
func createDatabase(ctx context.Context, dbURL string, recreate bool) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return fmt.Errorf("parse --url: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return errors.New("--url must name a database")
	}
	u.Path = "/postgres"
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fmt.Errorf("connect to maintenance database: %w", err)
	}
	defer admin.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if recreate {
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}
