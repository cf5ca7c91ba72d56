package forge

import (
	"context"
	"fmt"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// Intake is what a forge's adapter receives deliveries through, made the
// same way for every forge: the refusals its handler counts, the bounds of
// what ingress reads, the Core that decides, and the inbox that hands
// what the handler stored to the adapter's handle.
type Intake struct {
	Refused *bot.Refusals
	Ingress *bot.Ingress
	Core    *Core
	Inbox   *bot.Inbox
}

// IntakeConfig is what NewIntake needs.
type IntakeConfig struct {
	Core    Config       // with its Logger and Clock set
	Ingress *bot.Ingress // shared with the other ingress routes; nil: bounds of its own
	Store   bot.InboxStore
	Handle  func(ctx context.Context, d pipeline.Delivery) string
	Workers int           // deliveries handled at once
	Timeout time.Duration // of handling one
}

// NewIntake makes an Intake; its errors name the platform.
func NewIntake(cfg IntakeConfig) (Intake, error) {
	c := cfg.Core
	in := Intake{Refused: &bot.Refusals{Platform: c.Platform, Log: c.Logger, Now: c.Clock.Now}, Ingress: cfg.Ingress}
	if in.Ingress == nil {
		in.Ingress = bot.NewIngress(bot.IngressLimits{})
	}
	var err error
	if in.Core, err = NewCore(c); err != nil {
		return Intake{}, fmt.Errorf("%s: %w", c.Platform, err)
	}
	in.Inbox, err = bot.NewInbox(bot.InboxConfig{Platform: c.Platform, Store: cfg.Store, Handle: cfg.Handle,
		Workers: cfg.Workers, Timeout: cfg.Timeout, Logger: c.Logger})
	if err != nil {
		return Intake{}, fmt.Errorf("%s: %w", c.Platform, err)
	}
	return in, nil
}
