package rules

// State is where a clone request stands. The values are stored in the bot
// database, whose state column accepts only these: a new state needs a
// migration that widens its CHECK.
type State string

// The states of the life cycle: the main line and the side states.
const (
	Received         State = "received"
	NeedsInfo        State = "needs_info"
	AwaitingApproval State = "awaiting_approval"
	Approved         State = "approved"
	Scheduled        State = "scheduled"
	Running          State = "running"
	Ready            State = "ready"
	RollingBack      State = "rolling_back"
	RolledBack       State = "rolled_back"
	OnHold           State = "on_hold"
	Rejected         State = "rejected"
	Cancelled        State = "cancelled"
	Failed           State = "failed"
)

// States lists every state, for metrics and tests.
var States = []State{Received, NeedsInfo, AwaitingApproval, Approved, Scheduled, Running, Ready, RollingBack, RolledBack,
	OnHold, Rejected, Cancelled, Failed}

// StatusTag is the ticket tag that shows the state.
func (s State) StatusTag() string { return "clone_status_" + string(s) }

// Pending reports whether the request still waits for the clone: a change of the
// ticket may move it, and a scheduled clone job only runs in these states.
func (s State) Pending() bool {
	return s == Approved || s == Scheduled
}

// Owned reports whether the clone owns the request: a running clone, one done,
// or its rollback. Nothing the ticket says changes such a request, but for the
// rollback tag on a ready one (see Decide).
func (s State) Owned() bool {
	return s == Running || s == Ready || s == RollingBack || s == RolledBack
}
