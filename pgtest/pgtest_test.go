package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestFromTemplateCopiesSetupAndIsolates(t *testing.T) {
	t.Parallel()
	setup := func(ctx context.Context, url string) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE widgets (id int); INSERT INTO widgets VALUES (1), (2)")
		return err
	}
	key := Key("pgtest_selftest", []byte("widgets v1"))
	a := FromTemplate(t, key, setup)
	b := FromTemplate(t, key, setup)
	if a == b {
		t.Fatalf("two calls returned the same database %s", a)
	}
	ctx := context.Background()
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	if _, err := ca.Exec(ctx, "DELETE FROM widgets"); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	var n int
	if err := cb.QueryRow(ctx, "SELECT count(*) FROM widgets").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("second database has %d widgets, want 2 from the template", n)
	}
}

func TestDropTemplatesThenBuildAgain(t *testing.T) {
	t.Parallel()
	builds := 0
	setup := func(ctx context.Context, url string) error {
		builds++
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE gadgets (id int)")
		return err
	}
	prefix := "pgtest_drop_" + randomSuffix()
	key := Key(prefix, []byte("gadgets v1"))
	FromTemplate(t, key, setup)
	dropped, size, err := DropTemplates(context.Background(), AdminURL(), prefix)
	if err != nil || len(dropped) != 1 || dropped[0] != templatePrefix+key || size <= 0 {
		t.Fatalf("DropTemplates = %v, %d bytes, %v; want the one template", dropped, size, err)
	}
	admin, err := pgx.Connect(context.Background(), AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var n int
	if err := admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", templatePrefix+key).Scan(&n); err != nil || n != 0 {
		t.Fatalf("template still there: %d, %v", n, err)
	}
	FromTemplate(t, key, setup) // built again
	if builds != 2 {
		t.Errorf("setup ran %d times, want 2", builds)
	}
	t.Cleanup(func() {
		if _, _, err := DropTemplates(context.Background(), AdminURL(), prefix); err != nil {
			t.Error(err)
		}
	})
}
