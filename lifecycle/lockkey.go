package lifecycle

import "fmt"

// lockSpace is the top 16 bits of a ticket's 64-bit advisory lock key; the ticket id
// fills the other 48. Zendesk ticket ids are far below 2^48, so every ticket has its
// own key in each space, and keys of different spaces never meet. (Two int4 keys
// cannot hold a ticket id: real ones pass 2^31.)
type lockSpace uint16

// The bot's per-ticket lock spaces. Keys are single bigints, which PostgreSQL keeps
// apart from two-int4 keys; the tops are ASCII pairs, unlike the migration lock's.
const (
	runLocks    lockSpace = 0x6372 // "cr": the runner of a ticket's clone or rollback, held for the run
	outboxLocks lockSpace = 0x636f // "co": the worker posting a ticket's announcements
)

// maxLockedTicket is the largest ticket id a lock key can hold.
const maxLockedTicket = 1<<48 - 1

// key returns the advisory lock key of ticket id in the space.
func (s lockSpace) key(ticketID int64) (int64, error) {
	if ticketID <= 0 || ticketID > maxLockedTicket {
		return 0, fmt.Errorf("ticket id %d is outside the range of lock keys (1 to 2^48-1)", ticketID)
	}
	return int64(s)<<48 | ticketID, nil
}
