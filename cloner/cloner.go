package cloner

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/registry"
)

// Environments an instance can be in.
const (
	Production = registry.Production
	Sandbox    = registry.Sandbox
)

// Sentinel errors of Clone.
var (
	// ErrRefused wraps the problems that stop a clone or a rollback before it
	// writes anything.
	ErrRefused = errors.New("refused")
	// ErrBusy means another clone or rollback of the same sandbox holds its lock.
	ErrBusy = errors.New("another clone or rollback of this sandbox is running")
)

// Instance is one tenant database in the registry.
type Instance = registry.Instance

// Config builds a Cloner.
type Config struct {
	// Instances is the registry; New refuses a list that breaks its rules
	// (registry.Check).
	Instances []Instance
	// Manifest classifies the tables; nil means DefaultManifest().
	Manifest *Manifest
	// Logger is required. The cloner never logs row data, credentials or URLs.
	Logger *logrus.Entry
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LockTimeout bounds the wait for a table lock another session holds, on both
	// instances (lock_timeout): the clone fails, naming the table and the session.
	// 0 means 30 seconds.
	LockTimeout time.Duration
	// CustomerRowsWarning is how many rows of customer data (the manifest's
	// customer categories) a sandbox may hold before a plan warns that it looks like
	// a production database; 0 means 10,000.
	CustomerRowsWarning int64
	// ConfigFile is the configuration file, named in the `clonebot enroll` commands
	// that refusals give; empty leaves --config out.
	ConfigFile string
	// StatementTimeout bounds every statement on both instances (statement_timeout),
	// the copy of one table included. 0 means 30 minutes.
	StatementTimeout time.Duration
	// ConnectTimeout bounds connecting to an instance. 0 means 10 seconds.
	ConnectTimeout time.Duration
	// Jobs is how many tables a swap loads at once; 0 means the cores available.
	Jobs int
	// Retention is how long the pre-clone sandbox is kept for rollback; 0 means
	// 7 days.
	Retention time.Duration
}

// DefaultRetention is how long a pre-clone sandbox is kept for rollback.
const DefaultRetention = 7 * 24 * time.Hour

// Cloner plans and runs clones between the instances of its registry.
type Cloner struct {
	instances        map[string]Instance
	manifest         *Manifest
	tables           resolved
	log              *logrus.Entry
	now              func() time.Time
	lockTimeout      time.Duration
	statementTimeout time.Duration
	connectTimeout   time.Duration
	customerMax      int64
	configFile       string
	jobs             int
	retention        time.Duration
	// lookupKeys caps the sandbox keys at which the drift reads production
	// instead of streaming it whole (see drift_lookup.go); 0 always streams.
	lookupKeys int64
}

// New checks cfg and returns a Cloner.
func New(cfg Config) (*Cloner, error) {
	if cfg.Logger == nil {
		return nil, errors.New("cloner: Config.Logger is required")
	}
	c := &Cloner{
		instances:        map[string]Instance{},
		manifest:         cfg.Manifest,
		log:              cfg.Logger,
		now:              cfg.Now,
		lockTimeout:      cmp.Or(cfg.LockTimeout, 30*time.Second),
		statementTimeout: cmp.Or(cfg.StatementTimeout, 30*time.Minute),
		connectTimeout:   cmp.Or(cfg.ConnectTimeout, 10*time.Second),
		customerMax:      cfg.CustomerRowsWarning,
		configFile:       cfg.ConfigFile,
		jobs:             cfg.Jobs,
		retention:        cmp.Or(cfg.Retention, DefaultRetention),
		lookupKeys:       lookupMaxKeys,
	}
	if c.manifest == nil {
		c.manifest = DefaultManifest()
	} else if err := c.manifest.validate(); err != nil {
		return nil, fmt.Errorf("cloner: manifest: %w", err)
	}
	c.tables = c.manifest.resolve()
	if c.now == nil {
		c.now = time.Now
	}
	if c.customerMax <= 0 {
		c.customerMax = 10_000
	}
	reg, err := registry.New(cfg.Instances)
	if err != nil {
		return nil, fmt.Errorf("cloner: %w", err)
	}
	for _, in := range reg.All() {
		c.instances[in.Name] = in
	}
	return c, nil
}

func (c *Cloner) checkPair(from, to string) (src, dst Instance, problems []string) {
	src, okFrom := c.instances[from]
	dst, okTo := c.instances[to]
	if !okFrom {
		problems = append(problems, fmt.Sprintf("instance %q is not in the registry", from))
	}
	if !okTo {
		problems = append(problems, fmt.Sprintf("instance %q is not in the registry", to))
	}
	if !okFrom || !okTo {
		return src, dst, problems
	}
	if from == to {
		problems = append(problems, fmt.Sprintf("source and target are the same instance %q", from))
	}
	if src.Environment != Production {
		problems = append(problems, fmt.Sprintf("source %q is a %s, not a production instance", from, src.Environment))
	}
	if dst.Environment != Sandbox {
		problems = append(problems, fmt.Sprintf("target %q is a %s, not a sandbox: only a sandbox is ever written", to, dst.Environment))
	}
	if src.Tenant != dst.Tenant {
		problems = append(problems, fmt.Sprintf("target %q belongs to tenant %q, not to %q", to, dst.Tenant, src.Tenant))
	}
	return src, dst, problems
}
