package slack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
)

// Retries of a card that cannot be posted: backoff doubles from minBackoff
// to maxBackoff, and after maxAttempts failures in a row the change is
// dropped (the deploy's next change tries again).
const (
	minBackoff  = time.Second
	maxBackoff  = 5 * time.Minute
	maxAttempts = 8
)

// outbox holds the deploys whose card is out of date. Only the latest card
// matters, so a deploy is in it once however often it changes.
type outbox struct {
	mu     sync.Mutex
	items  map[int64]*outItem
	paused time.Time     // rate limited until then
	wake   chan struct{} // a deploy changed
}

type outItem struct {
	dirty    bool      // changed since its card was last sent
	sent     time.Time // when its card was last sent
	retry    time.Time // not before, after a failure
	attempts int       // failures in a row
}

func newOutbox() *outbox {
	return &outbox{items: map[int64]*outItem{}, wake: make(chan struct{}, 1)}
}

// DeployChanged implements pipeline.Notifier. It returns at once: the card
// is sent by the worker Run starts.
func (a *Adapter) DeployChanged(_ context.Context, d pipeline.Deploy) {
	o := a.out
	o.mu.Lock()
	it := o.items[d.ID]
	if it == nil {
		it = &outItem{}
		o.items[d.ID] = it
	}
	it.dirty = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// next returns the deploy whose card is due first: ready if due by now,
// else when it will be. ok is false when no card is out of date.
func (o *outbox) next(now time.Time, every time.Duration) (id int64, due time.Time, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, it := range o.items {
		if !it.dirty {
			continue
		}
		at := it.retry
		if !it.sent.IsZero() && it.sent.Add(every).After(at) {
			at = it.sent.Add(every)
		}
		if o.paused.After(at) {
			at = o.paused
		}
		if !ok || at.Before(due) || at.Equal(due) && i < id {
			id, due, ok = i, at, true
		}
	}
	if ok && due.Before(now) {
		due = now
	}
	return id, due, ok
}

// deliver sends cards until ctx ends.
func (a *Adapter) deliver(ctx context.Context) {
	o := a.out
	for ctx.Err() == nil {
		now := a.clock.Now()
		id, due, ok := o.next(now, a.every)
		var timer <-chan time.Time
		if ok && due.After(now) {
			timer = a.clock.After(due.Sub(now))
		}
		if ok && timer == nil {
			a.deliverOne(ctx, id)
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-timer:
		}
	}
}

// deliverOne sends the current card of a deploy and records how it went.
func (a *Adapter) deliverOne(ctx context.Context, id int64) {
	o := a.out
	o.mu.Lock()
	it := o.items[id]
	it.dirty = false // a change while sending marks it again
	o.mu.Unlock()

	done, err := a.sendCard(ctx, id)
	now := a.clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	var limited *slackapi.RateLimitedError
	switch {
	case err == nil:
		it.sent, it.attempts, it.retry = now, 0, time.Time{}
		if done && !it.dirty {
			delete(o.items, id)
		}
	case ctx.Err() != nil:
		it.dirty = true
	case errors.As(err, &limited):
		a.log.WarnContext(ctx, "slack: rate limited", "platform", platform, "deploy_id", id, "retry_after", limited.RetryAfter)
		it.dirty = true
		o.paused = now.Add(max(limited.RetryAfter, time.Second))
	default:
		it.attempts++
		if it.attempts >= maxAttempts {
			a.logErr(ctx, "card not sent; giving up until the deploy changes", err, "deploy_id", id, "attempts", it.attempts)
			delete(o.items, id)
			return
		}
		a.logErr(ctx, "card not sent; will retry", err, "deploy_id", id, "attempts", it.attempts)
		it.dirty = true
		it.retry = now.Add(min(maxBackoff, minBackoff<<(it.attempts-1)))
	}
}

// sendCard posts or edits the card of a deploy, and tells its requester
// when it ended. done reports that the deploy has ended and they were told.
func (a *Adapter) sendCard(ctx context.Context, id int64) (done bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	card, err := a.bot.Card(ctx, id)
	if err != nil {
		return false, fmt.Errorf("card of deploy %d: %w", id, err)
	}
	msg := cardMessage(a.cardInput(ctx, card))
	ref, err := a.store.ChatMessage(ctx, platform, id)
	switch {
	case errors.Is(err, pipeline.ErrNotFound):
		if ref, err = a.postCard(ctx, card, msg); err != nil {
			return false, err
		}
	case err != nil:
		return false, err
	default:
		_, _, _, err = a.api.UpdateMessageContext(ctx, ref.Channel, ref.TS, slackapi.MsgOptionText(msg.Text, false), slackapi.MsgOptionBlocks(msg.Blocks...))
		if isGone(err) { // deleted by someone: post it again
			a.log.InfoContext(ctx, "slack: card gone, posting it again", "platform", platform, "deploy_id", id)
			ref, err = a.postCard(ctx, card, msg)
		}
		if err != nil {
			return false, fmt.Errorf("chat.update of deploy %d: %w", id, err)
		}
	}
	if !card.State.Done() {
		return false, nil
	}
	if ref.Notified != card.State {
		if err := a.tellRequester(ctx, card); err != nil {
			return false, err
		}
		ref.Notified = card.State
		if err := a.store.PutChatMessage(ctx, ref); err != nil {
			return false, err
		}
	}
	return true, nil
}

// postCard posts the first card of a deploy and remembers where it is.
func (a *Adapter) postCard(ctx context.Context, card bot.Card, msg message) (storage.ChatMessage, error) {
	ref := storage.ChatMessage{Platform: platform, DeployID: card.DeployID}
	channel := a.channel
	for _, p := range a.engine.Projects() {
		if p.Name == card.Project && p.Channel != "" {
			channel = p.Channel
		}
	}
	if channel == "" {
		return ref, fmt.Errorf("deploy %d: project %s has no channel and there is no default channel", card.DeployID, card.Project)
	}
	ch, ts, err := a.api.PostMessageContext(ctx, channel, slackapi.MsgOptionText(msg.Text, false), slackapi.MsgOptionBlocks(msg.Blocks...))
	if err != nil {
		return ref, fmt.Errorf("chat.postMessage of deploy %d to %s: %w", card.DeployID, channel, err)
	}
	ref.Channel, ref.TS = ch, ts
	if err := a.store.PutChatMessage(ctx, ref); err != nil {
		// The card is posted; without its ts the next change posts another.
		a.logErr(ctx, "remember card", err, "deploy_id", card.DeployID)
	}
	return ref, nil
}

// isGone reports whether chat.update failed because the message is gone.
func isGone(err error) bool {
	var e slackapi.SlackErrorResponse
	return errors.As(err, &e) && (e.Err == "message_not_found" || e.Err == "channel_not_found")
}

// tellRequester sends the requester of an ended deploy a direct message,
// if their Slack ID is known.
func (a *Adapter) tellRequester(ctx context.Context, card bot.Card) error {
	user := a.slackID(ctx, card.Requester)
	if user == "" {
		return nil
	}
	if err := a.dm(ctx, user, dmMessage(card)); err != nil {
		return fmt.Errorf("the requester of deploy %d: %w", card.DeployID, err)
	}
	return nil
}

// dm sends a Slack user a direct message.
func (a *Adapter) dm(ctx context.Context, user string, msg message) error {
	dm, ok := a.dms.Load(user)
	if !ok {
		ch, _, _, err := a.api.OpenConversationContext(ctx, &slackapi.OpenConversationParameters{Users: []string{user}})
		if err != nil {
			return fmt.Errorf("conversations.open: %w", err)
		}
		dm = ch.ID
		a.dms.Store(user, ch.ID)
	}
	if _, _, err := a.api.PostMessageContext(ctx, dm.(string), slackapi.MsgOptionText(msg.Text, false), slackapi.MsgOptionBlocks(msg.Blocks...)); err != nil {
		return fmt.Errorf("direct message: %w", err)
	}
	return nil
}

// cardInput adds to a card what Slack shows of people: the requester and,
// while it awaits approval, who may approve it, as mentions.
func (a *Adapter) cardInput(ctx context.Context, c bot.Card) cardInput {
	in := cardInput{Card: c, Requester: escape(c.Requester)}
	if id := a.slackID(ctx, c.Requester); id != "" {
		in.Requester = "<@" + id + ">"
	}
	if c.State != pipeline.StateAwaitingApproval {
		return in
	}
	var from []string
	for _, p := range a.engine.Projects() {
		if env, ok := p.Env(c.Env); ok && p.Name == c.Project {
			from = env.Approvals.From
		}
	}
	if len(from) == 0 {
		in.AnyoneBut = true
		return in
	}
	for _, name := range a.approvers(from) {
		if name == c.Requester || slices.Contains(c.Approvals.By, name) {
			continue
		}
		if id := a.slackID(ctx, name); id != "" {
			in.Approvers = append(in.Approvers, "<@"+id+">")
		}
	}
	return in
}

// approvers lists the users that names (users and teams) stand for, in
// order, each once.
func (a *Adapter) approvers(names []string) []string {
	var users []string
	add := func(n string) {
		if !slices.Contains(users, n) {
			users = append(users, n)
		}
	}
	for _, n := range names {
		if _, ok := a.users.User(n); ok {
			add(n)
			continue
		}
		if t, ok := a.users.Team(n); ok {
			for _, m := range t.Members {
				add(m)
			}
		}
	}
	return users
}
