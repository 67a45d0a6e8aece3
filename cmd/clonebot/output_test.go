package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gaiia/clonebot/cloner"
)

func TestWritePlanRefused(t *testing.T) {
	var b bytes.Buffer
	p := &cloner.Plan{From: "a", To: "b", Tenant: "acme", Problems: []string{"table public.x is not classified"}}
	if err := writePlan(&b, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "REFUSED") || !strings.Contains(b.String(), "public.x") {
		t.Errorf("plan:\n%s", b.String())
	}
}

func TestWritePlanShowsTheDatabases(t *testing.T) {
	var b bytes.Buffer
	p := &cloner.Plan{From: "acme-prod", To: "acme-sandbox", Tenant: "acme",
		Warnings: []string{"sandbox acme-sandbox holds 16860 rows of customer data"},
		Source:   &cloner.Evidence{Instance: "acme-prod", Database: cloner.Identity{Database: "acme_prod", DatabaseOID: 16384, SystemIdentifier: "7713685640086468738", Role: "clonebot"}},
		Target: &cloner.Evidence{Instance: "acme-sandbox", Database: cloner.Identity{Database: "acme_sandbox", DatabaseOID: 16385, Role: "clonebot"},
			Marker: &cloner.Marker{Instance: "acme-sandbox", Environment: "sandbox", Tenant: "acme", EnrolledBy: "clonebot", Operator: "ops@bastion", EnrolledAt: time.Date(2026, 11, 2, 15, 4, 0, 0, time.UTC)}},
	}
	if err := writePlan(&b, p); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  WARNING: sandbox acme-sandbox holds 16860 rows of customer data\n",
		`  source acme-prod: database "acme_prod" (oid 16384, system identifier 7713685640086468738), as role clonebot` + "\n    marker: none: not enrolled\n",
		`  target acme-sandbox: database "acme_sandbox" (oid 16385, system identifier unknown), as role clonebot` + "\n    marker: sandbox instance acme-sandbox of tenant acme, enrolled 2026-11-02 15:04 UTC by role clonebot (ops@bastion)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, b.String())
		}
	}
}

func TestWriteReportCountsInWords(t *testing.T) {
	var b bytes.Buffer
	r := &cloner.Report{From: "a", To: "b", Tenant: "acme", Rows: 1, Bytes: 2048,
		Categories:   []cloner.CategoryReport{{Name: "catalog", Cloned: true, Tables: 1, Rows: 1234567}},
		Tables:       []cloner.TableReport{{Table: "public.plans", Match: true}},
		Verification: cloner.Verification{OK: true, ExcludedChecked: 1, ForeignKeysValidated: 1, Sequences: []cloner.SequenceReport{{}}},
	}
	if err := writeReport(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"; 1 row, 2.0 KiB", "1 table matches production", "1 excluded table empty", "1 foreign key validated", "1 sequence advanced", "1,234,567"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "1 rows") || strings.Contains(out, "1 tables") {
		t.Errorf("report says 1 with a plural:\n%s", out)
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int64]string{0: "0 rows", 1: "1 row", 2: "2 rows", 1520: "1,520 rows", -3000: "-3,000 rows"} {
		if got := plural(n, "row", "rows"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/name, which -update rewrites.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/clonebot -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update after a deliberate change):\n%s", path, got)
	}
}

// The text plan shows the drift as a table per category, and says which tables
// were compared by whole-row hashes.
func TestWritePlanDriftGolden(t *testing.T) {
	drift := []cloner.Drift{
		{Table: "public.plans", Category: "catalog", ComparedBy: cloner.ByPrimaryKey, OnlyInProduction: 1204, OnlyInSandbox: 3, Changed: 17},
		{Table: "public.tax_rates", Category: "catalog", ComparedBy: cloner.ByWholeRow, OnlyInProduction: 2, OnlyInSandbox: 2},
		{Table: "public.workflows", Category: "workflows", ComparedBy: cloner.ByPrimaryKey, OnlyInSandbox: 2, Changed: 1},
		{Table: "public.tenant_settings", Category: "tenant_settings", ComparedBy: cloner.ByPrimaryKey},
	}
	p := &cloner.Plan{From: "acme-prod", To: "acme-sandbox", Tenant: "acme", Method: cloner.MethodSwap, RollbackBytes: 3 << 20,
		Categories: []cloner.CategoryPlan{
			{Name: "catalog", Cloned: true, Rows: 2520, Bytes: 2 << 20, SandboxRows: 1331},
			{Name: "workflows", Cloned: true, Rows: 64, Bytes: 81920, SandboxRows: 66},
			{Name: "tenant_settings", Cloned: true, Rows: 1, Bytes: 8192, SandboxRows: 1},
			{Name: "customer_data", SandboxRows: 12},
		},
		SandboxOnlyWorkflows: []string{"Flow 2", "Flow 10"},
		Drift:                drift, DriftByCategory: cloner.DriftByCategory(drift),
	}
	var b bytes.Buffer
	if err := writePlan(&b, p); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan-drift.golden.txt", b.String())
}

// The report ends with the drift the clone found and what it exported, where.
func TestWriteReportGolden(t *testing.T) {
	drift := []cloner.Drift{
		{Table: "public.workflows", Category: "workflows", ComparedBy: cloner.ByPrimaryKey, OnlyInProduction: 4, OnlyInSandbox: 3, Changed: 1},
		{Table: "public.workflow_steps", Category: "workflows", ComparedBy: cloner.ByPrimaryKey, OnlyInProduction: 9, OnlyInSandbox: 6},
		{Table: "public.communication_templates", Category: "communication_templates", ComparedBy: cloner.ByPrimaryKey, Changed: 2},
	}
	at := time.Date(2026, 11, 29, 7, 0, 3, 0, time.UTC)
	r := &cloner.Report{From: "acme-prod", To: "acme-sandbox", Tenant: "acme", SnapshotAt: at, Seconds: 4.25, Rows: 1584, Bytes: 2 << 20,
		Phases:       []cloner.Phase{{Name: "preflight", Seconds: 0.31}, {Name: "export", Seconds: 0.12}, {Name: "stage", Seconds: 0.05}},
		Categories:   []cloner.CategoryReport{{Name: "workflows", Cloned: true, Tables: 2, Rows: 1520, Bytes: 2 << 20, WipedRows: 70}, {Name: "communication_templates", Cloned: true, Tables: 1, Rows: 64, WipedRows: 64}},
		Tables:       []cloner.TableReport{{Table: "public.workflows", Match: true}, {Table: "public.workflow_steps", Match: true}, {Table: "public.communication_templates", Match: true}},
		Verification: cloner.Verification{OK: true, ExcludedChecked: 14, ForeignKeysValidated: 9},
		Method:       cloner.MethodSwap, Rollback: &cloner.RollbackCopy{ExpiresAt: at.Add(7 * 24 * time.Hour)},
		Drift: drift, DriftByCategory: cloner.DriftByCategory(drift),
		Export: cloner.ExportSummary{Rounds: 2, Rows: 12, Dir: "/srv/exports", Workflows: []string{"Flow 2", "Flow 10"}, Archives: []cloner.Archive{
			{Category: "workflows", Rows: 10, Tables: []cloner.ArchiveTable{{Table: "public.workflows", Rows: 4, OnlyInSandbox: 3, Changed: 1}, {Table: "public.workflow_steps", Rows: 6, OnlyInSandbox: 6}},
				Files: []cloner.ArchiveFile{{Name: "acme-sandbox-20261129-070004-workflows-1-of-2.zip", Bytes: 49_000_000}, {Name: "acme-sandbox-20261129-070004-workflows-2-of-2.zip", Bytes: 1200}}},
			{Category: "communication_templates", Rows: 2, Tables: []cloner.ArchiveTable{{Table: "public.communication_templates", Rows: 2, Changed: 2}},
				Files: []cloner.ArchiveFile{{Name: "acme-sandbox-20261129-070004-communication_templates.zip", Bytes: 2048}}},
		}},
	}
	var b bytes.Buffer
	if err := writeReport(&b, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.txt", b.String())
}
