// Package zendesksim is a Zendesk simulator served over real HTTP, for end-to-end
// tests and the demo.
//
// It speaks the subset of the Zendesk Support API that clonebot uses (tickets,
// comments, tags, audits, users and their organization memberships, uploads, the
// incremental ticket export, OAuth client-credentials tokens) with the shapes of
// real Zendesk responses, including the awkward ones: numeric custom field values,
// 409 on stale safe updates, 422 on closed tickets, cursor and offset pagination,
// ids past 2^32 (users and organizations of 12 digits), times to the second, and an
// export that leaves out the last minute and allows 10 requests a minute.
//
// Every ticket change, whether made through the Go API (as a customer or an agent
// would in the Zendesk UI) or through the REST API, records an audit and then sends
// a signed webhook, either trigger style or event-subscription style, from a
// queue the Server owns, retried as Zendesk documents (a timeout, a 409 three times,
// a 429 or 503 only with a Retry-After under 60 s) and optionally duplicated.
//
// Tests can inject faults (429 with Retry-After, 5xx, latency) and read the request
// log. All methods are safe for concurrent use.
package zendesksim
