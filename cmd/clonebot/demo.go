package main

import (
	"context"
	"io"

	"github.com/gaiia/clonebot/demo"
)

func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo")
	verbose := fs.Bool("v", false, "also print the bot's JSON logs, on stderr")
	keep := fs.Bool("keep", false, "keep the demo databases afterwards")
	admin := fs.String("postgres", "", "maintenance database URL (default $CLONEBOT_TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opts := demo.Options{Out: stdout, Keep: *keep, AdminURL: *admin}
	if opts.AdminURL == "" {
		opts.AdminURL = getenv("CLONEBOT_TEST_DATABASE_URL")
	}
	if *verbose {
		opts.Logger = newJSONLogger(stderr, "info")
	}
	return interrupted(ctx, demo.Run(ctx, opts), "the demo")
}
