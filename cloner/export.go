package cloner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/natsort"
)

// The clone's export: before anything of the sandbox is replaced, every sandbox
// row the clone deletes or overwrites is saved into archives (sandbox_export.go)
// and handed to Options.BeforeWipe. The export must hold everything the clone
// replaces, so what the application writes in the meantime matters:
//
//   - In place, the manifest tables are locked against writes (EXCLUSIVE: the
//     application still reads them) before the export reads them, until the
//     clone commits or rolls back. Nothing can change between the two.
//   - A swap leaves the sandbox readable and writable until the switch. The
//     export reads one snapshot of the sandbox; the switch, once it holds every
//     live table, checks that each cloned table still holds exactly the row
//     versions of that snapshot: the same number, and the same sum of a hash of
//     each version's place (ctid, and the table of a partition) and the
//     transaction that wrote it (xmin), read at the export and again in the
//     switch. A deleted row is missing; an inserted one is more; an updated one is
//     a new version, in a new place, written by another transaction; so the
//     check misses no change, whether made by a transaction or a subtransaction
//     (whose xid no snapshot lists), and it reads no column. If the application
//     wrote, the switch rolls back, the sandbox is
//     exported again (BeforeWipe is called again, with Round 2, 3) and the switch
//     retried; after maxExportRounds exports the clone fails with
//     ErrSandboxChanged, nothing replaced. Writes to excluded tables are not
//     checked: those tables are never exported, the clone empties them by design.

// ErrSandboxChanged means the application kept writing to the sandbox's cloned
// tables while a swap loaded: each export was out of date by the switch. Nothing
// was replaced.
var ErrSandboxChanged = errors.New("the sandbox changed after its export")

// maxExportRounds bounds how often a swap exports the sandbox again because the
// application wrote to it during the load.
const maxExportRounds = 3

// exportLocked exports the sandbox for the in-place method, in its transaction,
// with the manifest tables closed to writes until the clone ends.
func (r *run) exportLocked(ctx context.Context, tx pgx.Tx, snap *snapshot) error {
	r.phaseStart("export")
	if err := lockAgainstWrites(ctx, tx, r.plan.wipe); err != nil {
		return err
	}
	e, err := r.writeExport(ctx, snap.tx, tx)
	if err != nil {
		return err
	}
	return r.handOver(ctx, e)
}

// exportSnapshot exports the sandbox as one snapshot shows it, for a swap, on
// conn (the clone's locked connection). The snapshot ends before BeforeWipe runs:
// an upload may take a while, and an open snapshot holds back vacuum.
func (r *run) exportSnapshot(ctx context.Context, conn *pgx.Conn, snap *snapshot) error {
	r.phaseStart("export")
	return r.exportRound(ctx, conn, snap)
}

// exportRound is one export of the sandbox, as exportSnapshot makes it, without
// starting a phase: the first round of a swap runs beside the load.
func (r *run) exportRound(ctx context.Context, conn *pgx.Conn, snap *snapshot) error {
	tx, err := conn.BeginTx(ctx, snapshotTx)
	if err != nil {
		return fmt.Errorf("begin the sandbox export: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	e, err := r.writeExport(ctx, snap.tx, tx)
	if err != nil {
		return err
	}
	if err := tx.Rollback(ctx); err != nil {
		return fmt.Errorf("end the sandbox export: %w", err)
	}
	return r.handOver(ctx, e)
}

// lockAgainstWrites takes the tables in EXCLUSIVE mode: others may read them,
// nobody else may write them, until the transaction ends.
func lockAgainstWrites(ctx context.Context, tx pgx.Tx, tables []*table) error {
	return onTables(ctx, tx, tables, "close to writes, for the export, sandbox tables", func(idents string) string {
		return "LOCK TABLE " + idents + " IN EXCLUSIVE MODE"
	})
}

// writeExport writes the archives of one export round.
func (r *run) writeExport(ctx context.Context, prod, sbx pgx.Tx) (*SandboxExport, error) {
	dir, err := r.exportDir()
	if err != nil {
		return nil, err
	}
	// Each round's files are named by their second: a later round takes a later one.
	at := r.c.now().UTC().Truncate(time.Second)
	if !at.After(r.exportedAt) && !r.exportedAt.IsZero() {
		at = r.exportedAt.Add(time.Second)
	}
	r.exportedAt = at
	cfg := ArchiveConfig{Dir: dir, Instance: r.report.To, At: at, FirstCategory: r.c.workflowsCategory()}
	e, err := exportSandboxWork(ctx, prod, sbx, r.plan.driftTables(), cfg, r.c.lookupKeys)
	if err != nil {
		return nil, fmt.Errorf("export sandbox %s: %w", r.report.To, err)
	}
	r.exportRounds++
	e.Round = r.exportRounds
	e.Workflows = slices.Clone(r.plan.SandboxOnlyWorkflows)
	natsort.Strings(e.Workflows)
	return e, nil
}

// exportDir is where the archives go: Options.ExportDir, else a temporary
// directory that the clone removes when it ends.
func (r *run) exportDir() (string, error) {
	if r.opts.ExportDir != "" {
		return r.opts.ExportDir, nil
	}
	if r.tempDir == "" {
		prefix := pendingExportPrefix(r.report.To, r.plan.Target)
		r.removeLeftovers(prefix)
		dir, err := os.MkdirTemp("", prefix)
		if err != nil {
			return "", fmt.Errorf("export directory: %w", err)
		}
		r.tempDir = dir
	}
	return r.tempDir, nil
}

// pendingExportPrefix names the temporary export directories of one sandbox
// database: its instance, and a hash of what the database says it is, so that
// sandboxes of the same name elsewhere (another registry, a test) never share it.
func pendingExportPrefix(sandbox string, target *Evidence) string {
	id := ""
	if target != nil {
		d := target.Database
		id = strings.Join([]string{d.SystemIdentifier, strconv.FormatUint(uint64(d.DatabaseOID), 10), d.Database}, "\x00")
	}
	sum := sha256.Sum256([]byte(sandbox + "\x00" + id))
	return "clonebot-pending-export-" + safeName(sandbox) + "-" + hex.EncodeToString(sum[:4]) + "-"
}

// removeLeftovers removes the temporary export directories a killed clone of the
// same sandbox database left on this machine. None can belong to a clone still
// running: the caller holds the sandbox's clone lock.
func (r *run) removeLeftovers(prefix string) {
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return
	}
	mine := regexp.MustCompile("^" + regexp.QuoteMeta(prefix) + "[0-9]+$")
	for _, e := range entries {
		if !e.IsDir() || !mine.MatchString(e.Name()) {
			continue
		}
		path := filepath.Join(os.TempDir(), e.Name())
		if err := os.RemoveAll(path); err != nil {
			r.c.log.WithError(err).WithField("dir", path).Warn("could not remove the export a killed clone left")
			continue
		}
		r.c.log.WithField("dir", path).Info("removed the export a killed clone left")
	}
}

// removeTemp removes the temporary export directory, if any.
func (r *run) removeTemp() {
	if r.tempDir != "" {
		if err := os.RemoveAll(r.tempDir); err != nil {
			r.c.log.WithError(err).Warn("could not remove the temporary export directory")
		}
	}
}

// handOver records an export and gives it to BeforeWipe.
func (r *run) handOver(ctx context.Context, e *SandboxExport) error {
	r.exported = e
	r.plan.setDrift(e.Drift)
	r.report.Drift, r.report.DriftByCategory = r.plan.Drift, r.plan.DriftByCategory
	r.report.Export = ExportSummary{Rounds: e.Round, Rows: e.Rows(), Archives: e.Archives, Workflows: e.Workflows, Dir: r.opts.ExportDir}
	if r.opts.BeforeWipe == nil {
		return nil
	}
	if err := r.opts.BeforeWipe(ctx, e); err != nil {
		return fmt.Errorf("save the sandbox export before the wipe: %w", err)
	}
	return nil
}

// workflowsCategory is the category of the manifest's workflows table, exported
// first; empty when the manifest names none.
func (c *Cloner) workflowsCategory() string {
	if c.manifest.Workflows == nil {
		return ""
	}
	return c.tables.category[c.tables.table(c.manifest.Workflows.Table)]
}

// checkUnchanged runs in the switch, once the live tables are locked: every
// cloned table must hold exactly the row versions the export saw, or the export
// misses what the application wrote since.
func (r *run) checkUnchanged(ctx context.Context, tx pgx.Tx) error {
	e := r.exported
	if e == nil {
		return errors.New("the switch found no export of the sandbox")
	}
	var changed []string
	for _, t := range e.tables {
		var rows, hi, lo int64
		if err := tx.QueryRow(ctx, rowVersionSQL(t.from)).Scan(&rows, &hi, &lo); err != nil {
			return fmt.Errorf("check sandbox table %s is as exported: %w", t.name, err)
		}
		switch {
		case rows != t.rows:
			changed = append(changed, fmt.Sprintf("%s (%d rows exported, %d now)", t.name, t.rows, rows))
		case hi != t.hi || lo != t.lo:
			changed = append(changed, fmt.Sprintf("%s (%d rows, written to since the export)", t.name, rows))
		}
	}
	if len(changed) > 0 {
		return fmt.Errorf("%w: %s", ErrSandboxChanged, strings.Join(changed, ", "))
	}
	return nil
}

// rowVersionSQL counts the row versions of a table (from is its FROM clause) and
// sums, as two 32-bit halves, a hash of each one's place and writer: the table
// (a partition's own), the ctid and the xmin. No two versions share all three,
// and a change of a row is a new version, so equal sums on equal counts mean the
// same versions. It reads no column.
func rowVersionSQL(from string) string {
	return "SELECT count(*), coalesce(sum(h >> 32), 0), coalesce(sum(h & 2147483647), 0) FROM (" +
		"SELECT pg_catalog.hashtextextended(t.ctid::text, (t.tableoid::int8 << 32) | t.xmin::text::int8) AS h FROM " + from + " t) s"
}
