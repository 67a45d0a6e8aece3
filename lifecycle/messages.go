package lifecycle

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"

	"github.com/gaiia/clonebot/cloner"
	"github.com/gaiia/clonebot/config"
	"github.com/gaiia/clonebot/parser"
)

//go:embed messages/*.tmpl
var messageFiles embed.FS

// Message names a template pair in messages/: NAME.public.tmpl is the comment for the
// customer, NAME.internal.tmpl (when present) the note for agents.
type Message string

// The messages the bot posts.
const (
	MsgAwaitingApproval Message = "awaiting_approval"
	MsgNeedsInfo        Message = "needs_info"
	MsgApprovalRefused  Message = "approval_refused"
	MsgScheduled        Message = "scheduled"
	MsgChanged          Message = "changed"
	MsgWithdrawn        Message = "withdrawn"
	MsgOnHold           Message = "on_hold"
	MsgPreflight        Message = "preflight"
	MsgRejected         Message = "rejected"
	MsgCancelled        Message = "cancelled"
	MsgRunning          Message = "running"
	MsgExport           Message = "export"
	MsgReady            Message = "ready"
	MsgFailed           Message = "failed"
	MsgInterrupted      Message = "interrupted"
	MsgChecking         Message = "checking"
	MsgResolved         Message = "resolved"
	MsgApproverGone     Message = "approver_gone"
)

// Messages lists them all, for the golden tests.
var Messages = []Message{MsgAwaitingApproval, MsgNeedsInfo, MsgApprovalRefused, MsgScheduled, MsgChanged, MsgWithdrawn, MsgOnHold, MsgPreflight, MsgRejected, MsgCancelled, MsgRunning, MsgExport, MsgReady, MsgFailed, MsgInterrupted, MsgChecking, MsgResolved, MsgApproverGone}

// MessageData is what the templates may use.
type MessageData struct {
	Request      *parser.Request
	Problems     []parser.Problem
	Plan         *cloner.Plan
	PlanProblems []string
	Tags         config.Tags
	Window       string // e.g. "02:00-05:00 America/Toronto"
	ScheduledFor string
	Exported     []string
	ExportFile   string
	Ready        *ReadyView
	Error        string
	Attempt      int
	State        State        // where the request stands
	Trouble      *TroubleView // a job that keeps failing
	Approver     *ApproverView
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
	Integrations           []cloner.Integration
	DependentWorkflows     []cloner.DependentWorkflow // the first ones by name
	DependentWorkflowCount int                        // all of them
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

// Messenger renders messages; build it once with NewMessenger.
type Messenger struct {
	tmpl *template.Template
}

// NewMessenger parses the embedded templates.
func NewMessenger() (*Messenger, error) {
	t, err := template.New("messages").Option("missingkey=error").Funcs(template.FuncMap{
		"category": categoryTitle,
		"num":      formatCount,
		"bytes":    cloner.HumanBytes,
		"join":     strings.Join,
		"rows":     formatRows,
		"firstWF":  firstWorkflows,
		"firstStr": firstStrings,
		"moreThan": func(n, limit int) int { return max(n-limit, 0) },
	}).ParseFS(messageFiles, "messages/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse message templates: %w", err)
	}
	return &Messenger{tmpl: t}, nil
}

// Render returns the public comment and the internal note (empty when the message
// has none).
func (m *Messenger) Render(msg Message, d MessageData) (public, internal string, err error) {
	public, err = m.exec(string(msg)+".public.tmpl", d)
	if err != nil {
		return "", "", err
	}
	if m.tmpl.Lookup(string(msg)+".internal.tmpl") != nil {
		internal, err = m.exec(string(msg)+".internal.tmpl", d)
	}
	return public, internal, err
}

func (m *Messenger) exec(name string, d MessageData) (string, error) {
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
