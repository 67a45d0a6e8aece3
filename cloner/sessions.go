package cloner

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// applicationName tells the instances' administrators which sessions are clonebot's
// (pg_stat_activity), unless the instance's URL names another.
const applicationName = "clonebot"

// connectTo opens a session on an instance with the cloner's bounds: connecting
// within ConnectTimeout, and lock_timeout and statement_timeout set for every
// statement, so that no wait on an instance is unbounded. row_security is off: a
// read that row-level security would filter fails instead of skipping rows (the
// preflight refuses a role it would apply to).
func (c *Cloner) connectTo(ctx context.Context, in Instance) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(in.DatabaseURL)
	if err != nil {
		// pgx's parse errors never quote a password.
		return nil, fmt.Errorf("instance %s: database URL: %w", in.Name, err)
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > c.connectTimeout {
		cfg.ConnectTimeout = c.connectTimeout
	}
	cfg.RuntimeParams["lock_timeout"] = millis(c.lockTimeout)
	cfg.RuntimeParams["statement_timeout"] = millis(c.statementTimeout)
	cfg.RuntimeParams["row_security"] = "off"
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = applicationName
	}
	return pgx.ConnectConfig(ctx, cfg)
}

func millis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
