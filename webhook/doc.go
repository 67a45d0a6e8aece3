// Package webhook receives Zendesk webhooks at POST /webhooks/zendesk and turns each
// verified delivery into a durable "ticket N changed" job.
//
// The request path is deliberately short: read at most 1 MiB, check the HMAC-SHA256
// signature against each configured secret and the signed timestamp against a window,
// decode either payload style (a trigger-connected body the admin wrote, or an
// event-subscription envelope) into one small Event, drop events that are not clone
// requests or that the bot caused itself, and hand the rest to a Sink. The Sink the
// service uses, Intake, records the delivery and enqueues at most one pending
// ticket sync per ticket in a single transaction, so the 202 is only sent once the
// work is durable. A delivery repeating an invocation id (Zendesk's retries) or an
// event subscription's event id adds nothing; a trigger body has no identity of its
// own (its times have whole-second resolution, so two changes can share them), and
// a repeat of one costs at most one more sync, never a lost change. A 503 (the bot
// database is down) carries a Retry-After under a minute, without which Zendesk
// would not retry. Under load, deliveries arriving together share one transaction
// (one commit for the group). Delivery records serve de-duplication only: the
// prune job (PruneWorker, hourly on the leader) deletes them after a week.
//
// The worker re-reads the ticket through the Zendesk API: nothing in a payload is
// trusted beyond "this ticket changed".
package webhook
