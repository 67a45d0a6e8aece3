// Package messages renders what the bot posts on a ticket: for each Message, a
// public comment for the customer (templates/NAME.public.tmpl) and, when there is
// one, an internal note for the agents (templates/NAME.internal.tmpl). The exact
// comments are golden files (testdata/golden, rewritten with -update).
//
// A template sees Data and nothing else; the views (ReadyView, RollbackView,
// TroubleView, ApproverView) pick from a report or an error what a person should read, never
// a secret or a row of customer data.
package messages

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/lifecycle/rules"
	"github.com/gaiia/clonebot/natsort"
	"github.com/gaiia/clonebot/parser"
)

//go:embed templates/*.tmpl
var templateFiles embed.FS

// Message names a template pair in templates/: NAME.public.tmpl is the comment for the
// customer, NAME.internal.tmpl (when present) the note for agents.
type Message string

// The messages the bot posts.
const (
	AwaitingApproval Message = "awaiting_approval"
	NeedsInfo        Message = "needs_info"
	ApprovalRefused  Message = "approval_refused"
	Scheduled        Message = "scheduled"
	Changed          Message = "changed"
	Revised          Message = "revised"
	Withdrawn        Message = "withdrawn"
	OnHold           Message = "on_hold"
	Preflight        Message = "preflight"
	Rejected         Message = "rejected"
	Cancelled        Message = "cancelled"
	Running          Message = "running"
	Export           Message = "export"
	Ready            Message = "ready"
	Failed           Message = "failed"
	Interrupted      Message = "interrupted"
	Checking         Message = "checking"
	Resolved         Message = "resolved"
	ApproverGone     Message = "approver_gone"
	// The rollback of a ready clone: under way, done, not possible (the copy is
	// gone), failed, and an end user's tag answered.
	RollingBack         Message = "rolling_back"
	RolledBack          Message = "rolled_back"
	RollbackUnavailable Message = "rollback_unavailable"
	RollbackFailed      Message = "rollback_failed"
	RollbackRefused     Message = "rollback_refused"
)

// All lists every message, for the golden tests.
var All = []Message{AwaitingApproval, NeedsInfo, ApprovalRefused, Scheduled, Changed, Revised, Withdrawn, OnHold, Preflight, Rejected, Cancelled, Running, Export, Ready, Failed, Interrupted, Checking, Resolved, ApproverGone,
	RollingBack, RolledBack, RollbackUnavailable, RollbackFailed, RollbackRefused}

// Data is what the templates may use.
type Data struct {
	Request      *parser.Request
	Problems     []parser.Problem
	Plan         *cloner.Plan
	PlanProblems []string
	Tags         rules.Tags
	Window       string // e.g. "02:00-05:00 America/Toronto"
	ScheduledFor string
	Export       *ExportView // the sandbox export, when it saved rows
	Drift        *DriftView  // how far the sandbox has drifted, when the plan compared it
	Advice       *AdviceView // the last clone into the sandbox and the policy's flags, for agents
	Ready        *ReadyView
	Error        string
	Attempt      int
	State        rules.State // where the request stands
	// StaleApproval: the ticket carries an agent's approval tag given before the
	// request last changed, which does not count.
	StaleApproval bool
	Trouble       *TroubleView // a job that keeps failing
	Approver      *ApproverView
	Rollback      *RollbackView // the rollback of a ready clone
}

// RollbackView is what the announcements of a rollback show: the copy it restores
// (or why it cannot), and once done, the rollback's evidence.
type RollbackView struct {
	TakenAt string // when the copy was taken, at the clone's switch; "" if unknown
	Until   string // when the copy expires or expired; "" if unknown
	// Why a rollback is not possible: "expired", "superseded" or "gone"
	// (rules.CopyState); Newer is when the clone that superseded it ran.
	Why   string
	Newer string
	// The evidence of a rollback done.
	Duration  string
	Tables    []TableCheck // restored, each checksum equal to the kept copy's
	Rows      int64
	Sequences int // advanced past the restored ids
	Refreshed []string
}

// NewRollbackView picks what the rollback's announcements show of the copy it
// restores and of its report (nil before it ran), times in the tenant's zone.
func NewRollbackView(rc *cloner.RollbackCopy, rep *cloner.RollbackReport, loc *time.Location) *RollbackView {
	v := &RollbackView{}
	if rep != nil && rc == nil {
		rc = &rep.Copy
	}
	if rc != nil {
		v.TakenAt, v.Until = Stamp(rc.TakenAt, loc), Stamp(rc.ExpiresAt, loc)
	}
	if rep == nil {
		return v
	}
	v.Duration = (time.Duration(rep.Seconds * float64(time.Second))).Round(time.Millisecond).String()
	v.Rows, v.Sequences, v.Refreshed = rep.Rows, len(rep.Sequences), rep.Refreshed
	for _, t := range rep.Tables {
		v.Tables = append(v.Tables, TableCheck{Table: t.Table, Rows: t.Rows, Checksum: t.Restored.Sum})
	}
	return v
}

// Stamp shows a time as the announcements do, in loc; "" for the zero time.
func Stamp(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("Mon 2 Jan 2006 15:04:05 MST")
}

// TroubleView is what the announcements of a trouble show.
type TroubleView struct {
	What     string // what keeps failing, e.g. "check the request against its instances"
	Error    string
	Since    string
	Attempts int
}

// ApproverView names an approver who can no longer approve.
type ApproverView struct {
	ID     int64
	Audit  int64
	Reason string // e.g. "is suspended"
}

// ReadyView is the part of a clone report the ready notice shows.
type ReadyView struct {
	SnapshotAt             string
	Duration               string
	Cloned                 []CategoryCount
	Tables                 []TableCheck
	ExcludedChecked        int // excluded tables verified empty
	ForeignKeys            int // foreign keys validated after the load, or kept with their columns checked NULL
	ForeignKeysCarried     int // valid in production, kept valid: both tables copied whole and verified
	Integrations           []cloner.Integration
	DependentWorkflows     []cloner.DependentWorkflow // the first ones by name
	DependentWorkflowCount int                        // all of them
	// RollbackUntil is until when the sandbox can be restored as it was before
	// the clone; "" when the clone kept no copy.
	RollbackUntil string
}

// NewReadyView picks what the ready notice shows from a clone's report, its times
// in the tenant's zone.
func NewReadyView(r *cloner.Report, loc *time.Location) *ReadyView {
	v := &ReadyView{
		SnapshotAt:             Stamp(r.SnapshotAt, loc),
		Duration:               (time.Duration(r.Seconds * float64(time.Second))).Round(time.Millisecond).String(),
		ExcludedChecked:        r.Verification.ExcludedChecked,
		ForeignKeys:            r.Verification.ForeignKeysValidated + r.Verification.ForeignKeysNull,
		ForeignKeysCarried:     r.Verification.ForeignKeysCarried,
		Integrations:           r.Integrations,
		DependentWorkflows:     r.DependentWorkflows,
		DependentWorkflowCount: r.DependentWorkflowCount,
	}
	if r.Rollback != nil {
		v.RollbackUntil = Stamp(r.Rollback.ExpiresAt, loc)
	}
	for _, c := range r.Categories {
		if c.Cloned {
			v.Cloned = append(v.Cloned, CategoryCount{Name: c.Name, Rows: c.Rows})
		}
	}
	for _, t := range r.Tables {
		v.Tables = append(v.Tables, TableCheck{Table: t.Table, Rows: t.Rows, Checksum: t.Checksum.Sum})
	}
	natsort.By(v.Tables, func(t TableCheck) string { return t.Table })
	return v
}

// ExportView is what the messages say of the sandbox export.
type ExportView struct {
	Round      int   // 1, or more when the sandbox was exported again
	Rows       int64 // rows saved in all
	Categories []ExportCategory
	Files      []string // every archive, in order
	Workflows  []string // workflows only the sandbox had, in natural order
}

// ExportCategory is one category's archive.
type ExportCategory struct {
	Name                         string
	Rows, OnlyInSandbox, Changed int64
	Files                        []string
}

// NewExportView is what the messages say of an export: its round, the rows saved,
// the archives by category with their counts, and the workflows only the sandbox
// had.
func NewExportView(round int, rows int64, archives []cloner.Archive, workflows []string) *ExportView {
	v := &ExportView{Round: round, Rows: rows, Workflows: workflows}
	for _, a := range archives {
		c := ExportCategory{Name: a.Category, Rows: a.Rows}
		for _, t := range a.Tables {
			c.OnlyInSandbox += t.OnlyInSandbox
			c.Changed += t.Changed
		}
		for _, f := range a.Files {
			c.Files = append(c.Files, f.Name)
			v.Files = append(v.Files, f.Name)
		}
		v.Categories = append(v.Categories, c)
	}
	return v
}

// CategoryCount is the rows copied for one category.
type CategoryCount struct {
	Name string
	Rows int64
}

// TableCheck is one cloned table's verification.
type TableCheck struct {
	Table    string
	Rows     int64
	Checksum string
}

// Renderer renders messages; build it once with New.
type Renderer struct {
	tmpl *template.Template
}

// New parses the embedded templates.
func New() (*Renderer, error) {
	t, err := template.New("messages").Option("missingkey=error").Funcs(template.FuncMap{
		"category": categoryTitle,
		"num":      formatCount,
		"bytes":    cloner.HumanBytes,
		"join":     strings.Join,
		"rows":     formatRows,
		"firstWF":  firstWorkflows,
		"firstStr": firstStrings,
		"moreThan": func(n, limit int) int { return max(n-limit, 0) },
		"days":     formatDays,
		"differ":   formatDiffer,
	}).ParseFS(templateFiles, "templates/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse message templates: %w", err)
	}
	return &Renderer{tmpl: t}, nil
}

// Render returns the public comment and the internal note (empty when the message
// has none).
func (m *Renderer) Render(msg Message, d Data) (public, internal string, err error) {
	public, err = m.exec(string(msg)+".public.tmpl", d)
	if err != nil {
		return "", "", err
	}
	if m.tmpl.Lookup(string(msg)+".internal.tmpl") != nil {
		internal, err = m.exec(string(msg)+".internal.tmpl", d)
	}
	return public, internal, err
}

func (m *Renderer) exec(name string, d Data) (string, error) {
	var b bytes.Buffer
	if err := m.tmpl.ExecuteTemplate(&b, name, d); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return strings.TrimSpace(b.String()) + "\n", nil
}

var categoryTitles = map[string]string{
	"catalog":                 "Product catalog (plans, add-ons, taxes, billing settings)",
	"network":                 "Network settings and inventory structure",
	"work_orders":             "Work order templates and field service settings",
	"ticketing":               "Ticketing categories, statuses and settings",
	"workflows":               "Workflows (including drafts and disabled ones)",
	"communication_templates": "Communication templates (system, custom, documents)",
	"access":                  "Roles, permissions and module enablement",
	"tenant_settings":         "General tenant settings",
	"customer_data":           "Customer data",
	"integrations":            "Integrations",
	"users":                   "User accounts",
	"live_state":              "Live transactional state",
}

// categoryTitle names a category as the help article does; a manifest's own
// category reads like them: "product_catalog" is "Product catalog".
func categoryTitle(name string) string {
	if t, ok := categoryTitles[name]; ok {
		return t
	}
	words := strings.ReplaceAll(name, "_", " ")
	if words == "" {
		return words
	}
	r, size := utf8.DecodeRuneInString(words)
	return string(unicode.ToUpper(r)) + words[size:]
}

// listLimit is how many workflows a comment lists before "and N more".
const listLimit = 15

func firstWorkflows(ws []cloner.DependentWorkflow) []cloner.DependentWorkflow {
	return ws[:min(len(ws), listLimit)]
}

func firstStrings(ss []string) []string { return ss[:min(len(ss), listLimit)] }

// formatDays writes "less than a day", "1 day", "30 days".
func formatDays(n int) string {
	switch n {
	case 0:
		return "less than a day"
	case 1:
		return "1 day"
	}
	return formatCount(int64(n)) + " days"
}

// formatDiffer writes "1 row differs", "1,520 rows differ".
func formatDiffer(n int64) string {
	if n == 1 {
		return "1 row differs"
	}
	return formatCount(n) + " rows differ"
}

// formatRows writes "1 row", "1,520 rows".
func formatRows(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return formatCount(n) + " rows"
}

// formatCount writes 1234567 as 1,234,567.
func formatCount(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + formatCount(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
