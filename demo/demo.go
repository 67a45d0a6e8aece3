package demo

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5/pgxpool"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/bot"
	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/config"
	"github.com/gaiia/clonebot/zendesksim"
)

// Options tune a run.
type Options struct {
	// AdminURL is a maintenance database of the PostgreSQL server to use. Default
	// postgres://postgres@127.0.0.1:5432/postgres.
	AdminURL string
	// Out receives the conversation. Default: discarded.
	Out io.Writer
	// Logger receives the bot's and the simulator's logs. Default: discarded.
	Logger *logrus.Entry
	// Scale is the approximate size in bytes of production's configuration, and
	// of its customer data. Default 2 MB.
	Scale int64
	// Keep leaves the databases in place after the run.
	Keep bool
	// StepTimeout bounds each step of the story. Default 2 minutes.
	StepTimeout time.Duration
	// WebhookStyle is how the simulator notifies the bot. Default trigger style.
	WebhookStyle zendesksim.WebhookStyle
	// NumericFields makes the simulator send numeric custom field values.
	NumericFields bool
	// RetryCap bounds the bot's wait before retrying a failed job; see bot.Options.
	RetryCap time.Duration
	// NoWebhooks switches the simulator's webhooks off entirely: the bot learns of
	// every change from its reconciliation sweep alone.
	NoWebhooks bool
	// SweepInterval is how often the bot sweeps Zendesk's export. Default 5 s.
	SweepInterval time.Duration
}

func (o *Options) defaults() {
	if o.AdminURL == "" {
		o.AdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		o.Logger = logrus.NewEntry(l)
	}
	if o.Scale == 0 {
		o.Scale = 2 << 20
	}
	if o.StepTimeout == 0 {
		o.StepTimeout = 2 * time.Minute
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = 5 * time.Second
	}
}

// Field ids of the demo's Zendesk form.
const (
	FieldProduction = 360042000001
	FieldSandbox    = 360042000002
	FieldWipe       = 360042000003
	FieldUsers      = 360042000004
)

const (
	botEmail      = "clonebot@example.com"
	apiToken      = "demo-api-token"
	webhookSecret = "demo-webhook-signing-secret"
)

// Env is a running demo world: databases, simulator and bot.
type Env struct {
	Opts     Options
	Clock    *Clock
	Sim      *zendesksim.Server
	Bot      *bot.Bot
	Config   *config.Config
	DBs      *databases
	BotUser  zendesksim.User
	Customer zendesksim.User
	Agent    zendesksim.User
	OrgID    int64
	pool     *pgxpool.Pool // the demo's own view of the bot database
	botURL   string
	// sandboxBefore is the sandbox's tables before any clone, which a rollback
	// must give back row for row.
	sandboxBefore map[string]string
	stopBot       context.CancelFunc
	botDone       chan error
	printer       *printer
}

// ProductionURL and SandboxURL are the instances' databases.
func (e *Env) ProductionURL() string { return e.DBs.url(e.DBs.production) }

// SandboxURL is the sandbox instance's database.
func (e *Env) SandboxURL() string { return e.DBs.url(e.DBs.sandbox) }

// BotURL is the bot's HTTP address.
func (e *Env) BotURL() string { return e.botURL }

// Start builds the world: databases, simulator, bot; it waits until the bot is ready.
func Start(ctx context.Context, opts Options) (*Env, error) {
	opts.defaults()
	e := &Env{Opts: opts, Clock: &Clock{}}
	var err error
	if e.DBs, err = newDatabases(opts.AdminURL); err != nil {
		return nil, err
	}
	if err := e.DBs.create(ctx, opts.Scale); err != nil {
		_ = e.DBs.drop(context.WithoutCancel(ctx))
		return nil, err
	}
	if e.sandboxBefore, err = digests(ctx, e.SandboxURL()); err != nil {
		_ = e.DBs.drop(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := e.start(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *Env) start(ctx context.Context) error {
	toronto, err := time.LoadLocation("America/Toronto")
	if err != nil {
		return fmt.Errorf("time zone data: %w", err)
	}
	now := time.Now().In(toronto)
	e.Clock.Set(time.Date(now.Year(), now.Month(), now.Day(), 14, 0, 0, 0, toronto)) // an afternoon, outside the window
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	e.botURL = "http://" + ln.Addr().String()
	if err := e.startSimulator(); err != nil {
		ln.Close()
		return err
	}
	if e.Config, err = config.Parse([]byte(e.configYAML()), func(string) string { return "" }); err != nil {
		ln.Close()
		return fmt.Errorf("demo configuration: %w", err)
	}
	if err := e.enroll(ctx); err != nil {
		ln.Close()
		return err
	}
	if e.pool, err = pgxpool.New(ctx, e.Config.DatabaseURL); err != nil {
		ln.Close()
		return fmt.Errorf("connect to the bot database: %w", err)
	}
	return e.startBot(ctx, ln)
}

// enroll writes each instance's marker into its database, as an operator does with
// `clonebot enroll` before the bot may plan a clone.
func (e *Env) enroll(ctx context.Context) error {
	c, err := bot.NewCloner(e.Config, bot.Options{Config: e.Config, Logger: e.Opts.Logger})
	if err != nil {
		return err
	}
	for _, name := range []string{"acme-prod", "acme-sandbox"} {
		if _, err := c.Enroll(ctx, name, cloner.EnrollOptions{Operator: "clonebot demo", Version: "demo"}); err != nil {
			return fmt.Errorf("enroll %s: %w", name, err)
		}
	}
	return nil
}

func (e *Env) startSimulator() error {
	hook := e.botURL + "/webhooks/zendesk"
	if e.Opts.NoWebhooks {
		hook = ""
	}
	sim, err := zendesksim.New(zendesksim.Config{
		Logger: e.Opts.Logger.WithField("component", "zendesk-simulator"), Now: e.Clock.Now,
		Email: botEmail, APIToken: apiToken,
		WebhookURL: hook, WebhookSecret: webhookSecret, WebhookStyle: e.Opts.WebhookStyle,
		TriggerTag: "sandbox_clone", WebhookRetryDelay: 200 * time.Millisecond,
		NumericCustomFields: e.Opts.NumericFields,
		CustomFieldIDs:      []int64{FieldProduction, FieldSandbox, FieldWipe, FieldUsers},
	})
	if err != nil {
		return fmt.Errorf("zendesk simulator: %w", err)
	}
	if _, err := sim.Start("127.0.0.1:0"); err != nil {
		return fmt.Errorf("start zendesk simulator: %w", err)
	}
	e.Sim = sim
	e.BotUser = sim.CreateUser("clonebot", botEmail, "agent")
	e.Customer = sim.CreateUser("Dana Okafor", "dana@acme-fiber.example", "end-user")
	e.Agent = sim.CreateUser("Sam Rivera", "sam@support.example", "agent")
	e.OrgID = sim.CreateOrganization("Acme Fiber")
	if err := sim.AddMembership(e.Customer.ID, e.OrgID); err != nil {
		return fmt.Errorf("zendesk simulator: %w", err)
	}
	e.printer = newPrinter(e.Opts.Out, sim, map[int64]string{e.BotUser.ID: "clonebot", e.Customer.ID: "Dana (customer)", e.Agent.ID: "Sam (agent)"})
	return nil
}

func (e *Env) configYAML() string {
	return fmt.Sprintf(`listen: "127.0.0.1:0"
database_url: %q
zendesk:
  url: %q
  email: %q
  api_token: %q
  webhook_secrets: [%q]
  bot_user_id: %d
  fields: {production_instance: %d, sandbox_instance: %d, wipe_confirmation: %d, users: %d}
window: {start: "02:00", end: "05:00"}
tenants:
  - name: acme
    timezone: America/Toronto
    zendesk_organization_ids: [%d]
    instances:
      - {name: acme-prod, environment: production, url: "https://acme.example-isp.app", database_url: %q}
      - {name: acme-sandbox, environment: sandbox, url: "https://acme.sandbox.example-isp.app", database_url: %q}
`, e.DBs.url(e.DBs.bot), e.Sim.URL(), botEmail, apiToken, webhookSecret, e.BotUser.ID,
		FieldProduction, FieldSandbox, FieldWipe, FieldUsers, e.OrgID, e.ProductionURL(), e.SandboxURL())
}

func (e *Env) startBot(ctx context.Context, ln net.Listener) error {
	b, err := bot.New(ctx, bot.Options{
		Config: e.Config, Logger: e.Opts.Logger.WithField("service", "clonebot"), Now: e.Clock.Now,
		DueInterval: 250 * time.Millisecond, ShutdownTimeout: 10 * time.Second, RetryCap: e.Opts.RetryCap,
		SweepInterval: e.Opts.SweepInterval,
	})
	if err != nil {
		ln.Close()
		return fmt.Errorf("start clonebot: %w", err)
	}
	e.Bot = b
	botCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.stopBot, e.botDone = cancel, make(chan error, 1)
	go func() { e.botDone <- b.Run(botCtx, ln) }()
	return e.waitReady(ctx)
}

func (e *Env) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.Opts.StepTimeout)
	defer cancel()
	for {
		resp, err := http.Get(e.botURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errors.New("clonebot did not become ready")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// RestartBot stops the bot, giving running jobs only grace to notice (they are
// cancelled, as in a crash), and starts a new one on the same address and database.
func (e *Env) RestartBot(ctx context.Context) error {
	addr := e.botURL[len("http://"):]
	e.stopBot()
	<-e.botDone
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen again on %s: %w", addr, err)
	}
	return e.startBot(ctx, ln)
}

// Close stops the bot and the simulator and drops the databases unless Keep.
func (e *Env) Close() {
	if e.stopBot != nil {
		e.stopBot()
		<-e.botDone
	}
	if e.Sim != nil {
		e.Sim.Close()
	}
	if e.pool != nil {
		e.pool.Close()
	}
	if !e.Opts.Keep && e.DBs != nil {
		if err := e.DBs.drop(context.Background()); err != nil {
			e.Opts.Logger.WithError(err).Warn("drop demo databases")
		}
	}
}
