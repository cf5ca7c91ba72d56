package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// Subscriber is what DingTalk is owed when a deploy changes: with the app,
// its card in the project's group (created once, then updated in place)
// and, when it ends, a 1:1 message to its requester; for each custom
// robot whose scope takes the deploy, its card as messages.
type Subscriber struct {
	App    bool    // the app is configured
	Robots []Robot // only Name and Cards are used
}

var (
	_ pipeline.Subscriber = Subscriber{}
	_ pipeline.Announcer  = Subscriber{}
	_ bot.Sink            = (*Adapter)(nil)
	_ bot.Sink            = robotSink{}
	_ bot.Pacer           = (*Adapter)(nil)
)

// Pace implements bot.Pacer: a card is updated at most once per
// Config.UpdateEvery; the changes meanwhile fold into that update.
func (a *Adapter) Pace() time.Duration { return a.every }

// Notices implements pipeline.Subscriber.
func (s Subscriber) Notices(d pipeline.Deploy) []pipeline.Notice {
	var ns []pipeline.Notice
	if s.App {
		ns = append(ns, pipeline.Notice{Platform: platform, Dest: fmt.Sprint("card ", d.ID), Kind: "card", Latest: true, DeployID: d.ID, State: d.State})
		if d.State.Done() {
			ns = append(ns, pipeline.Notice{Platform: platform, Dest: fmt.Sprint("dm ", d.ID), Kind: "dm", DeployID: d.ID, State: d.State})
		}
	}
	for _, r := range s.Robots {
		if r.Cards != nil && r.Cards(d) {
			ns = append(ns, pipeline.Notice{Platform: RobotPlatform(r.Name), Dest: fmt.Sprint("card ", d.ID), Kind: "card", Latest: true, DeployID: d.ID, State: d.State})
		}
	}
	return ns
}

// Announce implements pipeline.Announcer: news of a project goes to its
// group, through the app, and to the robots whose scope takes its
// environment.
func (s Subscriber) Announce(an pipeline.Announcement) []pipeline.Notice {
	b, _ := json.Marshal(an)
	var ns []pipeline.Notice
	if s.App {
		ns = append(ns, pipeline.Notice{Platform: platform, Dest: "announce " + an.Project, Kind: "announce", Payload: b})
	}
	for _, r := range s.Robots {
		if r.Cards != nil && r.Cards(pipeline.Deploy{Project: an.Project, Env: an.Env}) {
			ns = append(ns, pipeline.Notice{Platform: RobotPlatform(r.Name), Dest: "announce " + an.Project, Kind: "announce", Payload: b})
		}
	}
	return ns
}

// announcement is an announcement as a markdown message.
func announcement(payload []byte) (pipeline.Announcement, sessionMessage, error) {
	var an pipeline.Announcement
	if err := json.Unmarshal(payload, &an); err != nil {
		return an, sessionMessage{}, bot.Permanent(fmt.Errorf("an announcement that does not decode: %w", err))
	}
	title := cut(an.Text, maxTitle)
	return an, sessionMessage{MsgType: "markdown", Markdown: &markdownBody{Title: title, Text: "📣 " + escape(an.Text)}}, nil
}

// Sinks are the outbox's sinks of DingTalk, by platform: the app's, and
// one per custom robot.
func (a *Adapter) Sinks() map[string]bot.Sink {
	sinks := map[string]bot.Sink{}
	if a.app() {
		sinks[platform] = a
	}
	for name, r := range a.robots {
		sinks[RobotPlatform(name)] = robotSink{a: a, r: r}
	}
	return sinks
}

// Deliver implements bot.Sink for the app: it creates or updates a
// deploy's card (ref is its outTrackId, or "state <s>" for a card sent as
// messages), sends a requester their 1:1 message, or posts a digest.
func (a *Adapter) Deliver(ctx context.Context, o bot.Outgoing, ref string) (string, error) {
	var err error
	switch o.Kind {
	case "card":
		if a.template != "" {
			ref, err = a.sendCard(ctx, o, ref)
		} else {
			ref, err = a.postCard(ctx, o, ref)
		}
	case "dm":
		err = a.tellRequester(ctx, o.Card, o.State)
	case "digest":
		err = a.sendDigest(ctx, o.Payload, nil)
	case "announce":
		var an pipeline.Announcement
		var m sessionMessage
		if an, m, err = announcement(o.Payload); err == nil {
			if group := a.groupOf(an.Project); group != "" {
				err = a.api.groupSend(ctx, a.robotCode, group, markdownMessage(m.Markdown.Title, m.Markdown.Text))
			}
		}
	default:
		err = bot.Permanent(fmt.Errorf("dingtalk delivers no %q notices", o.Kind))
	}
	return ref, outboxError(err)
}

// sendCard creates a deploy's interactive card in its group, or updates
// it in place where ref says it is.
func (a *Adapter) sendCard(ctx context.Context, o bot.Outgoing, ref string) (string, error) {
	in := a.cardInput(ctx, o.Card, false)
	data := cardData(in)
	if ref != "" {
		err := a.updateCard(ctx, ref, data)
		if !cardGone(err) {
			return ref, err
		}
		a.log.InfoContext(ctx, "dingtalk: card gone, creating it again", "platform", platform, "deploy_id", o.Card.DeployID)
	}
	group := a.groupOf(o.Card.Project)
	if group == "" {
		return "", bot.Permanent(fmt.Errorf("deploy %d: project %s has no dingtalk_group and there is no default group; set dingtalk.default_group or the project's dingtalk_group", o.Card.DeployID, o.Card.Project))
	}
	id := outTrackID(o.Deploy)
	create := createCard{
		CardTemplateID: a.template, OutTrackID: id, OpenSpaceID: groupSpace(group), CallbackType: "STREAM",
		CardData: cardParams{CardParamMap: data}, UserIDType: 1,
		GroupDeliver: groupDeliver{RobotCode: a.robotCode}, GroupSpace: map[string]any{"supportForward": true},
	}
	if a.mode == ModeHTTP {
		create.CallbackType = "HTTP"
	}
	if len(in.Approvers) > 0 {
		create.GroupDeliver.AtUserIDs = map[string]string{}
		for _, u := range in.Approvers {
			create.GroupDeliver.AtUserIDs[u] = u
		}
	}
	err := a.api.call(ctx, "POST", "/v1.0/card/instances/createAndDeliver", create, nil)
	if cardExists(err) { // created before its ref was kept: update it
		return id, a.updateCard(ctx, id, data)
	}
	if err != nil {
		return "", fmt.Errorf("card of deploy %d in %s: %w", o.Card.DeployID, group, err)
	}
	return id, nil
}

func (a *Adapter) updateCard(ctx context.Context, outTrackID string, data map[string]string) error {
	return a.api.call(ctx, "PUT", "/v1.0/card/instances", updateCard{
		OutTrackID: outTrackID, CardData: &cardParams{CardParamMap: data},
		Options: map[string]bool{"updateCardDataByKey": true},
	}, nil)
}

// postCard sends a deploy's card as an ActionCard message in its group,
// when there is no card template: messages cannot be edited, so one is
// posted each time the deploy's state changes (ref is "state <s>" of the
// last), not at every unit's progress.
func (a *Adapter) postCard(ctx context.Context, o bot.Outgoing, ref string) (string, error) {
	state, ok := newState(o.Card, ref)
	if !ok {
		return ref, nil
	}
	group := a.groupOf(o.Card.Project)
	if group == "" {
		return ref, bot.Permanent(fmt.Errorf("deploy %d: project %s has no dingtalk_group and there is no default group; set dingtalk.default_group or the project's dingtalk_group", o.Card.DeployID, o.Card.Project))
	}
	if err := a.api.groupSend(ctx, a.robotCode, group, actionCardMessage(actionCard(a.cardInput(ctx, o.Card, true)))); err != nil {
		return ref, fmt.Errorf("card of deploy %d in %s: %w", o.Card.DeployID, group, err)
	}
	return state, nil
}

// newState says whether a card sent as messages has something new to
// say, and the ref that remembers it: its state changed, and it is not
// the moment a deploy is requested (what comes next follows at once).
func newState(c bot.Card, ref string) (string, bool) {
	state := "state " + string(c.State)
	return state, state != ref && c.State != pipeline.StateRequested
}

// actionCardMessage is an ActionCard as the app's robot sends it.
func actionCardMessage(ac actionCardBody) robotMessage {
	p := map[string]string{"title": ac.Title, "text": ac.Text}
	switch len(ac.Buttons) {
	case 0:
		return markdownMessage(ac.Title, ac.Text)
	case 1:
		p["singleTitle"], p["singleURL"] = ac.Buttons[0].Title, ac.Buttons[0].URL
		return robotMessage{Key: "sampleActionCard", Param: p}
	}
	// sampleActionCard2 … 6 have that many buttons, at most six.
	buttons := ac.Buttons[:min(len(ac.Buttons), 6)]
	for i, b := range buttons {
		p[fmt.Sprintf("actionTitle%d", i+1)], p[fmt.Sprintf("actionURL%d", i+1)] = b.Title, b.URL
	}
	return robotMessage{Key: fmt.Sprintf("sampleActionCard%d", len(buttons)), Param: p}
}

// tellRequester sends the requester of a deploy that ended (in state: the
// deploy may have moved on since) a 1:1 message, if their DingTalk userId
// is known.
func (a *Adapter) tellRequester(ctx context.Context, card bot.Card, state pipeline.State) error {
	user := a.accounts.ChatID(ctx, platform, card.Requester)
	if user == "" {
		return nil
	}
	card.State = state
	title, text := dmMarkdown(card)
	if err := a.api.directSend(ctx, a.robotCode, []string{user}, markdownMessage(title, text)); err != nil {
		return fmt.Errorf("the requester of deploy %d: %w", card.DeployID, err)
	}
	return nil
}

// cardInput adds to a card who may approve it, by DingTalk userId, while
// it awaits approval.
func (a *Adapter) cardInput(ctx context.Context, c bot.Card, links bool) cardInput {
	in := cardInput{Card: c, Requester: c.Requester, Links: links}
	users, anyone := bot.WaitingFor(a.projects.Projects(), a.users, c)
	in.AnyoneBut = anyone
	for _, name := range users {
		if id := a.accounts.ChatID(ctx, platform, name); id != "" {
			in.Approvers = append(in.Approvers, id)
		}
	}
	return in
}

// robotSink delivers a custom robot's notices: cards as ActionCard
// messages with links, each state once, and digests.
type robotSink struct {
	a *Adapter
	r *robot
}

// Deliver implements bot.Sink.
func (s robotSink) Deliver(ctx context.Context, o bot.Outgoing, ref string) (string, error) {
	switch o.Kind {
	case "card":
		state, ok := newState(o.Card, ref)
		if !ok {
			return ref, nil
		}
		ac := actionCard(cardInput{Card: o.Card, Requester: o.Card.Requester, Links: true})
		if err := s.r.send(ctx, s.a, sessionMessage{MsgType: "actionCard", ActionCard: &ac}); err != nil {
			return ref, err
		}
		return state, nil
	case "digest":
		return ref, s.a.sendDigest(ctx, o.Payload, s.r)
	case "announce":
		_, m, err := announcement(o.Payload)
		if err == nil {
			err = s.r.send(ctx, s.a, m)
		}
		return ref, err
	}
	return ref, bot.Permanent(fmt.Errorf("a dingtalk robot delivers no %q notices", o.Kind))
}

// errNoGroup is the answer for a digest to a group without the app.
var errNoGroup = errors.New("a DingTalk group takes digests through the app: set dingtalk.client_id")

// destination splits a digest channel: dingtalk:<openConversationId> or
// dingtalk-robot:<name>.
func destination(channel string) (robotName, group string) {
	if name, ok := strings.CutPrefix(channel, "dingtalk-robot:"); ok {
		return name, ""
	}
	return "", strings.TrimPrefix(channel, "dingtalk:")
}
