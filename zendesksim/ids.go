package zendesksim

// Zendesk's ids are 64-bit and large: users and organizations of an account
// created in recent years have 12 digits, busy accounts have tickets past 2^32,
// and audit, comment and attachment ids share one sequence past 10^13. The
// simulator numbers each kind from such a base, so that a client narrowing an id
// to 32 bits (or a SQL parameter typed integer) fails here as it would in
// production.
const (
	firstUserID         int64 = 361187654321
	firstOrganizationID int64 = 361199887700
	firstTicketID       int64 = 4294968213 // just past 2^32
	firstEventID        int64 = 31415926535897
)

// ids hands out the ids of one simulated account; guarded by Server.mu.
type ids struct {
	user, organization, ticket, event int64
}

func newIDs() ids {
	return ids{user: firstUserID - 1, organization: firstOrganizationID - 1, ticket: firstTicketID - 1, event: firstEventID - 1}
}

func next(n *int64) int64 {
	*n++
	return *n
}
