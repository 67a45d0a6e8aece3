// Package lifecycle runs the River workers that carry a clone request from its
// ticket to its ready notice. Each worker is its own type, built with only what it
// uses:
//
//   - syncer (job ticket_sync, sync.go, read.go): re-reads a ticket and its audits
//     through the notifier, reads them into a rules.Snapshot, decides once from
//     what it read (planning the clone when the decision announces the plan), and
//     applies the decision once under the request's row lock, unless another
//     worker moved the request meanwhile (then it decides again);
//   - runner (job clone, clonerun.go, approver.go): in the tenant's window, brings
//     the request up to date through the syncer, re-reads the approver, starts,
//     runs the clone within its deadline, and records how it ended; restarts a
//     clone whose runner died;
//   - restorer (job rollback, rollback.go): rolls a ready clone back once an
//     agent's rollback tag asked for it (the sync checks the sandbox still keeps
//     that clone's copy first), and records how it ended;
//   - outbox (job outbox, outbox.go): posts the announcements queued with each
//     transition, in order and once each;
//   - due (job due, due.go): the leader's timer: due clones, dead runners (of
//     clones and rollbacks), failing jobs to announce (trouble.go), lost
//     deliveries, the gauges;
//   - sweeper (job sweep, sweep.go): Zendesk's incremental export, for the changes
//     no webhook brought.
//
// The rules themselves are in package rules (pure), the comments in package
// messages, the windows in package schedule. Every query is a method of one
// repository type (repo*.go), and every transition goes through one record step
// (record.go): audit entries, the row, the rendered announcements, in one
// transaction.
//
// No ticket is left silent: a job that keeps failing for a reason other than Zendesk
// is announced once within a minute and again when it goes through (trouble.go).
package lifecycle
