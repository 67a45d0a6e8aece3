package jobs

import (
	"testing"

	"github.com/riverqueue/river"
)

// Kinds are stored with every queued job, and replicas of two releases share the
// queue during an upgrade: a renamed kind would strand the jobs queued under the
// old one.
func TestKindsNeverChange(t *testing.T) {
	for want, args := range map[string]river.JobArgs{
		"ticket_sync": TicketSyncArgs{}, "clone": CloneArgs{}, "rollback": RollbackArgs{}, "outbox": OutboxArgs{}, "due": DueArgs{}, "sweep": SweepArgs{},
		"prune_deliveries": PruneDeliveriesArgs{}, "rollback_retention": RetentionArgs{},
	} {
		if got := args.Kind(); got != want {
			t.Errorf("%T.Kind() = %q, want %q", args, got, want)
		}
	}
	if got := LifeCycleKinds(); len(got) != 6 || got[0] != "ticket_sync" {
		t.Errorf("LifeCycleKinds() = %v", got)
	}
}
