// Package lifecycle moves a clone request through its states: River workers re-read
// tickets, parse them, decide the next state, record each transition in the audit
// log, queue announcements in the outbox, and run clones in the tenant's window.
//
// A sync reads the ticket and its audits so that they agree, and walks the ticket
// back through its audits to know the request as it stood after each one: Zendesk
// stamps changes to the second, so order is the audit id, never the time. An
// approval counts for the request as it stood at its audit, by an agent or admin
// judged when the bot first saw that audit (tag_authors), never by the bot's own
// user, a service account or a trigger. Decide is pure, and Step returns the record
// to keep, so the rules can be driven without a database (rules_test.go holds a
// reference model of them).
//
// No ticket is left silent: a job that keeps failing for a reason other than Zendesk
// is announced once within a minute and again when it goes through (trouble.go),
// and a periodic sweep of Zendesk's incremental ticket export syncs the tickets no
// webhook reported (sweep.go).
package lifecycle
