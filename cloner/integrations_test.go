package cloner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gaiia/clonebot/natsort"
	"github.com/gaiia/clonebot/pgtest"
	"github.com/jackc/pgx/v5"
)

// The server's natural order picks the first workflows of a long list: it must
// agree with natsort's, short of the ties natsort settles itself.
func TestNaturalOrderMatchesNatsort(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(13, 2))
	alphabet := []rune("aAbB zZ09125-._é")
	names := []string{"", "Flow 2", "Flow 10", "Flow 1", "flow 02", "a b", "a1", "ab", "a", "1a", "!", "99999999999999999999999", "x9", "x10"}
	for range 400 {
		var b strings.Builder
		for range rng.IntN(9) {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		names = append(names, b.String())
	}
	conn := connectT(t, pgtest.NewDatabase(t))
	rows, err := conn.Query(context.Background(), "SELECT n FROM unnest($1::text[]) n ORDER BY "+naturalOrder("n")+`, n COLLATE "C"`, names)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(got); i++ {
		if natsort.Compare(got[i-1], got[i]) > 0 && sameByValue(got[i-1]) != sameByValue(got[i]) {
			t.Errorf("the server puts %q before %q", got[i-1], got[i])
		}
	}
}

var leadingZeros = regexp.MustCompile(`(^|[^0-9])0+([0-9])`)

// sameByValue is what natsort compares before its tie-breaks: lower case, digit
// runs without their leading zeros.
func sameByValue(s string) string {
	return leadingZeros.ReplaceAllString(strings.ToLower(s), "$1$2")
}

// The plan names the first workflows in natural order: of "Flow 1" to "Flow 250",
// "Flow 1" to "Flow 200", not the first 200 by code point ("Flow 1", "Flow 10",
// "Flow 100", ...).
func TestPlanListsWorkflowsInNaturalOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	execSQL(t, e.prod, `INSERT INTO workflows (key, name, status, trigger_event) SELECT 'flow-' || g, 'Flow ' || g, 'active', 'x' FROM generate_series(1, 250) g;
INSERT INTO workflow_steps (workflow_id, position, action, integration_id)
  SELECT w.id, 1, 'call', (SELECT min(id) FROM integrations) FROM workflows w WHERE w.key LIKE 'flow-%';`)
	p, err := e.cloner.Plan(context.Background(), "acme-prod", "acme-sandbox")
	if err != nil || !p.OK() {
		t.Fatalf("plan: %v %v", err, p.Problems)
	}
	if len(p.DependentWorkflows) != MaxListedWorkflows || p.DependentWorkflowCount <= 250 {
		t.Fatalf("%d workflows named of %d", len(p.DependentWorkflows), p.DependentWorkflowCount)
	}
	for i, d := range p.DependentWorkflows {
		if want := fmt.Sprintf("Flow %d", i+1); d.Workflow != want {
			t.Fatalf("workflow %d is %q, want %q", i, d.Workflow, want)
		}
	}
	labels := make([]string, len(p.Integrations))
	for i, in := range p.Integrations {
		labels[i] = in.Label
	}
	if !slices.IsSortedFunc(labels, natsort.Compare) || !slices.IsSortedFunc(p.SandboxOnlyWorkflows, natsort.Compare) || !slices.IsSortedFunc(p.NulledReferences, natsort.Compare) {
		t.Errorf("lists not in natural order: %q %q %q", labels, p.SandboxOnlyWorkflows, p.NulledReferences)
	}
}
