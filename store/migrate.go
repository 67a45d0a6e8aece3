package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLockID is the advisory lock key that serialises migrations ("clonebot" in hex).
const migrateLockID int64 = 0x636c6f6e65626f74

// ErrNotMigrated is returned by Ready while migrations are still pending.
var ErrNotMigrated = errors.New("database is not migrated")

// MigrationFiles returns the embedded migrations, for tests that build templates.
func MigrationFiles() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return sub
}

// Migrate brings River's tables and clonebot's own to the newest version. It is
// idempotent and safe to run from several processes at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1::bigint)", migrateLockID); err != nil {
		return fmt.Errorf("migrate: take lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1::bigint)", migrateLockID) //nolint:errcheck

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("migrate: river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate: river tables: %w", err)
	}
	provider, db, err := gooseProvider(pool)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate: clonebot tables: %w", err)
	}
	return nil
}

func gooseProvider(pool *pgxpool.Pool) (*goose.Provider, interface{ Close() error }, error) {
	db := stdlib.OpenDBFromPool(pool)
	provider, err := goose.NewProvider(goose.DialectPostgres, db, MigrationFiles(),
		goose.WithTableName("clonebot_schema_version"))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrate: goose provider: %w", err)
	}
	return provider, db, nil
}

// Ready checks, in one cheap query, that the database answers and is fully
// migrated. It is what /readyz runs.
func Ready(ctx context.Context, pool *pgxpool.Pool) error {
	want, err := latestVersions()
	if err != nil {
		return err
	}
	var ours, rivers int64
	err = pool.QueryRow(ctx, `SELECT
		(SELECT coalesce(max(version_id), 0) FROM clonebot_schema_version WHERE is_applied),
		(SELECT count(*) FROM river_migration WHERE line = 'main')`).Scan(&ours, &rivers)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return ErrNotMigrated
	}
	if err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	if ours < want.ours || rivers < want.river {
		return ErrNotMigrated
	}
	return nil
}

type versions struct{ ours, river int64 }

// latestVersions reads the newest migration versions from the embedded files and
// River's migrator, which needs no database for that.
func latestVersions() (versions, error) {
	migrator, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return versions{}, fmt.Errorf("river migrator: %w", err)
	}
	entries, err := fs.ReadDir(MigrationFiles(), ".")
	if err != nil {
		return versions{}, fmt.Errorf("read migrations: %w", err)
	}
	var v versions
	v.river = int64(len(migrator.AllVersions()))
	for _, e := range entries {
		var n int64
		if _, err := fmt.Sscanf(e.Name(), "%d_", &n); err == nil && n > v.ours {
			v.ours = n
		}
	}
	return v, nil
}

// Open connects a pool to url; it does not wait for the database to answer.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database_url: %w", err)
	}
	// pgx defaults to four connections on this size of machine; webhooks, job
	// workers and a clone's run lock need more. pool_max_conns in the URL wins.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 24
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	return pool, nil
}
