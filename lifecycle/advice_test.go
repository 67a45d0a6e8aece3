package lifecycle

import (
	"testing"
	"time"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/lifecycle/messages"
)

func TestPolicyAdvice(t *testing.T) {
	t.Parallel()
	toronto, err := time.LoadLocation("America/Toronto")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 29, 7, 30, 0, 0, time.UTC)
	ago := func(d time.Duration) *pastClone {
		return &pastClone{TicketID: 4294968100, Production: "acme-prod", FinishedAt: now.Add(-d),
			Drift: []cloner.Drift{{Table: "public.plans", Category: "catalog", OnlyInProduction: 40, Changed: 2}}}
	}
	drift := messages.NewDriftView([]cloner.Drift{{Table: "public.plans", Category: "catalog", OnlyInSandbox: 3}})
	day := 24 * time.Hour
	for _, tc := range []struct {
		name             string
		policy           Policy
		last             *pastClone
		drift            *messages.DriftView
		recent, lowDrift bool
		daysAgo          int
	}{
		{"first clone", Policy{MinDaysBetweenClones: 30}, nil, drift, false, false, 0},
		{"within the days", Policy{MinDaysBetweenClones: 30}, ago(29*day + 23*time.Hour), drift, true, false, 29},
		{"just past them", Policy{MinDaysBetweenClones: 30}, ago(30 * day), drift, false, false, 30},
		{"days not flagged", Policy{}, ago(time.Hour), drift, false, false, 0},
		{"little drift", Policy{MinDriftRows: 4}, nil, drift, false, true, 0},
		{"enough drift", Policy{MinDriftRows: 3}, nil, drift, false, false, 0},
		{"drift not compared", Policy{MinDriftRows: 4}, nil, nil, false, false, 0},
		{"a clock behind the last clone", Policy{MinDaysBetweenClones: 30}, ago(-time.Hour), drift, true, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.policy.advise("acme-sandbox", tc.last, tc.drift, now, toronto)
			if a.Recent != tc.recent || a.LowDrift != tc.lowDrift || a.Sandbox != "acme-sandbox" {
				t.Errorf("advice %+v, want recent %v, low drift %v", a, tc.recent, tc.lowDrift)
			}
			if (a.Last != nil) != (tc.last != nil) {
				t.Fatalf("last clone %+v", a.Last)
			}
			if a.Last != nil && (a.Last.DaysAgo != tc.daysAgo || a.Last.TicketID != 4294968100 || a.Last.Drift.Rows() != 42 || a.Last.When == "") {
				t.Errorf("last clone %+v, want %d days ago", a.Last, tc.daysAgo)
			}
		})
	}
	if got := (Policy{}).advise("s", ago(day), drift, now, toronto).Last.When; got != "Sat 28 Nov 2026 02:30 EST" {
		t.Errorf("when %q, want the tenant's time", got)
	}
}
