// Package lifecycle moves a clone request through its states: River workers re-read
// tickets, parse them, decide the next state, record each transition in the audit
// log, queue announcements in the outbox, and run clones in the tenant's window.
package lifecycle
