package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/config"
	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/metrics"
	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/parser"
)

// Zendesk is what the life cycle needs of Zendesk.
type Zendesk interface {
	Ticket(ctx context.Context, id int64) (parser.Ticket, error)
	Audits(ctx context.Context, id int64) ([]parser.Audit, error)
	User(ctx context.Context, id int64) (notifier.User, error)
	Organizations(ctx context.Context, userID int64) ([]int64, error)
	TicketsChanged(ctx context.Context, cursor string, since time.Time) (notifier.ExportPage, error)
	Announce(ctx context.Context, ticketID int64, a notifier.Announcement) error
}

// Cloner checks, plans and runs clones.
type Cloner interface {
	Check(ctx context.Context, from, to string) (*cloner.Plan, error)
	Plan(ctx context.Context, from, to string) (*cloner.Plan, error)
	Clone(ctx context.Context, from, to string, opts cloner.Options) (*cloner.Report, error)
}

// Config wires a Service.
type Config struct {
	Pool     *pgxpool.Pool    // the bot database. Required.
	Zendesk  Zendesk          // Required.
	Cloner   Cloner           // Required.
	Settings *config.Config   // fields, tags, window, tenants. Required.
	Logger   *logrus.Entry    // Required.
	Metrics  *metrics.Metrics // Required.
	// Now is the clock that decides windows; nil means time.Now.
	Now func() time.Time
	// DueInterval is how often scheduled clones that are due are started and
	// undelivered announcements swept. Default 15s.
	DueInterval time.Duration
	// TroubleGrace is how long a ticket's job may keep failing before the ticket
	// hears about it; with DueInterval it bounds the silence. Default 20s.
	TroubleGrace time.Duration
	// CloneDeadline bounds a clone; a clone still running then fails, the
	// sandbox rolled back. Default 2h.
	CloneDeadline time.Duration
	// SweepInterval is how often Zendesk's incremental export is read for tickets
	// whose webhook was lost. Default 5m.
	SweepInterval time.Duration
}

// Service holds the workers of the life cycle.
type Service struct {
	cfg      Config
	log      *logrus.Entry
	now      func() time.Time
	messages *Messenger
	parse    parser.Options
	windows  map[string]Window // by tenant
	deciders deciders
}

// New validates cfg and builds the Service.
func New(cfg Config) (*Service, error) {
	if cfg.Pool == nil || cfg.Zendesk == nil || cfg.Cloner == nil || cfg.Settings == nil || cfg.Logger == nil || cfg.Metrics == nil {
		return nil, errors.New("lifecycle: Pool, Zendesk, Cloner, Settings, Logger and Metrics are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DueInterval == 0 {
		cfg.DueInterval = 15 * time.Second
	}
	if cfg.TroubleGrace == 0 {
		cfg.TroubleGrace = 20 * time.Second
	}
	if cfg.CloneDeadline == 0 {
		cfg.CloneDeadline = 2 * time.Hour
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = 5 * time.Minute
	}
	m, err := NewMessenger()
	if err != nil {
		return nil, err
	}
	opts, err := ParserOptions(cfg.Settings)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: %w", err)
	}
	s := &Service{cfg: cfg, log: cfg.Logger, now: cfg.Now, messages: m, parse: opts, windows: map[string]Window{},
		deciders: newDeciders(cfg.Settings.Zendesk)}
	for _, t := range cfg.Settings.Tenants {
		w, err := NewWindow(cfg.Settings.Window, t.Location())
		if err != nil {
			return nil, fmt.Errorf("lifecycle: tenant %s: %w", t.Name, err)
		}
		s.windows[t.Name] = w
	}
	return s, nil
}

// ParserOptions derives the parser's registry and field ids from the configuration.
func ParserOptions(c *config.Config) (parser.Options, error) {
	reg, err := c.Registry()
	if err != nil {
		return parser.Options{}, err
	}
	f := c.Zendesk.Fields
	return parser.Options{Registry: reg, Fields: parser.Fields{
		ProductionInstance: f.ProductionInstance, SandboxInstance: f.SandboxInstance,
		WipeConfirmation: f.WipeConfirmation, Users: f.Users,
	}}, nil
}

// Register adds the life cycle's workers.
func (s *Service) Register(workers *river.Workers) {
	river.AddWorker(workers, &syncWorker{s: s})
	river.AddWorker(workers, &cloneWorker{s: s})
	river.AddWorker(workers, &outboxWorker{s: s})
	river.AddWorker(workers, &dueWorker{s: s})
	river.AddWorker(workers, &sweepWorker{s: s})
}

// PeriodicJobs are the jobs the elected leader runs on a timer.
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(s.cfg.DueInterval),
			func() (river.JobArgs, *river.InsertOpts) { return jobs.DueArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true, ID: "due"}),
		river.NewPeriodicJob(river.PeriodicInterval(s.cfg.SweepInterval),
			func() (river.JobArgs, *river.InsertOpts) { return jobs.SweepArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true, ID: "sweep"}),
	}
}

// observe counts a finished job by kind and outcome, and logs a failure with the
// job, its attempt, the ticket (0 for jobs about no ticket) and the cause.
func (s *Service) observe(job *rivertype.JobRow, ticket int64, err error) {
	kind := job.Kind
	outcome := "ok"
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	switch {
	case err == nil:
	case errors.As(err, &snooze):
		outcome = "snooze"
	case errors.As(err, &cancel):
		outcome = "cancel"
	default:
		outcome = "retry"
	}
	if outcome == "retry" || outcome == "cancel" {
		log := s.log.WithError(err).WithFields(logrus.Fields{"job": kind, "job_id": job.ID, "attempt": job.Attempt, "outcome": outcome})
		if ticket != 0 {
			log = log.WithField("ticket", ticket)
		}
		log.Warn("job failed")
	}
	s.cfg.Metrics.Jobs.WithLabelValues(kind, outcome).Inc()
}

// decisionTags are the tags whose authors must be agents or admins.
func (s *Service) decisionTags() []string {
	t := s.cfg.Settings.Zendesk.Tags
	return []string{t.Approve, t.Hold, t.Reject}
}
