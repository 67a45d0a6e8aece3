// Package storetest gives a test its own migrated bot database, copied from a template
// that is rebuilt whenever the migrations change.
package storetest

import (
	"context"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gaiia/clonebot/pgtest"
	"github.com/gaiia/clonebot/store"
)

// NewDatabase returns the URL of a fresh, fully migrated bot database.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return pgtest.FromTemplate(t, templateKey(t), func(ctx context.Context, url string) error {
		pool, err := store.Open(ctx, url)
		if err != nil {
			return err
		}
		defer pool.Close()
		return store.Migrate(ctx, pool)
	})
}

// NewPool returns a pool on a fresh, fully migrated bot database, closed when t ends.
func NewPool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	url := NewDatabase(t)
	pool, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, url
}

func templateKey(t testing.TB) string {
	var parts [][]byte
	err := fs.WalkDir(store.MigrationFiles(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(store.MigrationFiles(), path)
		parts = append(parts, []byte(path), b)
		return err
	})
	if err != nil {
		t.Fatalf("storetest: read migrations: %v", err)
	}
	// The River version is part of what the template holds.
	parts = append(parts, []byte("river v0.51.2"))
	return pgtest.Key("bot", parts...)
}
