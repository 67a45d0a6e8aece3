package lifecycle

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/gaiia/clonebot/jobs"
)

// queueSync makes a ticket's sync pending and queues its job, unless one is pending
// already: like webhook deliveries, every other reason to re-read a ticket joins
// the pending sync.
func queueSync(ctx context.Context, tx pgx.Tx, ticketID int64) error {
	tag, err := tx.Exec(ctx, "INSERT INTO ticket_sync_pending (ticket_id) VALUES ($1::bigint) ON CONFLICT DO NOTHING", ticketID)
	if err != nil {
		return fmt.Errorf("mark the sync of ticket %d pending: %w", ticketID, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, jobs.TicketSyncArgs{TicketID: ticketID}, nil); err != nil {
		return fmt.Errorf("queue the sync of ticket %d: %w", ticketID, err)
	}
	return nil
}
