package main

import (
	"context"
	"io"

	"github.com/gaiia/clonebot/demo"
)

func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, _ := newFlags("demo", stderr)
	verbose := fs.Bool("v", false, "also print the bot's JSON logs (to stderr)")
	keep := fs.Bool("keep", false, "keep the demo databases afterwards")
	admin := fs.String("postgres", "", "maintenance database URL (default $CLONEBOT_TEST_DATABASE_URL or the local server)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opts := demo.Options{Out: stdout, Keep: *keep, AdminURL: *admin}
	if opts.AdminURL == "" {
		opts.AdminURL = getenv("CLONEBOT_TEST_DATABASE_URL")
	}
	if *verbose {
		opts.Logger = newLogger(stderr, "info")
	}
	return demo.Run(ctx, opts)
}
