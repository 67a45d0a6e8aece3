package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gaiia/clonebot/registry"
)

// defaultListen is serve's HTTP address when the file names none.
const defaultListen = ":8080"

func (c *Config) applyDefaults() {
	c.Listen = orDefault(c.Listen, defaultListen)
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Zendesk.WebhookMaxAge == 0 {
		c.Zendesk.WebhookMaxAge = 5 * time.Minute
	}
	if c.Zendesk.WebhookRetryAfter == 0 {
		c.Zendesk.WebhookRetryAfter = 20 * time.Second
	}
	t := &c.Zendesk.Tags
	t.Request = orDefault(t.Request, "sandbox_clone")
	t.Approve = orDefault(t.Approve, "clone_approved")
	t.Hold = orDefault(t.Hold, "clone_hold")
	t.Reject = orDefault(t.Reject, "clone_rejected")
	t.Rollback = orDefault(t.Rollback, "clone_rollback")
	if c.Jobs.DueInterval == 0 {
		c.Jobs.DueInterval = 15 * time.Second
	}
	if c.Jobs.RescueAfter == 0 {
		c.Jobs.RescueAfter = 15 * time.Minute
	}
	if c.Preflight.CustomerRowsWarning == 0 {
		c.Preflight.CustomerRowsWarning = 10_000
	}
	if c.Jobs.SweepInterval == 0 {
		c.Jobs.SweepInterval = 5 * time.Minute
	}
	if c.Jobs.CloneDeadline == 0 {
		c.Jobs.CloneDeadline = 2 * time.Hour
	}
	it := &c.InstanceTimeouts
	if it.Connect == 0 {
		it.Connect = 10 * time.Second
	}
	if it.Lock == 0 {
		it.Lock = 30 * time.Second
	}
	if it.Statement == 0 {
		it.Statement = 30 * time.Minute
	}
	if c.Rollback.Retention == 0 {
		c.Rollback.Retention = 7 * 24 * time.Hour
	}
	c.Window.Start = orDefault(c.Window.Start, "02:00")
	c.Window.End = orDefault(c.Window.End, "05:00")
	for i := range c.Tenants {
		t := &c.Tenants[i]
		t.Timezone = orDefault(t.Timezone, "UTC")
		for j := range t.Instances {
			t.Instances[j].Tenant, t.Instances[j].OrganizationIDs = t.Name, t.ZendeskOrganizationIDs
		}
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (c *Config) validate(sc scope) Errors {
	var es Errors
	add := func(key, format string, args ...any) {
		es = append(es, Error{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level", "must be one of debug, info, warn, error")
	}
	c.validateTenants(add)
	c.InstanceTimeouts.validate(add)
	if c.Preflight.CustomerRowsWarning < 0 {
		add("preflight.customer_rows_warning", "must be a positive number of rows, e.g. 10000")
	}
	if c.Clone.Jobs < 0 || c.Clone.Jobs > 64 {
		add("clone.jobs", "must be between 1 and 64, or 0 for the cores available")
	}
	if c.Rollback.Retention < time.Hour {
		add("rollback.retention", "must be at least 1h, e.g. 168h for a week")
	}
	if sc == scopeInstances {
		return es
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || !validPort(port) {
		add("listen", "must be HOST:PORT or :PORT, e.g. \":8080\"")
	}
	if c.DatabaseURL == "" {
		add("database_url", "required: the bot's own PostgreSQL database, e.g. postgres://clonebot@db/clonebot")
	} else if !isDatabaseURL(c.DatabaseURL) {
		add("database_url", "must be a postgres:// URL")
	}
	c.Zendesk.validate(add)
	c.Window.validate(add)
	c.Jobs.validate(add)
	if d := c.Policy.MinDays(); d < 0 || d > 3650 {
		add("policy.min_days_between_clones", "must be a number of days from 0 (never flag) to 3650, e.g. 30")
	}
	if c.Policy.MinDriftRows < 0 {
		add("policy.min_drift_rows", "must be a number of rows, 0 (never flag) or more, e.g. 100")
	}
	return es
}

type addFunc func(key, format string, args ...any)

// fieldsPath is where Zendesk lists ticket fields; docs/zendesk-setup.md says the same.
const fieldsPath = "Admin Center > Objects and rules > Tickets > Fields"

func (z *Zendesk) validate(add addFunc) {
	if u, err := url.Parse(z.URL); z.URL == "" || err != nil || u.Scheme == "" || u.Host == "" {
		add("zendesk.url", "required: the account's URL, e.g. https://acme.zendesk.com")
	}
	hasOAuth := z.OAuth != nil
	switch {
	case z.APIToken == "" && !hasOAuth:
		add("zendesk.api_token", "set zendesk.api_token (with zendesk.email) or zendesk.oauth")
	case z.APIToken != "" && hasOAuth:
		add("zendesk.oauth", "set either zendesk.api_token or zendesk.oauth, not both")
	case z.APIToken != "" && z.Email == "":
		add("zendesk.email", "required with zendesk.api_token: the address of the bot's Zendesk user")
	}
	if hasOAuth {
		if z.OAuth.ClientID == "" {
			add("zendesk.oauth.client_id", "required: the OAuth client's identifier")
		}
		if z.OAuth.ClientSecret == "" {
			add("zendesk.oauth.client_secret", "required: the OAuth client's secret, e.g. \"${ZENDESK_OAUTH_SECRET}\"")
		}
		for i, sc := range z.OAuth.Scopes {
			if sc == "" || strings.ContainsAny(sc, " \t,") {
				add(fmt.Sprintf("zendesk.oauth.scopes[%d]", i), "a scope is one word, e.g. read, write or tickets:write")
			}
		}
	}
	if len(z.WebhookSecrets) == 0 {
		add("zendesk.webhook_secrets", "required: at least one webhook signing secret, e.g. [\"${ZENDESK_WEBHOOK_SECRET}\"]")
	}
	for i, s := range z.WebhookSecrets {
		if strings.TrimSpace(s) == "" {
			add(fmt.Sprintf("zendesk.webhook_secrets[%d]", i), "is empty")
		}
	}
	if z.WebhookMaxAge < 0 {
		add("zendesk.webhook_max_age", "must be positive, e.g. 5m")
	}
	if ra := z.WebhookRetryAfter; ra < time.Second || ra >= time.Minute || ra%time.Second != 0 {
		add("zendesk.webhook_retry_after", "must be whole seconds from 1s to 59s, e.g. 20s: Zendesk drops a 503 whose Retry-After is a minute or more")
	}
	if z.BotUserID <= 0 {
		add("zendesk.bot_user_id", "required: the Zendesk user id clonebot acts as, so its own updates are ignored")
	}
	for i, id := range z.ServiceAccountIDs {
		if id <= 0 {
			add(fmt.Sprintf("zendesk.service_account_ids[%d]", i), "must be a Zendesk user id, e.g. 361100000002")
		}
	}
	f := z.Fields
	fieldKeys := map[int64]string{}
	for _, fld := range []struct {
		key string
		id  int64
	}{{"production_instance", f.ProductionInstance}, {"sandbox_instance", f.SandboxInstance}, {"wipe_confirmation", f.WipeConfirmation}, {"users", f.Users}} {
		if fld.id <= 0 {
			add("zendesk.fields."+fld.key, "required: the id of the ticket field ("+fieldsPath+")")
			continue
		}
		if other, dup := fieldKeys[fld.id]; dup {
			add("zendesk.fields."+fld.key, "is the same field as zendesk.fields.%s; each answer needs a field of its own", other)
		}
		fieldKeys[fld.id] = fld.key
	}
	seen := map[string]string{}
	for _, kt := range [][2]string{{"request", z.Tags.Request}, {"approve", z.Tags.Approve}, {"hold", z.Tags.Hold}, {"reject", z.Tags.Reject}, {"rollback", z.Tags.Rollback}} {
		key, tag := kt[0], kt[1]
		if strings.ContainsAny(tag, " \t,") || tag != strings.ToLower(tag) {
			add("zendesk.tags."+key, "a Zendesk tag is lower case with no spaces or commas")
		}
		if other, dup := seen[tag]; dup {
			add("zendesk.tags."+key, "is the same tag as zendesk.tags.%s; each tag must differ", other)
		}
		seen[tag] = key
	}
}

func (w Window) validate(add addFunc) {
	start, errS := ParseClock(w.Start)
	end, errE := ParseClock(w.End)
	if errS != nil {
		add("window.start", "must be a time of day as HH:MM, e.g. \"02:00\"")
	}
	if errE != nil {
		add("window.end", "must be a time of day as HH:MM, e.g. \"05:00\"")
	}
	if errS == nil && errE == nil && start == end {
		add("window.end", "equals window.start; the window would be empty")
	}
}

func (j Jobs) validate(add addFunc) {
	if j.DueInterval < time.Second {
		add("jobs.due_interval", "must be at least 1s, e.g. 15s")
	}
	if j.RescueAfter < time.Minute {
		add("jobs.rescue_after", "must be at least 1m (jobs other than clones may run a minute), e.g. 15m")
	}
	if j.SweepInterval < 10*time.Second {
		add("jobs.sweep_interval", "must be at least 10s (Zendesk allows 10 export requests a minute), e.g. 5m")
	}
	if j.CloneDeadline < time.Minute {
		add("jobs.clone_deadline", "must be at least 1m, and longer than your largest clone, e.g. 2h")
	}
}

func (t InstanceTimeouts) validate(add addFunc) {
	if t.Connect < time.Second {
		add("instance_timeouts.connect", "must be at least 1s, e.g. 10s")
	}
	if t.Lock < 100*time.Millisecond {
		add("instance_timeouts.lock", "must be at least 100ms, e.g. 30s")
	}
	if t.Statement < time.Second {
		add("instance_timeouts.statement", "must be at least 1s, and longer than the copy of your largest table, e.g. 30m")
	}
	if t.Statement > 0 && t.Lock >= t.Statement {
		add("instance_timeouts.lock", "must be shorter than instance_timeouts.statement, so that a wait for a lock is reported as one")
	}
}

// ParseClock reads HH:MM as a duration since midnight.
func ParseClock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("not HH:MM: %w", err)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

func (c *Config) validateTenants(add addFunc) {
	if len(c.Tenants) == 0 {
		add("tenants", "required: at least one tenant with a production and a sandbox instance")
	}
	tenantNames := map[string]bool{}
	var keys []string // each instance's key, in the order of c.Instances()
	for i, t := range c.Tenants {
		key := fmt.Sprintf("tenants[%d]", i)
		if t.Name == "" {
			add(key+".name", "required")
		} else if tenantNames[t.Name] {
			add(key+".name", "tenant %q is listed twice", t.Name)
		}
		tenantNames[t.Name] = true
		if _, err := time.LoadLocation(t.Timezone); err != nil || t.Timezone == "Local" {
			add(key+".timezone", "%q is not a known time zone; use an IANA name such as America/Toronto", t.Timezone)
		}
		envs := map[string]int{}
		for j, in := range t.Instances {
			keys = append(keys, fmt.Sprintf("%s.instances[%d]", key, j))
			envs[in.Environment]++
		}
		if envs[Production] == 0 {
			add(key+".instances", "tenant %q has no production instance", t.Name)
		}
		if envs[Production] > 1 {
			add(key+".instances", "tenant %q has %d production instances; it must have one", t.Name, envs[Production])
		}
		if envs[Sandbox] == 0 {
			add(key+".instances", "tenant %q has no sandbox instance", t.Name)
		}
	}
	all := c.Instances()
	for _, p := range registry.Check(all) {
		switch {
		case p.Field == "tenant":
			// The tenant's own name is reported once, at tenants[i].name.
		case p.Duplicate >= 0:
			add(keys[p.Index]+".name", "instance %q is already defined at %s; names must be unique", all[p.Index].Name, keys[p.Duplicate])
		default:
			add(keys[p.Index]+"."+p.Field, "%s", p.Message)
		}
	}
}

func isDatabaseURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql")
}

// validPort is a TCP port number, 0 (any) included.
func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}
