// Package config loads and validates clonebot.yaml: the bot's database, Zendesk access,
// the low-activity window and the registry of tenants and their instances.
//
// Values may name environment variables as ${VAR} so that secrets stay in the
// environment. A validation error names the offending key and how to fix it, and never
// includes a value, so a secret cannot leak through it.
package config

import (
	"time"

	"github.com/gaiia/clonebot/registry"
)

// Config is the whole of clonebot.yaml.
type Config struct {
	// Listen is the HTTP address of serve. Default ":8080".
	Listen string `yaml:"listen"`
	// DatabaseURL is the bot's own PostgreSQL database (state and job queue). Required.
	DatabaseURL string `yaml:"database_url"`
	// LogLevel is one of debug, info, warn, error. Default info.
	LogLevel string  `yaml:"log_level"`
	Zendesk  Zendesk `yaml:"zendesk"`
	// Window is the low-activity window in which clones run, in each tenant's zone.
	Window Window `yaml:"window"`
	// Manifest is an optional manifest file replacing the built-in one. A relative path
	// is taken from the configuration file's folder.
	Manifest string   `yaml:"manifest"`
	Tenants  []Tenant `yaml:"tenants"`
	// Jobs tunes the background work; the defaults suit production.
	Jobs Jobs `yaml:"jobs"`
	// InstanceTimeouts bound the waits on instance databases.
	InstanceTimeouts InstanceTimeouts `yaml:"instance_timeouts"`
	// Preflight tunes what a plan warns about.
	Preflight Preflight `yaml:"preflight"`
	// Clone tunes how clones run.
	Clone Clone `yaml:"clone"`
	// Rollback tunes the copy of the pre-clone sandbox kept for rollback.
	Rollback Rollback `yaml:"rollback"`
	// Policy is the advice agents get before they approve a clone.
	Policy Policy `yaml:"policy"`

	// Path is the file the configuration was loaded from, as an absolute path
	// (empty when parsed from bytes): the commands the bot suggests name it.
	Path string `yaml:"-"`
}

// Clone tunes how clones run.
type Clone struct {
	// Jobs is how many tables a clone loads at once, each on its own production and
	// sandbox connection. Default 0: the cores available.
	Jobs int `yaml:"jobs"`
}

// Rollback tunes the copy of the pre-clone sandbox that every clone keeps inside
// the sandbox database.
type Rollback struct {
	// Retention is how long the copy may be restored; then it is dropped. Default
	// 168h (7 days).
	Retention time.Duration `yaml:"retention"`
}

// Policy says when the agents' note flags a request: a clone is a last resort,
// meant for a sandbox that drifted far from production. Advice only: it never
// blocks a clone; agents decide with the hold and reject tags.
type Policy struct {
	// MinDaysBetweenClones flags a request made within this many days of the last
	// clone into the same sandbox. Default 30; 0 flags none.
	MinDaysBetweenClones *int `yaml:"min_days_between_clones"`
	// MinDriftRows flags a request whose sandbox differs from production in fewer
	// rows. Default 0: none.
	MinDriftRows int64 `yaml:"min_drift_rows"`
}

// DefaultMinDaysBetweenClones is policy.min_days_between_clones when unset.
const DefaultMinDaysBetweenClones = 30

// MinDays is MinDaysBetweenClones, or its default when unset.
func (p Policy) MinDays() int {
	if p.MinDaysBetweenClones == nil {
		return DefaultMinDaysBetweenClones
	}
	return *p.MinDaysBetweenClones
}

// Preflight tunes the plan's warnings; they never block a clone.
type Preflight struct {
	// CustomerRowsWarning is how many rows of customer data a sandbox may hold
	// before the plan warns that it looks like a production database. Default 10000.
	CustomerRowsWarning int64 `yaml:"customer_rows_warning"`
}

// Jobs tunes the job workers.
type Jobs struct {
	// DueInterval is how often due clones are started, clones whose runner died are
	// restarted and undelivered announcements are swept. Default 15s.
	DueInterval time.Duration `yaml:"due_interval"`
	// RescueAfter is how long a job may stay running before it is presumed lost
	// with its process and run again. Keep it longer than any job but a clone
	// (whose rescue goes by its run lock instead). Default 15m.
	RescueAfter time.Duration `yaml:"rescue_after"`
	// SweepInterval is how often Zendesk's incremental ticket export is read for
	// clone requests whose webhook was lost. Default 5m.
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// CloneDeadline bounds a clone: one still running then is stopped, its sandbox
	// rolled back, and the ticket told. Default 2h.
	CloneDeadline time.Duration `yaml:"clone_deadline"`
}

// InstanceTimeouts bound every session clonebot opens on an instance database.
type InstanceTimeouts struct {
	// Connect bounds connecting. Default 10s.
	Connect time.Duration `yaml:"connect"`
	// Lock is lock_timeout: a statement waiting this long for a lock held by
	// another session fails, naming the table and the session. Default 30s.
	Lock time.Duration `yaml:"lock"`
	// Statement is statement_timeout: no single statement (a table's copy, an
	// index build) runs longer. Default 30m.
	Statement time.Duration `yaml:"statement"`
}

// Zendesk is how clonebot reaches Zendesk and reads its tickets.
type Zendesk struct {
	// URL is the account's base URL, e.g. https://acme.zendesk.com. Required.
	URL   string `yaml:"url"`
	Email string `yaml:"email"`
	// APIToken authenticates as Email. Zendesk retires API tokens on 2027-04-30;
	// prefer OAuth.
	APIToken string `yaml:"api_token"`
	OAuth    *OAuth `yaml:"oauth"`
	// WebhookSecrets are the signing secrets accepted; several during a rotation. Required.
	WebhookSecrets []string `yaml:"webhook_secrets"`
	// WebhookMaxAge is how far a webhook's signed timestamp may be from now. Default 5m.
	WebhookMaxAge time.Duration `yaml:"webhook_max_age"`
	// WebhookRetryAfter is the Retry-After of a webhook answered 503 (the bot
	// database is down). Zendesk retries a 503 only when it is under 60 s. Default 20s.
	WebhookRetryAfter time.Duration `yaml:"webhook_retry_after"`
	// BotUserID is clonebot's own Zendesk user: events it caused are ignored, and its
	// tags are never a decision. Required.
	BotUserID int64 `yaml:"bot_user_id"`
	// ServiceAccountIDs are other automation users (integrations, other bots): like
	// the bot's user, they never approve, hold or reject a clone, whatever their role.
	ServiceAccountIDs []int64 `yaml:"service_account_ids"`
	Fields            Fields  `yaml:"fields"`
	Tags              Tags    `yaml:"tags"`
}

// OAuth is a confidential OAuth client using the client-credentials grant.
type OAuth struct {
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// Scopes are the scopes the bot asks for. Empty means the notifier's default,
	// [read, write]: it reads tickets, audits and users, and writes comments, tags
	// and uploads.
	Scopes []string `yaml:"scopes"`
}

// Fields are the ids of the four ticket fields of the clone request form. Required.
type Fields struct {
	ProductionInstance int64 `yaml:"production_instance"`
	SandboxInstance    int64 `yaml:"sandbox_instance"`
	WipeConfirmation   int64 `yaml:"wipe_confirmation"`
	Users              int64 `yaml:"users"`
}

// Tags are the ticket tags that drive the life cycle.
type Tags struct {
	Request string `yaml:"request"` // default sandbox_clone
	Approve string `yaml:"approve"` // default clone_approved
	Hold    string `yaml:"hold"`    // default clone_hold
	Reject  string `yaml:"reject"`  // default clone_rejected
	// Rollback restores a ready clone's sandbox as it was before. Default clone_rollback.
	Rollback string `yaml:"rollback"`
}

// Window is a daily low-activity window as HH:MM times; End before Start wraps midnight.
type Window struct {
	Start string `yaml:"start"` // default 02:00
	End   string `yaml:"end"`   // default 05:00
}

// Tenant is one customer with its instances.
type Tenant struct {
	Name string `yaml:"name"`
	// Timezone is an IANA zone name; the window is read in it. Default UTC.
	Timezone               string  `yaml:"timezone"`
	ZendeskOrganizationIDs []int64 `yaml:"zendesk_organization_ids"`
	// Instances are the tenant's databases; each carries the tenant's name and
	// organizations once the file is loaded.
	Instances []registry.Instance `yaml:"instances"`
}

// Environments of an instance.
const (
	Production = registry.Production
	Sandbox    = registry.Sandbox
)

// Location returns the tenant's time zone; Load has checked that it exists.
func (t Tenant) Location() *time.Location {
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Instances lists every tenant's instances, in the file's order.
func (c *Config) Instances() []registry.Instance {
	var all []registry.Instance
	for _, t := range c.Tenants {
		all = append(all, t.Instances...)
	}
	return all
}

// Registry is the instance registry of a loaded configuration, which Load has
// validated.
func (c *Config) Registry() (*registry.Registry, error) {
	return registry.New(c.Instances())
}

// TenantOf returns the tenant that owns the instance named name.
func (c *Config) TenantOf(name string) (Tenant, registry.Instance, bool) {
	for _, t := range c.Tenants {
		for _, in := range t.Instances {
			if in.Name == name {
				return t, in, true
			}
		}
	}
	return Tenant{}, registry.Instance{}, false
}
