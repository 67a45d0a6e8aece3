package lifecycle

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gaiia/clonebot/lifecycle/rules"
)

// announced is the body of the ticket's latest announcement of msg: the public
// comment, or the internal note.
func (h *harness) announced(id int64, msg string, public bool) string {
	h.t.Helper()
	var body string
	err := h.pool.QueryRow(h.ctx, `SELECT body FROM outbox WHERE ticket_id = $1::bigint AND key LIKE $2::text AND public = $3::boolean ORDER BY id DESC LIMIT 1`,
		id, fmt.Sprintf("%d/%s/%%", id, msg), public).Scan(&body)
	if err != nil {
		h.t.Fatalf("no %s announcement (public %v) for ticket %d: %v", msg, public, id, err)
	}
	return body
}

// The agents' note shows the drift as a table per category and the last clone
// into the sandbox; the customer hears in one sentence how far it has drifted.
// Each clone keeps its drift, and a second request soon after is flagged, as is a
// sandbox that drifted less than the policy asks. Advice only: both clones run.
func TestAgentsNoteShowsDriftAndTheLastClone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{cfg: func(c *Config) { c.Settings.Policy = Policy{MinDaysBetweenClones: 30, MinDriftRows: 1_000_000} }})
	first := h.scheduled()
	note := h.announced(first, "awaiting_approval", false)
	for _, want := range []string{"Drift: ", "| table | only in production | only in sandbox | changed |", "| public.workflows | ",
		"- No earlier clone into acme-sandbox by clonebot.", "- FLAG: the sandbox differs from production in only "} {
		if !strings.Contains(note, want) {
			t.Errorf("the first request's note lacks %q:\n%s", want, note)
		}
	}
	if ack := h.announced(first, "awaiting_approval", true); !strings.Contains(ack, "Right now your sandbox differs from production's configuration in ") {
		t.Errorf("the acknowledgement does not say how far the sandbox drifted:\n%s", ack)
	}
	if err := h.runClone(first); err != nil {
		t.Fatal(err)
	}
	h.wantState(first, rules.Ready)
	var drifted, exported int64
	if err := h.pool.QueryRow(h.ctx, "SELECT drift_rows, exported_rows FROM clones WHERE ticket_id = $1::bigint AND sandbox = 'acme-sandbox'", first).Scan(&drifted, &exported); err != nil || drifted == 0 || exported == 0 {
		t.Fatalf("the clone's drift was not kept: %d rows, %d exported, %v", drifted, exported, err)
	}

	// A day later, another request for the same sandbox.
	h.clock.Add(26 * 60 * 60 * 1e9)
	second := h.file("acme-sandbox", true)
	h.sync(second)
	h.wantState(second, rules.AwaitingApproval)
	note = h.announced(second, "awaiting_approval", false)
	for _, want := range []string{
		fmt.Sprintf("- Last clone into acme-sandbox: Sun 29 Nov 2026 02:30 EST (1 day ago), ticket #%d, from acme-prod; the sandbox had drifted by %s rows then", first, formatThousands(drifted)),
		"- FLAG: this request comes 1 day after the last clone, within policy.min_days_between_clones (30 days).",
		"- FLAG: the sandbox differs from production in only 0 rows",
	} {
		if !strings.Contains(note, want) {
			t.Errorf("the second request's note lacks %q:\n%s", want, note)
		}
	}
	if ack := h.announced(second, "awaiting_approval", true); !strings.Contains(ack, "Right now your sandbox holds exactly production's configuration") {
		t.Errorf("acknowledgement of a sandbox cloned a day ago:\n%s", ack)
	}
}

// formatThousands writes 1234 as 1,234, as the messages do.
func formatThousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
