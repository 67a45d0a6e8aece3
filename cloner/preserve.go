package cloner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RollbackCopy is the pre-clone sandbox kept inside the sandbox database, in the
// bot's rollback schemas, until it expires: one per sandbox, its latest clone's.
type RollbackCopy struct {
	Instance  string      `json:"instance"`
	CloneID   string      `json:"clone_id"` // the clone that replaced these tables
	From      string      `json:"from"`     // the production instance it cloned
	TakenAt   time.Time   `json:"taken_at"`
	ExpiresAt time.Time   `json:"expires_at"`
	Method    string      `json:"method"` // MethodSwap: the old tables themselves; MethodInPlace: copies of their rows
	Tables    []KeptTable `json:"tables"`
	Bytes     int64       `json:"bytes"` // on disk, indexes included
	Schemas   []string    `json:"schemas"`
	// Sequences are the sequences numbering the kept tables, as the clone found
	// them; absent from copies kept before they were recorded.
	Sequences []KeptSequence `json:"sequences,omitempty"`
}

// KeptSequence is a sequence numbering a kept table's column (schema.table.column),
// as the clone found it.
type KeptSequence struct {
	Column    string `json:"column"`
	LastValue int64  `json:"last_value"`
	IsCalled  bool   `json:"is_called"`
}

// KeptTable is one preserved table: the live table Schema.Table was kept as
// KeptSchema.Table.
type KeptTable struct {
	Schema     string `json:"schema"`
	Table      string `json:"table"`
	KeptSchema string `json:"kept_schema"`
	Partitions int    `json:"partitions,omitempty"` // kept with it (swap only)
}

// Expired reports whether the copy may no longer be restored at now.
func (rc *RollbackCopy) Expired(now time.Time) bool { return !now.Before(rc.ExpiresAt) }

// recordTable holds the sandbox's rollback copy record: one row, or none.
const recordTable = Schema + ".rollback_copy"

const createRecordSQL = `CREATE TABLE IF NOT EXISTS ` + recordTable + ` (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    record jsonb NOT NULL)`

// readRollbackCopy returns the sandbox's copy record, nil when there is none.
func readRollbackCopy(ctx context.Context, q querier) (*RollbackCopy, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", recordTable).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look for the rollback copy: %w", err)
	}
	if !exists {
		return nil, nil
	}
	var raw []byte
	err := q.QueryRow(ctx, "SELECT record FROM "+recordTable).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the rollback copy record: %w", err)
	}
	rc := &RollbackCopy{}
	if err := json.Unmarshal(raw, rc); err != nil {
		return nil, fmt.Errorf("decode the rollback copy record: %w", err)
	}
	return rc, nil
}

// writeRollbackCopy records rc as the sandbox's copy, replacing any other.
func writeRollbackCopy(ctx context.Context, tx pgx.Tx, rc *RollbackCopy) error {
	raw, err := json.Marshal(rc)
	if err != nil {
		return fmt.Errorf("encode the rollback copy record: %w", err)
	}
	if _, err := tx.Exec(ctx, createRecordSQL); err != nil {
		return fmt.Errorf("create the rollback copy record: %w", err)
	}
	_, err = tx.Exec(ctx, "INSERT INTO "+recordTable+" (record) VALUES ($1) ON CONFLICT (singleton) DO UPDATE SET record = EXCLUDED.record", raw)
	if err != nil {
		return fmt.Errorf("write the rollback copy record: %w", err)
	}
	return nil
}

// dropRollbackStatements remove every rollback schema with what it holds, and the
// record. Nothing outside them depends on what they hold (a switch fails rather than
// leave such a dependency), so the drop cannot reach an application object.
func dropRollbackStatements(ctx context.Context, q querier) ([]string, error) {
	schemas, err := botSchemas(ctx, q, rollbackPrefix)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range schemas {
		out = append(out, "DROP SCHEMA "+quoteIdent(s)+" CASCADE")
	}
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", recordTable).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look for the rollback copy: %w", err)
	}
	if exists {
		out = append(out, "DELETE FROM "+recordTable)
	}
	return out, nil
}

// botSchemas lists the schemas whose names start with prefix.
func botSchemas(ctx context.Context, q querier, prefix string) ([]string, error) {
	rows, err := q.Query(ctx, "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1", prefix)
	if err != nil {
		return nil, fmt.Errorf("list schemas %s*: %w", prefix, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list schemas %s*: %w", prefix, err)
	}
	return names, nil
}

// createSchemaStatement creates one of the bot's schemas, readable by nobody else.
func createSchemaStatement(name string) string {
	return "CREATE SCHEMA " + quoteIdent(name)
}
