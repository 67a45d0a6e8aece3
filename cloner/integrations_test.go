package cloner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gaiia/clonebot/natsort"
)

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

// Of workflows offered in any order, the first MaxListedWorkflows by natural
// order of name, then key, are kept, and all are counted.
func TestFirstWorkflowsKeepsTheFirst(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(13, 2))
	alphabet := []rune("aAbB zZ09125-._é")
	var all []dependent
	for i := range 1000 {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		all = append(all, dependent{id: fmt.Sprint(rng.IntN(50)), name: b.String(), integrations: []string{fmt.Sprint(i)}})
	}
	for _, max := range []int{0, 1, 7, 200, 1000, 2000} {
		f := &firstWorkflows{max: max}
		for _, d := range all {
			f.offer(d)
		}
		want := slices.Clone(all)
		slices.SortStableFunc(want, func(a, b dependent) int {
			if c := natsort.Compare(a.name, b.name); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
		want = want[:min(max, len(want))]
		got := f.sorted()
		if f.seen != len(all) || len(got) != len(want) {
			t.Fatalf("max %d: kept %d of %d, want %d of %d", max, len(got), f.seen, len(want), len(all))
		}
		for i := range got {
			if got[i].name != want[i].name || got[i].id != want[i].id {
				t.Fatalf("max %d: #%d is %q/%s, want %q/%s", max, i, got[i].name, got[i].id, want[i].name, want[i].id)
			}
		}
	}
}
