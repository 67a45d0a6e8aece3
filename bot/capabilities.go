package bot

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/config"
	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/lifecycle"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/lifecycle/schedule"
	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/parser"
	"github.com/gaiia/clonebot/webhook"
)

// NewCloner builds the cloner of a configuration's registry and manifest.
func NewCloner(cfg *config.Config, opts Options) (*cloner.Cloner, error) {
	manifest, err := loadManifest(cfg)
	if err != nil {
		return nil, err
	}
	return newCloner(cfg, manifest, opts)
}

// ErrManifest marks a configured manifest that cannot be read or classifies
// wrongly: a problem of the configuration, as the commands report it.
var ErrManifest = errors.New("manifest")

// loadManifest reads the configured manifest, or returns the built-in one.
func loadManifest(cfg *config.Config) (*cloner.Manifest, error) {
	if cfg.Manifest == "" {
		return cloner.DefaultManifest(), nil
	}
	m, err := cloner.LoadManifest(cfg.Manifest)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	return m, nil
}

func newCloner(cfg *config.Config, manifest *cloner.Manifest, opts Options) (*cloner.Cloner, error) {
	t := cfg.InstanceTimeouts
	c, err := cloner.New(cloner.Config{
		Instances: cfg.Instances(), Manifest: manifest, Logger: opts.Logger.WithField("component", "cloner"), Now: opts.Now,
		CustomerRowsWarning: cfg.Preflight.CustomerRowsWarning, ConfigFile: cfg.Path,
		LockTimeout: t.Lock, StatementTimeout: t.Statement, ConnectTimeout: t.Connect,
		Jobs: cfg.Clone.Jobs, Retention: cfg.Rollback.Retention,
	})
	if err != nil {
		return nil, fmt.Errorf("cloner: %w", err)
	}
	return c, nil
}

// newNotifier builds the Zendesk client, counting its calls in the metrics.
func (b *Bot) newNotifier() (*notifier.Client, error) {
	z := b.cfg.Zendesk
	nc := notifier.Config{
		URL: z.URL, Email: z.Email, APIToken: z.APIToken, BotUserID: z.BotUserID,
		Logger: b.log.WithField("component", "zendesk"), Now: b.now,
		Observer: func(method, route string, status int, retry bool) {
			b.metrics.ZendeskCalls.WithLabelValues(method, route, statusLabel(status), strconv.FormatBool(retry)).Inc()
		},
	}
	if z.OAuth != nil {
		nc.OAuth = &notifier.OAuthConfig{ClientID: z.OAuth.ClientID, ClientSecret: z.OAuth.ClientSecret, Scopes: z.OAuth.Scopes}
	}
	c, err := notifier.New(nc)
	if err != nil {
		return nil, fmt.Errorf("zendesk client: %w", err)
	}
	return c, nil
}

// statusLabel is a Zendesk call's status label: the HTTP status, or
// "network_error" when no answer came (the notifier reports 0).
func statusLabel(status int) string {
	if status == 0 {
		return "network_error"
	}
	return strconv.Itoa(status)
}

// newLifecycle builds the life-cycle service the workers run.
func (b *Bot) newLifecycle(opts Options, manifest *cloner.Manifest) (*lifecycle.Service, error) {
	cl, err := newCloner(b.cfg, manifest, opts)
	if err != nil {
		return nil, err
	}
	b.cloner = cl
	zd, err := b.newNotifier()
	if err != nil {
		return nil, err
	}
	settings, err := lifecycleSettings(b.cfg)
	if err != nil {
		return nil, err
	}
	return lifecycle.New(lifecycle.Config{
		Pool: b.pool, Zendesk: zd, Cloner: cl, Settings: settings,
		Logger: b.log.WithField("component", "lifecycle"), Metrics: b.metrics,
		Now: b.now, DueInterval: opts.DueInterval, CloneDeadline: b.cfg.Jobs.CloneDeadline,
		SweepInterval: cmp.Or(opts.SweepInterval, b.cfg.Jobs.SweepInterval),
	})
}

// lifecycleSettings picks what the life cycle uses from the configuration.
func lifecycleSettings(cfg *config.Config) (lifecycle.Settings, error) {
	reg, err := cfg.Registry()
	if err != nil {
		return lifecycle.Settings{}, err
	}
	start, err := config.ParseClock(cfg.Window.Start)
	if err != nil {
		return lifecycle.Settings{}, fmt.Errorf("window.start: %w", err)
	}
	end, err := config.ParseClock(cfg.Window.End)
	if err != nil {
		return lifecycle.Settings{}, fmt.Errorf("window.end: %w", err)
	}
	zones := map[string]*time.Location{}
	for _, t := range cfg.Tenants {
		zones[t.Name] = t.Location()
	}
	z := cfg.Zendesk
	return lifecycle.Settings{
		Tags:     rules.Tags{Request: z.Tags.Request, Approve: z.Tags.Approve, Hold: z.Tags.Hold, Reject: z.Tags.Reject, Rollback: z.Tags.Rollback},
		Deciders: rules.Deciders{Bot: z.BotUserID, Services: z.ServiceAccountIDs},
		Parser: parser.Options{Registry: reg, Fields: parser.Fields{
			ProductionInstance: z.Fields.ProductionInstance, SandboxInstance: z.Fields.SandboxInstance,
			WipeConfirmation: z.Fields.WipeConfirmation, Users: z.Fields.Users,
		}},
		Windows: schedule.Windows{Start: start, End: end, Zones: zones},
		Policy:  lifecycle.Policy{MinDaysBetweenClones: cfg.Policy.MinDays(), MinDriftRows: cfg.Policy.MinDriftRows},
	}, nil
}

// registerWebhook adds POST /webhooks/zendesk, handing events to the job queue.
func (b *Bot) registerWebhook() error {
	z := b.cfg.Zendesk
	h, err := webhook.New(webhook.Config{
		Secrets: z.WebhookSecrets, MaxAge: z.WebhookMaxAge, RetryAfter: z.WebhookRetryAfter, BotUserID: z.BotUserID, RequestTag: z.Tags.Request, RollbackTag: z.Tags.Rollback,
		Sink: webhook.NewIntake(b.pool, b.river), Logger: b.log.WithField("component", "webhook"),
		Metrics: b.metrics, Now: b.now,
	})
	if err != nil {
		return err
	}
	h.Register(b.echo)
	return nil
}

// addWorkers registers the life cycle's workers, housekeeping and periodic jobs on cfg.
func (b *Bot) addWorkers(cfg *river.Config, svc *lifecycle.Service) {
	workers := river.NewWorkers()
	svc.Register(workers)
	river.AddWorker(workers, webhook.NewPruneWorker(b.pool, b.log))
	river.AddWorker(workers, &retentionWorker{cloner: b.cloner, log: b.log.WithField("component", "retention")})
	cfg.Workers = workers
	cfg.PeriodicJobs = append(svc.PeriodicJobs(), webhook.PruneJob(), b.retentionJob())
	cfg.Queues = map[string]river.QueueConfig{
		river.QueueDefault: {MaxWorkers: 20},
		jobs.QueueClone:    {MaxWorkers: 2},
	}
}
