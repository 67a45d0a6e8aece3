package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/zendesksim"
)

// RollbackStory goes on from a ready ticket: Dana works in the new sandbox, finds
// her team needed the old one (its test customers and integration settings, which
// a clone never keeps), and asks for it back; Sam adds the rollback tag, and
// clonebot restores the sandbox as it was before the clone, which the story checks
// row for row against the sandbox it started with.
func (e *Env) RollbackStory(ctx context.Context, id int64) error {
	p := e.printer
	p.step("Dana renames a plan in the new sandbox, then learns that her team still needs the old sandbox's test customers and integration settings")
	if err := e.editSandbox(ctx); err != nil {
		return err
	}
	if err := e.update(id, e.Customer.ID, zendesksim.TicketChange{Comment: &zendesksim.NewComment{Public: true,
		Body: "Our QA team still needs the old sandbox's test customers and integration settings for next week's release. Can we have the old sandbox back, please?"}}); err != nil {
		return err
	}
	p.comments(id)
	p.step("Sam (agent) adds the clone_rollback tag")
	if err := e.update(id, e.Agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_rollback"}}); err != nil {
		return err
	}
	e.afterChange()
	if err := e.WaitAnnounced(ctx, id, "rolled_back"); err != nil {
		p.comments(id)
		return err
	}
	p.comments(id)
	after, err := digests(ctx, e.SandboxURL())
	if err != nil {
		return err
	}
	if changed := differing(e.sandboxBefore, after); len(changed) > 0 {
		return fmt.Errorf("after the rollback these sandbox tables differ from the sandbox before the clone: %v", changed)
	}
	p.step("The sandbox is, row for row, as it was before the clone: all %d of its tables compared", len(after))
	return nil
}

// editSandbox is Dana's work in the new sandbox, which the rollback undoes.
func (e *Env) editSandbox(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, e.SandboxURL())
	if err != nil {
		return fmt.Errorf("connect to the sandbox: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "UPDATE plans SET name = name || ' (renamed in the new sandbox)' WHERE id = (SELECT min(id) FROM plans)"); err != nil {
		return fmt.Errorf("edit the sandbox: %w", err)
	}
	return nil
}

// digests are the sandbox's application tables (schema public), each as its row
// count and a hash of its rows in order.
func digests(ctx context.Context, dbURL string) (map[string]string, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redacted(dbURL), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	out := map[string]string{}
	for _, t := range tables {
		ident := pgx.Identifier{"public", t}.Sanitize()
		var d string
		err := conn.QueryRow(ctx, "SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM "+ident+" t").Scan(&d)
		if err != nil {
			return nil, fmt.Errorf("digest %s: %w", ident, err)
		}
		out[t] = d
	}
	return out, nil
}

// differing names the tables whose digests differ, or that only one side has.
func differing(a, b map[string]string) []string {
	var out []string
	for t := range a {
		if a[t] != b[t] {
			out = append(out, t)
		}
	}
	for t := range b {
		if _, ok := a[t]; !ok {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// rollbackSummary prints what the rollback restored and how long it took.
func (e *Env) rollbackSummary(ctx context.Context, ticketID int64) error {
	var report []byte
	if err := e.pool.QueryRow(ctx, "SELECT rollback_report FROM clone_requests WHERE ticket_id = $1::bigint", ticketID).Scan(&report); err != nil {
		return fmt.Errorf("read rollback report: %w", err)
	}
	var r struct {
		Rows    int64             `json:"rows"`
		Seconds float64           `json:"seconds"`
		OK      bool              `json:"ok"`
		Tables  []json.RawMessage `json:"tables"`
	}
	if err := json.Unmarshal(report, &r); err != nil {
		return fmt.Errorf("decode rollback report: %w", err)
	}
	e.printer.step("Rollback: %d rows in %d tables restored in %.2fs; verified %v: every table's rows and checksum equal to the copy kept at the clone",
		r.Rows, len(r.Tables), r.Seconds, r.OK)
	return nil
}
