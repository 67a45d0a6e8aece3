package cloner

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Export is the sandbox-only work saved before the wipe: the workflows in the
// sandbox but not in production, with their steps, as JSON:
//
//	{"instance": "acme-sandbox", "exported_at": "...", "workflows": [
//	  {"workflow": {row...}, "steps": {"public.workflow_steps": [{row...}, ...]}}]}
type Export struct {
	Workflows []string // names
	JSON      []byte
}

type exportDoc struct {
	Instance   string          `json:"instance"`
	ExportedAt time.Time       `json:"exported_at"`
	Workflows  json.RawMessage `json:"workflows"`
}

// exportSandboxOnly reads the sandbox-only workflows and their steps as JSON,
// built by the sandbox itself.
func (c *Cloner) exportSandboxOnly(ctx context.Context, tx pgx.Tx, p *Plan, cat *catalog) (Export, error) {
	e := Export{Workflows: p.SandboxOnlyWorkflows}
	rows := json.RawMessage("[]")
	if w := c.manifest.Workflows; w != nil && len(p.sandboxOnlyKeys) > 0 {
		q, args := c.exportSQL(cat, p.sandboxOnlyKeys)
		var text string
		if err := tx.QueryRow(ctx, q, args...).Scan(&text); err != nil {
			return e, fmt.Errorf("export sandbox-only workflows from %s: %w", c.tables.table(w.Table), err)
		}
		rows = json.RawMessage(text)
	}
	b, err := json.Marshal(exportDoc{Instance: p.To, ExportedAt: c.now().UTC(), Workflows: rows})
	if err != nil {
		return e, fmt.Errorf("encode export: %w", err)
	}
	e.JSON = b
	return e, nil
}

func (c *Cloner) exportSQL(cat *catalog, keys []string) (string, []any) {
	w := c.manifest.Workflows
	wt := cat.tables[c.tables.table(w.Table)]
	args := []any{keys}
	steps := "'{}'::jsonb"
	if len(wt.pk) == 1 && len(w.Steps) > 0 {
		var parts []string
		for _, s := range w.Steps {
			st := cat.tables[c.tables.table(s.Table)]
			if st == nil {
				continue
			}
			args = append(args, st.name.String())
			parts = append(parts, fmt.Sprintf("$%d::text, (SELECT coalesce(jsonb_agg(to_jsonb(s) ORDER BY to_jsonb(s)::text), '[]') FROM %s s WHERE s.%s = w.%s)",
				len(args), st.ident(), col(s.Workflow), col(wt.pk[0])))
		}
		if len(parts) > 0 {
			steps = "jsonb_build_object(" + strings.Join(parts, ", ") + ")"
		}
	}
	q := "SELECT coalesce(jsonb_agg(jsonb_build_object('workflow', to_jsonb(w), 'steps', " + steps + ") ORDER BY w." + col(w.Name) + "), '[]')::text FROM " +
		wt.ident() + " w WHERE " + keyExpr("w", w.Key) + " = ANY($1::text[])"
	return q, args
}
