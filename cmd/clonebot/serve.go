package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/bot"
	"github.com/gaiia/clonebot/store"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, path := newFlags("serve")
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
	log := newJSONLogger(stdout, cfg.LogLevel)
	b, err := bot.New(ctx, bot.Options{
		Config: cfg, Logger: log, DueInterval: cfg.Jobs.DueInterval, RescueAfter: cfg.Jobs.RescueAfter,
		Build: bot.Build{Version: version, Commit: commit},
	})
	if errors.Is(err, bot.ErrManifest) { // the configuration's, as plan says
		return &exitError{code: 2, err: err}
	}
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
	fs, path := newFlags("migrate")
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
		return interrupted(ctx, err, "migrate")
	}
	fmt.Fprintln(stdout, "bot database is up to date")
	return nil
}

// newJSONLogger writes JSON lines to w at the configured level: serve's logs, and
// every library's it runs (River's, the HTTP server's) in the same shape.
func newJSONLogger(w io.Writer, level string) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(w)
	l.SetFormatter(&logrus.JSONFormatter{TimestampFormat: "2006-01-02T15:04:05.000Z07:00"})
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		lvl = logrus.InfoLevel
	}
	l.SetLevel(lvl)
	return logrus.NewEntry(l).WithField("service", "clonebot")
}
