// Package rules is the clone request's state machine, without any IO: what a
// ticket says (a Snapshot, read from the ticket and its audits), what the bot
// remembers of the request (a Record), and the decision that takes one to the
// next (Decide, Step). The life cycle's workers read, decide with these rules,
// and record; the tests walk every state through them without a database.
//
// Zendesk stamps changes to the second, so order is the audit id, never the
// time: the ticket is walked back through its audits to know the request as it
// stood after each one (history). An approval counts for the request as it
// stood at its audit, when its author was an agent or admin judged when the bot
// first saw the audit, by hand, and neither the bot's own user nor a service
// account; any later change of the request voids it. A clone is one-time: once
// it is ready, only the rollback tag, judged like the approval and counted once
// per addition, moves the request (to rolling_back, then rolled_back, final).
//
// Reasons are stable short codes (stored in the audit log), apart from their
// wording (Reason.Text).
package rules
