package lifecycle

// TicketSyncArgs asks a worker to re-read a ticket through the Zendesk API and move
// its clone request along. Webhooks and the sweep enqueue it; at most one is
// pending per ticket, and one queued while a sync runs runs after it.
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

// OutboxArgs delivers a ticket's pending announcements to Zendesk, in order.
type OutboxArgs struct {
	TicketID int64 `json:"ticket_id"`
}

// Kind is the River job kind.
func (OutboxArgs) Kind() string { return "outbox" }
