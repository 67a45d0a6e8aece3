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
