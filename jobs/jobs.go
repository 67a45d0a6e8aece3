// Package jobs holds the arguments of clonebot's River jobs: what each job is
// asked to do, and nothing of how. It imports nothing else of the project, so
// that whoever queues a job (the webhook intake, the life cycle, the wiring)
// depends on these few types alone and never on the workers that run them.
//
// A kind is stored with every queued job: renaming one strands the jobs already
// queued under the old name, so kinds never change.
package jobs

// TicketSyncArgs asks a worker to re-read a ticket through the Zendesk API and move
// its clone request along. Webhooks and the sweep enqueue it; at most one is
// pending per ticket (table ticket_sync_pending), and one queued while a sync runs
// runs after it.
type TicketSyncArgs struct {
	TicketID int64 `json:"ticket_id"`
}

// Kind is the River job kind.
func (TicketSyncArgs) Kind() string { return "ticket_sync" }

// CloneArgs runs the clone of an approved request at its scheduled time.
type CloneArgs struct {
	TicketID    int64  `json:"ticket_id"`
	Fingerprint string `json:"fingerprint"`
	// Run tells a restart after an interruption from the run it replaces, since
	// River keeps one job per distinct arguments.
	Run int `json:"run,omitempty"`
}

// Kind is the River job kind.
func (CloneArgs) Kind() string { return "clone" }

// RollbackArgs restores the sandbox of a ready request's clone from the copy that
// clone kept, CloneID naming it: a rollback never restores another clone's copy.
type RollbackArgs struct {
	TicketID int64  `json:"ticket_id"`
	CloneID  string `json:"clone_id"`
}

// Kind is the River job kind.
func (RollbackArgs) Kind() string { return "rollback" }

// OutboxArgs delivers a ticket's pending announcements to Zendesk, in order.
type OutboxArgs struct {
	TicketID int64 `json:"ticket_id"`
}

// Kind is the River job kind.
func (OutboxArgs) Kind() string { return "outbox" }

// DueArgs starts scheduled clones whose window has come, restarts clones whose
// runner died, announces jobs that keep failing and re-queues announcements whose
// delivery job was lost. The leader runs it on a timer.
type DueArgs struct{}

// Kind is the River job kind.
func (DueArgs) Kind() string { return "due" }

// SweepArgs reads the tickets Zendesk's incremental export lists as changed since
// the last sweep. The leader runs it on a timer.
type SweepArgs struct{}

// Kind is the River job kind.
func (SweepArgs) Kind() string { return "sweep" }

// PruneDeliveriesArgs deletes webhook delivery records once they are too old to
// matter for de-duplication (Zendesk stops retrying long before).
type PruneDeliveriesArgs struct{}

// Kind is the River job kind.
func (PruneDeliveriesArgs) Kind() string { return "prune_deliveries" }

// RetentionArgs drops the rollback copies that have expired in every sandbox (and
// what an interrupted clone left staged there).
type RetentionArgs struct{}

// Kind is the River job kind.
func (RetentionArgs) Kind() string { return "rollback_retention" }

// QueueClone is the River queue of clone and rollback jobs, apart so that long
// clones and rollbacks never delay ticket syncs and announcements.
const QueueClone = "clone"

// LifeCycleKinds are the kinds of the jobs that carry a request through its life
// cycle, for the metrics to export at zero from the start.
func LifeCycleKinds() []string {
	return []string{TicketSyncArgs{}.Kind(), CloneArgs{}.Kind(), RollbackArgs{}.Kind(), OutboxArgs{}.Kind(), DueArgs{}.Kind(), SweepArgs{}.Kind()}
}
