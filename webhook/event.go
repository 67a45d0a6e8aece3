package webhook

import (
	"context"
	"time"
)

// Event is what the bot keeps of a webhook delivery: "ticket N changed", with the
// identities used to drop repeats. Everything else in a payload is ignored, because
// the worker re-reads the ticket through the API.
type Event struct {
	TicketID int64
	// EventID identifies the change across deliveries: the envelope id of an event
	// subscription. A trigger body has no identity of its own (its times have
	// whole-second resolution, or minutes, so two changes can share them): empty.
	EventID string
	// InvocationID is Zendesk's X-Zendesk-Webhook-Invocation-Id, shared by the
	// retries of one invocation. Empty when the header is absent.
	InvocationID string
	// ActorID is the Zendesk user whose change fired the webhook, 0 if unknown.
	ActorID int64
	// Kind names the change: "ticket.tags_changed" for an event subscription, the
	// trigger body's event or kind value, or "trigger".
	Kind string
	// Time is when the change happened, zero if the payload does not say.
	Time time.Time
}

// Outcome is what a Sink did with an event.
type Outcome int

// Outcomes of Sink.Deliver.
const (
	// Accepted: the delivery is recorded and a ticket sync is (or already was) pending.
	Accepted Outcome = iota + 1
	// Duplicate: the same invocation or event was delivered before; nothing changed.
	Duplicate
)

func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Duplicate:
		return "duplicate"
	default:
		return "unknown"
	}
}

// Sink takes verified, decoded events. It must return only once the event is durable:
// the handler acknowledges the delivery as soon as Deliver returns without error.
type Sink interface {
	Deliver(ctx context.Context, ev Event) (Outcome, error)
}
