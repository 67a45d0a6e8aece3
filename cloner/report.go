package cloner

import (
	"fmt"
	"time"
)

// Report is the evidence of one clone, for the ready notice and the audit log. It is
// JSON-serialisable and holds no production row data or credentials.
type Report struct {
	ID         string    `json:"id"` // names the clone, and the rollback copy it kept
	From       string    `json:"from"`
	To         string    `json:"to"`
	Tenant     string    `json:"tenant"`
	SnapshotAt time.Time `json:"snapshot_at"` // the production instant the sandbox mirrors
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Seconds    float64   `json:"seconds"`
	Phases     []Phase   `json:"phases"`
	Rows       int64     `json:"rows"`  // copied, all tables
	Bytes      int64     `json:"bytes"` // streamed (binary COPY), all tables

	Categories []CategoryReport `json:"categories"`
	Tables     []TableReport    `json:"tables"`

	NulledReferences []string `json:"nulled_references"`
	Scrubbed         []string `json:"scrubbed"`
	// Integrations to reinstall in the sandbox, and the workflows that fail until then.
	Integrations           []Integration       `json:"integrations"`
	DependentWorkflows     []DependentWorkflow `json:"dependent_workflows"` // the first MaxListedWorkflows by name
	DependentWorkflowCount int                 `json:"dependent_workflow_count"`
	// Drift is how far the sandbox had moved from production when the clone
	// exported it (per cloned table, in manifest order), and DriftByCategory its
	// sum per category.
	Drift           []Drift         `json:"drift"`
	DriftByCategory []CategoryDrift `json:"drift_by_category"`
	Export          ExportSummary   `json:"export"`
	Verification    Verification    `json:"verification"`
	// Source and Target are what the databases said they were when the clone
	// began: identity and enrollment marker.
	Source *Evidence `json:"source"`
	Target *Evidence `json:"target"`
	// Method is how the clone ran (MethodSwap or MethodInPlace), and MethodReasons
	// why a swap was not possible.
	Method        string   `json:"method"`
	MethodReasons []string `json:"method_reasons,omitempty"`
	// Refreshed are the materialized views over the tables, filled again.
	Refreshed []string `json:"refreshed,omitempty"`
	// Rollback is the pre-clone sandbox the clone kept, and until when.
	Rollback *RollbackCopy `json:"rollback,omitempty"`
}

// Phase is the wall time of one step of the clone.
type Phase struct {
	Name    string  `json:"name"` // preflight, export, wipe, copy, rebuild, sequences, verify, commit
	Seconds float64 `json:"seconds"`
	// During names the phase this one ran beside (a swap's first export runs
	// during the copy); its seconds are then not part of the clone's sum.
	During string `json:"during,omitempty"`
}

// CategoryReport sums a category: copied rows and bytes for cloned ones, wiped
// sandbox rows for all.
type CategoryReport struct {
	Name      string `json:"name"`
	Cloned    bool   `json:"cloned"`
	Tables    int    `json:"tables"`
	Rows      int64  `json:"rows"`
	Bytes     int64  `json:"bytes"`
	WipedRows int64  `json:"wiped_rows"`
}

// TableReport is one cloned table.
type TableReport struct {
	Table              string   `json:"table"`
	Category           string   `json:"category"`
	Rows               int64    `json:"rows"`
	Bytes              int64    `json:"bytes"`
	Seconds            float64  `json:"seconds"`
	Nulled             []string `json:"nulled,omitempty"`
	Scrubbed           []string `json:"scrubbed,omitempty"`
	Checksum           Checksum `json:"checksum"`
	ProductionChecksum Checksum `json:"production_checksum"`
	Match              bool     `json:"match"`
}

// ExportSummary is the sandbox export handed over before the wipe: its latest
// round (the one the clone's switch found still true).
type ExportSummary struct {
	Rounds   int       `json:"rounds"` // exports made: more than 1 when the sandbox changed during a swap's load
	Rows     int64     `json:"rows"`   // sandbox rows saved
	Archives []Archive `json:"archives"`
	// Workflows names the workflows only the sandbox had, in natural order.
	Workflows []string `json:"workflows"`
	// Dir is where the archives were kept (Options.ExportDir); empty when they
	// were only handed to BeforeWipe.
	Dir string `json:"dir,omitempty"`
}

// Verification is what the clone checked inside its transaction before commit.
type Verification struct {
	OK                   bool             `json:"ok"`
	TablesChecked        int              `json:"tables_checked"`         // row count and checksum equal to production
	ExcludedChecked      int              `json:"excluded_checked"`       // excluded tables found empty
	ForeignKeysValidated int              `json:"foreign_keys_validated"` // re-added after the load, every row checked
	ForeignKeysNull      int              `json:"foreign_keys_null"`      // to excluded tables, kept: their columns checked NULL in every row
	ForeignKeysCarried   int              `json:"foreign_keys_carried"`   // valid in production, tables copied whole: kept valid unchecked (SWITCH.md)
	NulledColumnsChecked int              `json:"nulled_columns_checked"` // references to excluded rows found NULL in every row
	Sequences            []SequenceReport `json:"sequences"`
	Checks               []string         `json:"checks"` // the checks run, each named by what it proves
	Failures             []string         `json:"failures,omitempty"`
}

func (r *Report) fromPlan(p *Plan) {
	r.NulledReferences, r.Scrubbed = p.NulledReferences, p.Scrubbed
	r.Source, r.Target = p.Source, p.Target
	r.Method, r.MethodReasons = p.Method, p.MethodReasons
	r.Integrations, r.DependentWorkflows, r.DependentWorkflowCount = p.Integrations, p.DependentWorkflows, p.DependentWorkflowCount
	r.Categories = r.Categories[:0]
	for _, c := range p.Categories {
		r.Categories = append(r.Categories, CategoryReport{Name: c.Name, Cloned: c.Cloned, Tables: len(c.Tables), WipedRows: c.SandboxRows})
	}
}

func (r *Report) addTable(s *copySpec, rows, bytes int64, d time.Duration) {
	r.Tables = append(r.Tables, TableReport{
		Table: s.table.name.String(), Category: s.category, Rows: rows, Bytes: bytes, Seconds: d.Seconds(),
		Nulled: s.nulled, Scrubbed: s.scrubbed,
	})
	r.Rows += rows
	r.Bytes += bytes
	for i := range r.Categories {
		if r.Categories[i].Name == s.category {
			r.Categories[i].Rows += rows
			r.Categories[i].Bytes += bytes
		}
	}
}

func (r *Report) table(name string) *TableReport {
	for i := range r.Tables {
		if r.Tables[i].Table == name {
			return &r.Tables[i]
		}
	}
	r.Tables = append(r.Tables, TableReport{Table: name})
	return &r.Tables[len(r.Tables)-1]
}

// HumanBytes writes a size as people read it: 2.0 MiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
