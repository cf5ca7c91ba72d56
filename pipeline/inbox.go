package pipeline

import (
	"context"
	"time"
)

// Delivery is one request a platform made of ferry (a webhook, a slash
// command, a button click), as the inbox keeps it: stored before ferry
// acknowledges it, and marked processed, with its outcome, when its
// handling ends.
type Delivery struct {
	Platform string // "github", "slack", …
	ID       string // the platform's delivery ID: unique per platform, kept by a redelivery
	Event    string // what it is, as its adapter names it ("push", "command")
	// Body is what the adapter needs to handle it again after a restart;
	// nil once processed and past retention.
	Body []byte
	// Hash identifies the body, for a platform whose signature covers no
	// timestamp (GitHub): a body that came in the last day under another
	// delivery ID is a captured request replayed, not a redelivery. nil:
	// no such check.
	Hash     []byte
	Received time.Time // when it arrived; zero: the store sets it
	// Attempts counts the handlings begun, this one included: more than one
	// means an earlier handling was cut off (ferry stopped or crashed).
	Attempts int
}

// Receipt is what the inbox made of a delivery it was given.
type Receipt int

const (
	// Received is a new delivery, stored: handle it.
	Received Receipt = iota
	// Duplicate is a delivery ID the platform delivered before: a retry or
	// a redelivery, to acknowledge and ignore.
	Duplicate
	// Replayed is a body that came before under another delivery ID: a
	// captured request sent again, to acknowledge and ignore.
	Replayed
)

func (r Receipt) String() string {
	switch r {
	case Received:
		return "received"
	case Duplicate:
		return "duplicate"
	case Replayed:
		return "replayed"
	}
	return "unknown"
}

type deliveryKey struct{}

// WithDelivery returns ctx carrying the delivery being handled, "platform/id".
// What the engine creates on its behalf (a deploy, a rollback) is keyed by
// it, so that a delivery handled twice — after a crash, or by two replicas —
// creates it once.
func WithDelivery(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, deliveryKey{}, key)
}

// DeliveryOf returns the delivery ctx carries; "" for none.
func DeliveryOf(ctx context.Context) string {
	k, _ := ctx.Value(deliveryKey{}).(string)
	return k
}
