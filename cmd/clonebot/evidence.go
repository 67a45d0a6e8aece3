package main

import "github.com/gaiia/clonebot/cloner"

// writeEvidence shows the plan's warnings, then what each database says it is:
// its identity, the role the plan connected as, and its enrollment marker.
func writeEvidence(ew *errWriter, p *cloner.Plan) {
	for _, w := range p.Warnings {
		ew.printf("  WARNING: %s\n", w)
	}
	for _, side := range []struct {
		role string
		ev   *cloner.Evidence
	}{{"source", p.Source}, {"target", p.Target}} {
		if side.ev == nil {
			continue
		}
		marker := "none: not enrolled"
		if m := side.ev.Marker; m != nil {
			marker = m.String()
		}
		ew.printf("  %s %s: %s, as role %s\n    marker: %s\n", side.role, side.ev.Instance, side.ev.Database, side.ev.Database.Role, marker)
	}
}
