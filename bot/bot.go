package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/config"
	"github.com/gaiia/clonebot/lifecycle"
	"github.com/gaiia/clonebot/metrics"
	"github.com/gaiia/clonebot/store"
)

// DefaultShutdownTimeout is how long in-flight requests and jobs may take to
// finish after a stop: a container's stop grace period must be longer.
const DefaultShutdownTimeout = 30 * time.Second

// Options are what a Bot is built from.
type Options struct {
	Config *config.Config
	// Logger receives JSON-ready structured logs. Required.
	Logger *logrus.Entry
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ShutdownTimeout bounds how long in-flight requests and jobs may take to finish
	// after a stop. Default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// DueInterval is how often due clones are started; see lifecycle.Config.
	DueInterval time.Duration
	// RescueAfter is how long a running job may go without finishing before another
	// replica takes it over (its process is presumed dead). Default 15 minutes.
	RescueAfter time.Duration
	// RetryCap is the longest wait before a failed job is retried. Default 1 minute.
	RetryCap time.Duration
	// SweepInterval overrides the configuration's jobs.sweep_interval (the demo's
	// story runs faster than any real account allows).
	SweepInterval time.Duration
	// Build names the running build in the start-up log line and in
	// clonebot_build_info.
	Build Build
}

// Build identifies the running binary.
type Build struct {
	Version string // default "dev"
	Commit  string // default "unknown"
}

// Bot is one clonebot serve process.
type Bot struct {
	cfg      *config.Config
	log      *logrus.Entry
	now      func() time.Time
	metrics  *metrics.Metrics
	pool     *pgxpool.Pool
	cloner   *cloner.Cloner
	river    *river.Client[pgx.Tx]
	echo     *echo.Echo
	migrated atomic.Bool
	shutdown time.Duration
	build    Build
}

// New builds a Bot; it connects lazily, so it succeeds while the database is down.
func New(ctx context.Context, opts Options) (*Bot, error) {
	if opts.Config == nil || opts.Logger == nil {
		return nil, errors.New("bot: Config and Logger are required")
	}
	b := &Bot{cfg: opts.Config, log: opts.Logger, now: opts.Now, metrics: metrics.New(), shutdown: opts.ShutdownTimeout,
		build: Build{Version: cmp.Or(opts.Build.Version, "dev"), Commit: cmp.Or(opts.Build.Commit, "unknown")}}
	if b.now == nil {
		b.now = time.Now
	}
	if b.shutdown == 0 {
		b.shutdown = DefaultShutdownTimeout
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
	manifest, err := loadManifest(b.cfg)
	if err != nil {
		return err
	}
	b.initMetrics(manifest)
	svc, err := b.newLifecycle(opts, manifest)
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
		Logger:               newSlog(b.log.WithField("component", "river"), slog.LevelWarn),
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
	errorLog := b.log.WithField("component", "http").WriterLevel(logrus.WarnLevel)
	defer errorLog.Close()
	srv := &http.Server{Handler: b.echo, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		ErrorLog: log.New(errorLog, "", 0)}
	b.log.WithFields(logrus.Fields{"version": b.build.Version, "commit": b.build.Commit, "go_version": runtime.Version()}).Info("starting")
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	b.log.WithField("addr", ln.Addr().String()).Info("listening")

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	started := make(chan struct{})
	go b.startWhenMigrated(workCtx, ctx, started)
	defer b.survey(ctx)()

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

// survey checks the instances in the background: it logs two entries that reach
// one database, and instances not enrolled, and never holds up serving. The
// returned function stops it and waits for it.
func (b *Bot) survey(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.cloner.Survey(ctx, time.Second)
	}()
	return func() {
		cancel()
		<-done
	}
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

// errStarting says the database is ready but this process has not started its
// job workers yet.
var errStarting = errors.New("job workers not started yet")

// ready reports whether the bot can do its work: the database answers, is
// migrated, and this process's workers run.
func (b *Bot) ready(ctx context.Context) error {
	if err := store.Ready(ctx, b.pool); err != nil {
		return err
	}
	if !b.migrated.Load() {
		return errStarting
	}
	return nil
}

// Readiness reasons, as /readyz gives them.
const (
	ReasonUnreachable = "database unreachable"
	ReasonNotMigrated = "database not migrated"
	ReasonStarting    = "starting"
)

func readinessReason(err error) string {
	switch {
	case errors.Is(err, store.ErrNotMigrated):
		return ReasonNotMigrated
	case errors.Is(err, errStarting):
		return ReasonStarting
	default:
		return ReasonUnreachable
	}
}
