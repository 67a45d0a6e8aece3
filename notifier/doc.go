// Package notifier is clonebot's Zendesk client: it reads tickets, their audits, users
// and their organizations, and the incremental ticket export, and announces each step
// of a clone request on its ticket.
//
// It wraps go-zendesk v0.18.0 and works around its gaps: tickets and audits are
// decoded by the parser, the one place that knows their shapes (go-zendesk fails on
// numeric custom field values), users come with a typed parser.Role, every id is
// an int64, comments are posted with a plain PUT so the audit can be
// read back, tags are removed with a DELETE that carries a JSON body, and uploads
// are made with replayable requests of the file's real type.
//
// The client's own http.Client adds authentication (API token, a static bearer token,
// or an OAuth client-credentials token refreshed before it expires) and retries: 429
// and 503 wait for Retry-After (beyond a cap the caller gets a *RateLimitError so a
// job can snooze), other 5xx and transport errors back off exponentially with jitter.
// Announce is idempotent by key: the comment carries a reference line derived from
// the key, and a comment that already carries it is not posted again.
package notifier
