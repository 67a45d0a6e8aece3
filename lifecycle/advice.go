package lifecycle

import (
	"time"

	"github.com/gaiia/clonebot/lifecycle/messages"
)

// Policy says when the agents' note flags a request. A clone is a last resort,
// meant for a sandbox that drifted far from production; the flags are advice, and
// agents decide with the hold and reject tags.
type Policy struct {
	// MinDaysBetweenClones flags a request made within this many days of the last
	// clone into its sandbox; 0 flags none.
	MinDaysBetweenClones int
	// MinDriftRows flags a sandbox that differs from production in fewer rows; 0
	// flags none.
	MinDriftRows int64
}

// advise is the note's advice on a request for sandbox made now, whose plan found
// drift (nil when the plan read no rows): the last clone the bot ran into the
// sandbox, with its drift then, and the policy's flags.
func (p Policy) advise(sandbox string, last *pastClone, drift *messages.DriftView, now time.Time, loc *time.Location) *messages.AdviceView {
	a := &messages.AdviceView{Sandbox: sandbox, MinDays: p.MinDaysBetweenClones, MinDriftRows: p.MinDriftRows}
	if last != nil {
		since := now.Sub(last.FinishedAt)
		a.Last = &messages.LastCloneView{
			When: last.FinishedAt.In(loc).Format("Mon 2 Jan 2006 15:04 MST"), DaysAgo: int(max(since, 0) / (24 * time.Hour)),
			TicketID: last.TicketID, Production: last.Production, Drift: messages.NewDriftView(last.Drift),
		}
		a.Recent = p.MinDaysBetweenClones > 0 && since < time.Duration(p.MinDaysBetweenClones)*24*time.Hour
	}
	a.LowDrift = drift != nil && drift.Rows() < p.MinDriftRows
	return a
}
