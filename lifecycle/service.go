package lifecycle

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/jobs"
	"github.com/gaiia/clonebot/lifecycle/messages"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/lifecycle/schedule"
	"github.com/gaiia/clonebot/metrics"
	"github.com/gaiia/clonebot/parser"
)

// Settings are the parts of the configuration the life cycle uses.
type Settings struct {
	Tags rules.Tags
	// Deciders are the bot's own user and the service accounts, whose tags never
	// decide.
	Deciders rules.Deciders
	// Parser reads a request from a ticket: the form's field ids and the instance
	// registry.
	Parser parser.Options
	// Windows are the tenants' low-activity windows, in which clones run.
	Windows schedule.Windows
	// Policy flags requests in the agents' note (advice only); zero flags none.
	Policy Policy
}

// Config wires a Service.
type Config struct {
	Pool    *pgxpool.Pool // the bot database. Required.
	Zendesk Zendesk       // Required.
	Cloner  Cloner        // Required.
	// Settings are required: the instance registry, the five tags and a window.
	Settings Settings
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
	// CloneDeadline bounds a clone, and a rollback; one still running then fails,
	// the sandbox left as it was. Default 2h.
	CloneDeadline time.Duration
	// SweepInterval is how often Zendesk's incremental export is read for tickets
	// whose webhook was lost. Default 5m.
	SweepInterval time.Duration
}

// Service holds the workers of the life cycle, each built with what it uses.
type Service struct {
	cfg     Config
	sync    *syncer
	runner  *runner
	outbox  *outbox
	due     *due
	sweep   *sweeper
	restore *restorer
}

// New validates cfg and builds the Service.
func New(cfg Config) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	render, err := messages.New()
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg}
	repo, obs := newRepo(cfg.Pool), observer{log: cfg.Logger, metrics: cfg.Metrics}.observe
	rec := &recorder{render: render, tags: cfg.Settings.Tags, windows: cfg.Settings.Windows}
	tr := &troubles{repo: repo, record: rec, metrics: cfg.Metrics, log: cfg.Logger, now: cfg.Now, grace: cfg.TroubleGrace}
	s.sync = &syncer{zendesk: cfg.Zendesk, cloner: cfg.Cloner, repo: repo, record: rec, troubles: tr, windows: cfg.Settings.Windows,
		policy: cfg.Settings.Policy, log: cfg.Logger, now: cfg.Now, observe: obs,
		reader: rules.Reader{Tags: cfg.Settings.Tags, Deciders: cfg.Settings.Deciders, Parser: cfg.Settings.Parser}}
	s.outbox = &outbox{zendesk: cfg.Zendesk, repo: repo, log: cfg.Logger, observe: obs}
	s.runner = &runner{refresh: s.sync, users: cfg.Zendesk, cloner: cfg.Cloner, outbox: s.outbox, repo: repo, record: rec, troubles: tr,
		windows: cfg.Settings.Windows, metrics: cfg.Metrics, deadline: cfg.CloneDeadline, log: cfg.Logger, now: cfg.Now, observe: obs}
	s.restore = &restorer{cloner: cfg.Cloner, repo: repo, record: rec, troubles: tr, metrics: cfg.Metrics, deadline: cfg.CloneDeadline,
		log: cfg.Logger, observe: obs}
	s.due = &due{repo: repo, runner: s.runner, restore: s.restore, troubles: tr, metrics: cfg.Metrics, now: cfg.Now, observe: obs}
	s.sweep = &sweeper{zendesk: cfg.Zendesk, repo: repo, requestTag: cfg.Settings.Tags.Request, metrics: cfg.Metrics,
		log: cfg.Logger, now: cfg.Now, observe: obs}
	return s, nil
}

// validate checks the required parts and fills in the defaults.
func (cfg *Config) validate() error {
	if cfg.Pool == nil || cfg.Zendesk == nil || cfg.Cloner == nil || cfg.Logger == nil || cfg.Metrics == nil {
		return errors.New("lifecycle: Pool, Zendesk, Cloner, Logger and Metrics are required")
	}
	st := cfg.Settings
	t := st.Tags
	if st.Parser.Registry == nil || t.Request == "" || t.Approve == "" || t.Hold == "" || t.Reject == "" || t.Rollback == "" {
		return errors.New("lifecycle: Settings need the instance registry and the five tags")
	}
	if err := st.Windows.Validate(); err != nil {
		return fmt.Errorf("lifecycle: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.DueInterval = orDefault(cfg.DueInterval, 15*time.Second)
	cfg.TroubleGrace = orDefault(cfg.TroubleGrace, 20*time.Second)
	cfg.CloneDeadline = orDefault(cfg.CloneDeadline, 2*time.Hour)
	cfg.SweepInterval = orDefault(cfg.SweepInterval, 5*time.Minute)
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Register adds the life cycle's workers.
func (s *Service) Register(workers *river.Workers) {
	river.AddWorker(workers, s.sync.worker())
	river.AddWorker(workers, s.runner.worker())
	river.AddWorker(workers, s.restore.worker())
	river.AddWorker(workers, s.outbox.worker())
	river.AddWorker(workers, s.due.worker())
	river.AddWorker(workers, s.sweep.worker())
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

// observer counts finished jobs and logs their failures.
type observer struct {
	log     *logrus.Entry
	metrics *metrics.Metrics
}

// observe counts a finished job by kind and outcome, and logs a failure with the
// job, its attempt, the ticket (0 for jobs about no ticket) and the cause.
func (o observer) observe(job *rivertype.JobRow, ticket int64, err error) {
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
		log := o.log.WithError(err).WithFields(logrus.Fields{"job": job.Kind, "job_id": job.ID, "attempt": job.Attempt, "outcome": outcome})
		if ticket != 0 {
			log = log.WithField("ticket", ticket)
		}
		log.Warn("job failed")
	}
	o.metrics.Jobs.WithLabelValues(job.Kind, outcome).Inc()
}

// observeFunc is observer.observe, as the workers call it.
type observeFunc func(job *rivertype.JobRow, ticket int64, err error)
