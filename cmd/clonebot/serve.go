package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/gaiia/clonebot/bot"
	"github.com/gaiia/clonebot/store"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, path := newFlags("serve", stderr)
	listen := fs.String("listen", "", "HTTP address, overriding the configuration's listen")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, getenv)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	log := newLogger(stdout, cfg.LogLevel)
	b, err := bot.New(ctx, bot.Options{
		Config: cfg, Logger: log, DueInterval: cfg.Jobs.DueInterval, RescueAfter: cfg.Jobs.RescueAfter,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	return b.Run(ctx, ln)
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, path := newFlags("migrate", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, getenv)
	if err != nil {
		return err
	}
	pool, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := store.Migrate(ctx, pool); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "bot database is up to date")
	return nil
}
