package messages

import "github.com/gaiia/clonebot/cloner"

// DriftView is how far a sandbox has drifted from production: in all, and as a
// table per category, its tables in manifest order.
type DriftView struct {
	Counts
	Categories []DriftCategory
	// WholeRow says that a table was compared by whole-row hashes (no primary key
	// both sides share): its edited rows count once in each "only in" column.
	WholeRow bool
}

// Counts are the rows a clone adds (only in production), deletes (only in the
// sandbox) and overwrites (changed).
type Counts struct {
	OnlyInProduction, OnlyInSandbox, Changed int64
}

// Rows is every row that differs.
func (c Counts) Rows() int64 { return c.OnlyInProduction + c.OnlyInSandbox + c.Changed }

// Saved is the sandbox's rows among them: those the clone exports first.
func (c Counts) Saved() int64 { return c.OnlyInSandbox + c.Changed }

func (c *Counts) add(d cloner.Drift) {
	c.OnlyInProduction += d.OnlyInProduction
	c.OnlyInSandbox += d.OnlyInSandbox
	c.Changed += d.Changed
}

// DriftCategory is one category's table.
type DriftCategory struct {
	Name string
	Counts
	Tables []DriftTable
}

// DriftTable is one row of a category's table.
type DriftTable struct {
	Table string
	Counts
	WholeRow bool
}

// NewDriftView groups a plan's or a clone's drift by category; nil when there is
// none (the plan was refused before any row was read).
func NewDriftView(drift []cloner.Drift) *DriftView {
	if len(drift) == 0 {
		return nil
	}
	v := &DriftView{}
	at := map[string]int{}
	for _, d := range drift {
		i, ok := at[d.Category]
		if !ok {
			i = len(v.Categories)
			at[d.Category] = i
			v.Categories = append(v.Categories, DriftCategory{Name: d.Category})
		}
		c := &v.Categories[i]
		t := DriftTable{Table: d.Table, WholeRow: d.ComparedBy == cloner.ByWholeRow}
		t.add(d)
		c.Tables = append(c.Tables, t)
		c.add(d)
		v.add(d)
		v.WholeRow = v.WholeRow || t.WholeRow
	}
	return v
}

// AdviceView is the last-resort advice of the agents' note: a clone is meant for
// a sandbox that drifted far from production, not a routine refresh. It flags,
// never blocks.
type AdviceView struct {
	Sandbox string
	// Last is the latest clone the bot ran into this sandbox; nil when none.
	Last *LastCloneView
	// Recent: this request comes within MinDays days of Last.
	Recent  bool
	MinDays int
	// LowDrift: the sandbox differs from production in fewer than MinDriftRows rows.
	LowDrift     bool
	MinDriftRows int64
}

// LastCloneView is a clone the bot ran earlier into the same sandbox.
type LastCloneView struct {
	When       string // in the tenant's zone
	DaysAgo    int
	TicketID   int64
	Production string
	Drift      *DriftView // the sandbox's drift when that clone exported it
}
