package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/zendesksim"
)

// Run tells the whole story and cleans up. It returns an error if any step does not
// end as it should.
func Run(ctx context.Context, opts Options) error {
	opts.defaults()
	fmt.Fprintln(opts.Out, "clonebot demo: a production-to-sandbox configuration clone, requested on a Zendesk ticket.")
	fmt.Fprintln(opts.Out, "Setting up: tenant acme with instances acme-prod and acme-sandbox on the local PostgreSQL (each enrolled, as `clonebot enroll` does), a Zendesk simulator, and clonebot serve.")
	e, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	defer e.Close()
	id, err := e.Story(ctx)
	if err != nil {
		return fmt.Errorf("ticket %d: %w", id, err)
	}
	if err := e.RollbackStory(ctx, id); err != nil {
		return fmt.Errorf("ticket %d: %w", id, err)
	}
	return e.Summary(ctx, id)
}

// Story walks one ticket from request to ready notice and returns its id.
func (e *Env) Story(ctx context.Context) (int64, error) {
	p := e.printer
	p.step("Dana (customer, Acme Fiber) files a clone request, but forgets the sandbox field")
	t := e.Sim.CreateTicket(e.Customer.ID, zendesksim.TicketSpec{
		Subject:        "Please refresh our sandbox from production",
		Description:    "Our sandbox has drifted a lot since spring. Please replace it with a copy of production's configuration.",
		OrganizationID: e.OrgID,
		Tags:           []string{"sandbox_clone"},
		CustomFields: map[int64]any{
			FieldProduction: "acme-prod",
			FieldWipe:       true,
			FieldUsers:      "Dana Okafor <dana@acme-fiber.example> (admin)\nlee@acme-fiber.example; ops@acme-fiber.example",
		},
	})
	steps := []struct {
		say  string
		act  func() error
		want string // the announcement to wait for
	}{
		{"", func() error { return nil }, "needs_info"},
		{"Dana fills in the sandbox field", func() error {
			return e.update(t.ID, e.Customer.ID, zendesksim.TicketChange{CustomFields: map[int64]any{FieldSandbox: "https://acme.sandbox.example-isp.app"},
				Comment: &zendesksim.NewComment{Body: "Sorry, here is the sandbox.", Public: true}})
		}, "awaiting_approval"},
		{"Dana tries to approve the request herself by adding the clone_approved tag", func() error {
			return e.update(t.ID, e.Customer.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}})
		}, "approval_refused"},
		{"Sam (agent) reviews the plan and approves: removes Dana's tag and adds clone_approved himself", func() error {
			if err := e.update(t.ID, e.Agent.ID, zendesksim.TicketChange{RemoveTags: []string{"clone_approved"}}); err != nil {
				return err
			}
			return e.update(t.ID, e.Agent.ID, zendesksim.TicketChange{AddTags: []string{"clone_approved"}})
		}, "scheduled"},
		{"The clock moves to tonight's low-activity window (02:00 America/Toronto)", func() error {
			e.Clock.Set(e.nextWindow().Add(time.Minute))
			return nil
		}, "ready"},
	}
	for _, s := range steps {
		if s.say != "" {
			p.step("%s", s.say)
		}
		if err := s.act(); err != nil {
			return t.ID, err
		}
		e.afterChange()
		if err := e.WaitAnnounced(ctx, t.ID, s.want); err != nil {
			p.comments(t.ID)
			return t.ID, err
		}
		p.comments(t.ID)
	}
	return t.ID, nil
}

func (e *Env) update(id, as int64, ch zendesksim.TicketChange) error {
	if _, err := e.Sim.UpdateTicket(id, as, ch); err != nil {
		return fmt.Errorf("update ticket %d: %w", id, err)
	}
	return nil
}

// afterChange lets the bot see a change when no webhook tells it: Zendesk's export
// holds the last minute back, so the clock moves past it for the next sweep.
func (e *Env) afterChange() {
	if e.Opts.NoWebhooks {
		e.Clock.Set(e.Clock.Now().Add(61 * time.Second))
	}
}

// nextWindow is the start of the next 02:00 in Toronto after the clock's now.
func (e *Env) nextWindow() time.Time {
	loc, _ := time.LoadLocation("America/Toronto")
	now := e.Clock.Now().In(loc)
	start := time.Date(now.Year(), now.Month(), now.Day(), 2, 0, 0, 0, loc)
	if !start.After(now) {
		start = start.AddDate(0, 0, 1)
	}
	return start
}

// WaitAnnounced waits until the announcement named msg (a lifecycle message such as
// "needs_info") was posted on the ticket and nothing else is waiting to be posted.
func (e *Env) WaitAnnounced(ctx context.Context, ticketID int64, msg string) error {
	ctx, cancel := context.WithTimeout(ctx, e.Opts.StepTimeout)
	defer cancel()
	pattern := fmt.Sprintf("%d/%s/%%", ticketID, msg)
	for {
		var posted, pending int
		err := e.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE key LIKE $2::text AND posted_at IS NOT NULL),
			count(*) FILTER (WHERE posted_at IS NULL)
			FROM outbox WHERE ticket_id = $1::bigint`, ticketID, pattern).Scan(&posted, &pending)
		if err == nil && posted > 0 && pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var state string
			_ = e.pool.QueryRow(context.Background(), "SELECT state FROM clone_requests WHERE ticket_id = $1::bigint", ticketID).Scan(&state)
			return fmt.Errorf("waiting for the %q announcement: request is %q: %w", msg, state, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Summary prints the audit trail and what the clone and its rollback verified.
func (e *Env) Summary(ctx context.Context, ticketID int64) error {
	p := e.printer
	p.step("What clonebot recorded (append-only audit log)")
	rows, err := e.pool.Query(ctx, `SELECT coalesce(from_state, '-'), to_state, reason FROM audit_log WHERE ticket_id = $1::bigint ORDER BY id`, ticketID)
	if err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var from, to, reason string
		if err := rows.Scan(&from, &to, &reason); err != nil {
			return err
		}
		fmt.Fprintf(e.Opts.Out, "  %-18s -> %-18s %s\n", from, to, rules.Reason(reason).Text())
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var report []byte
	if err := e.pool.QueryRow(ctx, "SELECT report FROM clone_requests WHERE ticket_id = $1::bigint", ticketID).Scan(&report); err != nil {
		return fmt.Errorf("read clone report: %w", err)
	}
	var r struct {
		Rows    int64   `json:"rows"`
		Bytes   int64   `json:"bytes"`
		Seconds float64 `json:"seconds"`
		Drift   []struct {
			OnlyInProduction int64 `json:"only_in_production"`
			OnlyInSandbox    int64 `json:"only_in_sandbox"`
			Changed          int64 `json:"changed"`
		} `json:"drift"`
		Export struct {
			Rows     int64             `json:"rows"`
			Archives []json.RawMessage `json:"archives"`
		} `json:"export"`
		Verification struct {
			OK              bool `json:"ok"`
			TablesChecked   int  `json:"tables_checked"`
			ExcludedChecked int  `json:"excluded_checked"`
		} `json:"verification"`
	}
	if err := json.Unmarshal(report, &r); err != nil {
		return fmt.Errorf("decode clone report: %w", err)
	}
	var drifted int64
	for _, d := range r.Drift {
		drifted += d.OnlyInProduction + d.OnlyInSandbox + d.Changed
	}
	p.step("Clone: the sandbox had drifted by %d rows; %d of its rows were saved in %d archives and attached before the switch; %d rows (%d bytes) copied in %.2fs; verified %v: %d cloned tables match production, %d excluded tables empty",
		drifted, r.Export.Rows, len(r.Export.Archives), r.Rows, r.Bytes, r.Seconds, r.Verification.OK, r.Verification.TablesChecked, r.Verification.ExcludedChecked)
	if err := e.rollbackSummary(ctx, ticketID); err != nil {
		return err
	}
	fmt.Fprintln(e.Opts.Out, "\nDemo finished: the ticket went from request to ready notice, and the sandbox back to how it was.")
	return nil
}
