// Package parser turns a Zendesk ticket into a clone request, or into a list
// of problems that tell the customer exactly which answer to fix and how.
//
// It is the one place that knows Zendesk's wire shapes: DecodeTicket reads
// the body of GET /api/v2/tickets/{id}.json itself (go-zendesk v0.18.0
// rejects tickets whose custom field values are JSON numbers), and Parse
// reads the four answers of a clone request from the configured custom
// fields, falling back to labelled lines in the description for tickets
// created by email or through the API.
//
// Nothing is guessed: a name that matches no instance, or more than one,
// a wipe confirmation that is not an unambiguous yes, or a single malformed
// address is a Problem, never a best effort. Everything here is a pure
// function of its arguments, so the lifecycle worker can re-parse a ticket
// after every edit and compare fingerprints.
package parser
