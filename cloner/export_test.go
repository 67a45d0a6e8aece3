package cloner

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// What the application writes to the sandbox during a swap's load, after the
// export, must not be lost: the switch finds it, the sandbox is exported again
// with it, and only then switched. Each kind of write is found: an insert, an
// update, a delete alone, and a delete and an insert that keep the count.
func TestSwapExportsAgainWhatTheSandboxWrites(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, write string
		find        func(readFile) bool // the second export holds the write
	}{
		{"insert", "INSERT INTO workflows (key, name, status, trigger_event) VALUES ('written-during-load', 'Flow written during the load', 'draft', 'x')",
			func(f readFile) bool { return strings.Contains(f.text, "Flow written during the load") }},
		{"update", "UPDATE workflows SET name = 'Renamed during the load' WHERE id = (SELECT min(id) FROM workflows)",
			func(f readFile) bool { return strings.Contains(f.text, "Renamed during the load") }},
		{"delete", "DELETE FROM workflows WHERE key = 'sandbox-draft-1'",
			func(f readFile) bool {
				return !strings.Contains(f.text, `"sandbox-draft-1"`) && strings.Contains(f.text, `"sandbox-draft-2"`)
			}},
		{"delete and insert", `DELETE FROM device_types d WHERE d.id = (SELECT max(x.id) FROM device_types x
			  WHERE NOT EXISTS (SELECT 1 FROM inventory_item_types i WHERE i.device_type_id = x.id));
			INSERT INTO device_types (vendor, model) VALUES ('Acme', 'Written during the load')`,
			func(f readFile) bool { return strings.Contains(f.text, "Written during the load") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			var rounds []int
			var second string
			var phases []string
			rep, err := e.cloner.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{
				BeforeWipe: func(_ context.Context, x *SandboxExport) error {
					rounds = append(rounds, x.Round)
					if x.Round == 1 {
						execSQL(t, e.sbx, tc.write) // the application, after the export
						return nil
					}
					for _, a := range x.Archives {
						for _, f := range a.Files {
							second += readArchive(t, f.Path).text
						}
					}
					return nil
				},
				Progress: func(p Progress) {
					if p.Phase != "copy" && (len(phases) == 0 || phases[len(phases)-1] != p.Phase) {
						phases = append(phases, p.Phase)
					}
				},
			})
			if err != nil {
				t.Fatalf("clone: %v", err)
			}
			if !slices.Equal(rounds, []int{1, 2}) || rep.Export.Rounds != 2 {
				t.Fatalf("export rounds %v, report %d: the switch did not see the write", rounds, rep.Export.Rounds)
			}
			if !tc.find(readFile{text: second}) {
				t.Errorf("the second export does not reflect the write %q", tc.write)
			}
			if got := strings.Join(phases, ","); got != "preflight,stage,switch,export,switch,cleanup,done" {
				t.Errorf("phases %s", got)
			}
			if !rep.Verification.OK || rep.Rollback == nil {
				t.Errorf("report: %+v", rep.Verification)
			}
		})
	}
}

// A transaction open while the export reads, and committed after, is as new as a
// later one: its update keeps the count, and the switch still sees it, whether
// the update was the transaction's own or a subtransaction's (a savepoint, a
// PL/pgSQL block with an exception handler), whose xid no snapshot lists.
func TestSwapSeesATransactionOpenDuringTheExport(t *testing.T) {
	t.Parallel()
	const renamed = "Renamed in a transaction open during the export"
	update := "UPDATE workflows SET name = '" + renamed + "' WHERE id = (SELECT min(id) FROM workflows)"
	for _, tc := range []struct{ name, before, write string }{
		{"its own", "", update},
		{"a savepoint's", "SAVEPOINT s", update},
		{"an exception block's", "", "DO $$ BEGIN BEGIN " + update + "; EXCEPTION WHEN others THEN NULL; END; END $$"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			ctx := context.Background()
			app := connectT(t, e.sbx)
			tx, err := app.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// The transaction has an xid before its subtransaction writes.
			var xid int64
			if err := tx.QueryRow(ctx, "SELECT pg_current_xact_id()::text::bigint").Scan(&xid); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{tc.before, tc.write} {
				if s == "" {
					continue
				}
				if _, err := tx.Exec(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			// A later transaction ends first: the export's snapshot then lists the
			// open one as running, below its xmax.
			queryInt(t, connectT(t, e.sbx), "SELECT pg_current_xact_id()::text::bigint")
			var rounds []int
			var second string
			_, err = e.cloner.Clone(ctx, "acme-prod", "acme-sandbox", Options{
				BeforeWipe: func(_ context.Context, x *SandboxExport) error {
					rounds = append(rounds, x.Round)
					if x.Round == 1 {
						return tx.Commit(ctx)
					}
					for _, a := range x.Archives {
						for _, f := range a.Files {
							second += readArchive(t, f.Path).text
						}
					}
					return nil
				},
			})
			if err != nil {
				t.Fatalf("clone: %v", err)
			}
			if !slices.Equal(rounds, []int{1, 2}) || !strings.Contains(second, renamed) {
				t.Errorf("export rounds %v; the second holds the update: %v", rounds, strings.Contains(second, renamed))
			}
		})
	}
}

// What changes no row is no change: rows locked FOR UPDATE and a vacuum that
// freezes them keep their versions, and the switch goes ahead after one export.
func TestSwapIgnoresRowLocksAndVacuum(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var rounds []int
	_, err := e.cloner.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{
		BeforeWipe: func(_ context.Context, x *SandboxExport) error {
			rounds = append(rounds, x.Round)
			execSQL(t, e.sbx, "SELECT count(*) FROM (SELECT id FROM workflows FOR UPDATE) s")
			execSQL(t, e.sbx, "VACUUM (FREEZE) workflows")
			return nil
		},
	})
	if err != nil || !slices.Equal(rounds, []int{1}) {
		t.Fatalf("clone: %v after export rounds %v, want one", err, rounds)
	}
}

// An application that writes after every export makes the clone fail once the
// exports run out, with nothing replaced.
func TestSwapGivesUpOnASandboxThatKeepsChanging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	rounds := 0
	_, err := e.cloner.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{
		BeforeWipe: func(_ context.Context, x *SandboxExport) error {
			rounds++
			execSQL(t, e.sbx, "UPDATE workflows SET name = name || '.' WHERE id = (SELECT min(id) FROM workflows)")
			return nil
		},
	})
	if !errors.Is(err, ErrSandboxChanged) || rounds != maxExportRounds || !strings.Contains(err.Error(), "public.workflows (") {
		t.Fatalf("clone after %d exports: %v", rounds, err)
	}
	sbx := connectT(t, e.sbx)
	if n := queryInt(t, sbx, "SELECT count(*) FROM workflows WHERE name LIKE 'Sandbox draft%'"); n != 3 {
		t.Errorf("the sandbox was replaced: %d drafts left", n)
	}
	if n := queryInt(t, sbx, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'clonebot\\_%'"); n != 0 {
		t.Errorf("%d staging or rollback schemas left", n)
	}
}

// In place, nobody writes the sandbox from the export on: what is exported is
// what is wiped. A write tried while the export is handed over waits for the
// clone (here it gives up at its own lock timeout).
func TestInPlaceExportHoldsWritesOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	execSQL(t, e.sbx, inPlaceSQL)
	var writeErr, readErr error
	_, err := e.cloner.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{
		BeforeWipe: func(ctx context.Context, _ *SandboxExport) error {
			app := connectT(t, e.sbx)
			if _, err := app.Exec(ctx, "SET lock_timeout = '200ms'"); err != nil {
				return err
			}
			_, readErr = app.Exec(ctx, "SELECT count(*) FROM workflows")
			_, writeErr = app.Exec(ctx, "INSERT INTO workflows (key, name, status, trigger_event) VALUES ('w', 'W', 'draft', 'x')")
			return nil
		},
	})
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	var pgErr *pgconn.PgError
	if !errors.As(writeErr, &pgErr) || pgErr.Code != "55P03" {
		t.Errorf("a write during the export: %v, want a lock timeout", writeErr)
	}
	if readErr != nil {
		t.Errorf("a read during the export: %v", readErr)
	}
}

// --export-dir keeps the archives where it says; without it they are gone when
// the clone ends.
func TestExportDirKeepsTheArchives(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	dir := t.TempDir()
	rep, err := e.cloner.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{ExportDir: dir})
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	if rep.Export.Dir != dir || len(rep.Export.Archives) == 0 || rep.Export.Archives[0].Category != "workflows" {
		t.Fatalf("report export: %+v", rep.Export)
	}
	for _, a := range rep.Export.Archives {
		for _, f := range a.Files {
			if fi, err := os.Stat(f.Path); err != nil || fi.Size() != f.Bytes || !strings.HasPrefix(f.Path, dir) {
				t.Errorf("%s: %v", f.Path, err)
			}
		}
	}
}

// A clone killed during its export leaves its temporary directory; the next clone
// of the same sandbox database removes it, and nothing of another sandbox or an
// operator's kept export.
func TestCloneRemovesTheExportAKilledCloneLeft(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	p, err := e.cloner.Plan(context.Background(), "acme-prod", "acme-sandbox")
	if err != nil || p.Target == nil {
		t.Fatalf("plan: %v", err)
	}
	other := *p.Target
	other.Database.DatabaseOID++ // a sandbox of the same name in another database
	var left, kept []string
	for _, prefix := range []string{pendingExportPrefix("acme-sandbox", p.Target), pendingExportPrefix("acme-sandbox", &other), "clonebot-export-acme-sandbox-"} {
		dir, err := os.MkdirTemp("", prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.WriteFile(dir+"/acme-sandbox-20261129-070003-workflows.zip", []byte("PK"), 0o600); err != nil {
			t.Fatal(err)
		}
		if left == nil {
			left = append(left, dir)
		} else {
			kept = append(kept, dir)
		}
	}
	if _, err := e.cloner.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{}); err != nil {
		t.Fatalf("clone: %v", err)
	}
	if _, err := os.Stat(left[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed clone's export %s is still there: %v", left[0], err)
	}
	for _, dir := range kept {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s was removed: %v", dir, err)
		}
	}
}
