package cloner

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressPrinter(t *testing.T) {
	for _, terminal := range []bool{true, false} {
		var b bytes.Buffer
		p := ProgressPrinter(&b, terminal)
		p(Progress{Phase: "wipe"})
		p(Progress{Phase: "copy", Table: "public.plans", TableIndex: 1, Tables: 2, TableBytes: 2048, TotalBytes: 2048})
		p(Progress{Phase: "copy", Table: "public.plans", TableIndex: 1, Tables: 2, TableBytes: 4096, TotalBytes: 4096, TableDone: true, Rows: 10})
		out := b.String()
		if strings.Contains(out, "\r") != terminal {
			t.Errorf("terminal=%v: redraws %q", terminal, out)
		}
		if !strings.Contains(out, "[1/2] public.plans: 10 rows, 4.0 KiB") {
			t.Errorf("terminal=%v: %q", terminal, out)
		}
	}
}

func TestWritePlanRefused(t *testing.T) {
	var b bytes.Buffer
	p := &Plan{From: "a", To: "b", Tenant: "acme", Problems: []string{"table public.x is not classified"}}
	if err := WritePlan(&b, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "REFUSED") || !strings.Contains(b.String(), "public.x") {
		t.Errorf("plan:\n%s", b.String())
	}
}
