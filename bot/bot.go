package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/config"
	"github.com/gaiia/clonebot/lifecycle"
	"github.com/gaiia/clonebot/metrics"
	"github.com/gaiia/clonebot/store"
)

// Options are what a Bot is built from.
type Options struct {
	Config *config.Config
	// Logger receives JSON-ready structured logs. Required.
	Logger *logrus.Entry
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ShutdownTimeout bounds how long in-flight requests and jobs may take to finish
	// after a stop. Default 30s.
	ShutdownTimeout time.Duration
	// DueInterval is how often due clones are started; see lifecycle.Config.
	DueInterval time.Duration
	// RescueAfter is how long a running job may go without finishing before another
	// replica takes it over (its process is presumed dead). Default 15 minutes.
	RescueAfter time.Duration
	// RetryCap is the longest wait before a failed job is retried. Default 1 minute.
	RetryCap time.Duration
}

// Bot is one clonebot serve process.
type Bot struct {
	cfg      *config.Config
	log      *logrus.Entry
	now      func() time.Time
	metrics  *metrics.Metrics
	pool     *pgxpool.Pool
	river    *river.Client[pgx.Tx]
	echo     *echo.Echo
	migrated atomic.Bool
	shutdown time.Duration
}

// New builds a Bot; it connects lazily, so it succeeds while the database is down.
func New(ctx context.Context, opts Options) (*Bot, error) {
	if opts.Config == nil || opts.Logger == nil {
		return nil, errors.New("bot: Config and Logger are required")
	}
	b := &Bot{cfg: opts.Config, log: opts.Logger, now: opts.Now, metrics: metrics.New(), shutdown: opts.ShutdownTimeout}
	if b.now == nil {
		b.now = time.Now
	}
	if b.shutdown == 0 {
		b.shutdown = 30 * time.Second
	}
	pool, err := store.Open(ctx, b.cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	b.pool = pool
	if err := b.assemble(opts); err != nil {
		pool.Close()
		return nil, err
	}
	return b, nil
}

func (b *Bot) assemble(opts Options) error {
	svc, err := b.newLifecycle(opts)
	if err != nil {
		return err
	}
	if b.river, err = b.newRiver(svc, opts); err != nil {
		return err
	}
	b.echo = b.newEcho()
	return b.registerWebhook()
}

func (b *Bot) newRiver(svc *lifecycle.Service, opts Options) (*river.Client[pgx.Tx], error) {
	rescue := opts.RescueAfter
	if rescue == 0 {
		rescue = 15 * time.Minute
	}
	cfg := &river.Config{
		Logger:               slog.New(slog.NewJSONHandler(b.log.Logger.Out, &slog.HandlerOptions{Level: slog.LevelWarn})),
		FetchPollInterval:    500 * time.Millisecond,
		JobTimeout:           time.Minute, // clone jobs set their own (none)
		RescueStuckJobsAfter: rescue,
		RetryPolicy:          cappedRetry{base: 500 * time.Millisecond, max: cmp.Or(opts.RetryCap, time.Minute)},
		SoftStopTimeout:      b.shutdown,
	}
	b.addWorkers(cfg, svc)
	client, err := river.NewClient(riverpgxv5.New(b.pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("bot: job queue client: %w", err)
	}
	return client, nil
}

// Run serves HTTP on ln and works jobs until ctx ends, then shuts down gracefully:
// in-flight requests finish, running jobs finish (or are cancelled after the
// shutdown timeout and retried later by another replica), and Run returns nil.
func (b *Bot) Run(ctx context.Context, ln net.Listener) error {
	defer b.pool.Close()
	srv := &http.Server{Handler: b.echo, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	b.log.WithField("addr", ln.Addr().String()).Info("listening")

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	started := make(chan struct{})
	go b.startWhenMigrated(workCtx, ctx, started)

	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	b.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), b.shutdown)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		b.log.WithError(err).Warn("http shutdown incomplete")
	}
	stopWork()
	select {
	case <-started:
		if err := b.river.Stop(shutdownCtx); err != nil && !errors.Is(err, context.Canceled) {
			b.log.WithError(err).Warn("job workers did not stop cleanly")
		}
	default:
	}
	b.log.Info("stopped")
	return nil
}

// startWhenMigrated migrates the database, retrying while it is unreachable, then
// starts the job workers. started is closed once they run.
func (b *Bot) startWhenMigrated(workCtx, ctx context.Context, started chan<- struct{}) {
	for delay := 200 * time.Millisecond; ; delay = min(delay*2, 5*time.Second) {
		err := store.Migrate(ctx, b.pool)
		if err == nil {
			break
		}
		b.log.WithError(err).Warn("database not ready; retrying migration")
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
	b.migrated.Store(true)
	b.log.Info("database migrated")
	if err := b.river.Start(workCtx); err != nil {
		b.log.WithError(err).Error("start job workers")
		return
	}
	close(started)
}

// ready reports whether the bot can do its work: migrated, and the database answers.
func (b *Bot) ready(ctx context.Context) error {
	if !b.migrated.Load() {
		return store.ErrNotMigrated
	}
	return store.Ready(ctx, b.pool)
}

func readinessReason(err error) string {
	if errors.Is(err, store.ErrNotMigrated) {
		return "database migrations pending"
	}
	return "database unreachable"
}
