package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/fixtures"
)

// databases are the demo's PostgreSQL databases, named with a random suffix so runs
// never collide.
type databases struct {
	admin                    string
	bot, production, sandbox string
}

func newDatabases(admin string) (*databases, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	s := hex.EncodeToString(b)
	return &databases{admin: admin, bot: "clonebot_demo_bot_" + s, production: "clonebot_demo_acme_prod_" + s, sandbox: "clonebot_demo_acme_sandbox_" + s}, nil
}

func (d *databases) names() []string { return []string{d.bot, d.production, d.sandbox} }

// url returns the URL of database name on the admin URL's server.
func (d *databases) url(name string) string {
	u, err := url.Parse(d.admin)
	if err != nil {
		return ""
	}
	u.Path = "/" + name
	return u.String()
}

// create makes the three databases and fills the two instances.
func (d *databases) create(ctx context.Context, scale int64) error {
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL at %s: %w", redacted(d.admin), err)
	}
	defer conn.Close(ctx)
	for _, name := range d.names() {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
	}
	for _, inst := range []struct {
		name string
		kind fixtures.Kind
	}{{d.production, fixtures.Production}, {d.sandbox, fixtures.Sandbox}} {
		if err := fixtures.ApplySchema(ctx, d.url(inst.name)); err != nil {
			return fmt.Errorf("instance schema in %s: %w", inst.name, err)
		}
		opts := fixtures.GenerateOptions{Kind: inst.kind, Seed: 7, ConfigBytes: scale, CustomerBytes: scale}
		if err := fixtures.Generate(ctx, d.url(inst.name), opts); err != nil {
			return fmt.Errorf("generate %s data in %s: %w", inst.kind, inst.name, err)
		}
	}
	return nil
}

// drop removes the databases.
func (d *databases) drop(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	for _, name := range d.names() {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
	}
	return nil
}

func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
