package slack

import (
	"regexp"
	"strings"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// request is one thing a person asked of ferry in Slack, from any ingress.
type request struct {
	kind        string // "command", "mention" or "action"
	user, team  string // Slack IDs of who asked
	channel     string // where they asked
	text        string // the command, in the grammar
	confirmed   bool   // a confirmation button: it asked already
	responseURL string // where to answer; "" for a mention
	threadTS    string // a mention: the message to answer in the thread of
	late        bool   // handled too late to answer where it was asked
}

// Action IDs of ferry's buttons. A card's button is actionPrefix and its
// bot.ActionID; the value of every button is the text command it stands for.
const (
	actionPrefix  = "ferry_"
	actionConfirm = "ferry_confirm"
)

// commandRequest reads a slash command. Its delivery ID is its trigger ID,
// which a retry keeps; "" when it has none.
func commandRequest(c slackapi.SlashCommand) (request, string) {
	r := request{kind: "command", user: c.UserID, team: c.TeamID, channel: c.ChannelID, text: unescape(c.Text), responseURL: c.ResponseURL}
	if c.TriggerID == "" {
		return r, ""
	}
	return r, "command:" + c.TriggerID
}

// actionRequests reads the clicks on ferry's buttons in an interaction.
// Anything else (a shortcut, a modal) asks nothing of ferry.
func actionRequests(cb slackapi.InteractionCallback) ([]request, string) {
	if cb.Type != slackapi.InteractionTypeBlockActions {
		return nil, ""
	}
	var reqs []request
	for _, act := range cb.ActionCallback.BlockActions {
		if !strings.HasPrefix(act.ActionID, actionPrefix) || act.Value == "" {
			continue
		}
		channel := cb.Channel.ID
		if channel == "" {
			channel = cb.Container.ChannelID
		}
		reqs = append(reqs, request{
			kind: "action", user: cb.User.ID, team: cb.Team.ID, channel: channel, text: act.Value,
			confirmed: act.ActionID == actionConfirm, responseURL: cb.ResponseURL,
		})
	}
	if cb.TriggerID == "" {
		return reqs, ""
	}
	return reqs, "interaction:" + cb.TriggerID
}

// mentionRequest reads an app_mention event; its delivery ID is the event's
// ID, which Slack keeps across retries.
func mentionRequest(ev slackevents.EventsAPIEvent) (request, string, bool) {
	m, ok := ev.InnerEvent.Data.(*slackevents.AppMentionEvent)
	if !ok || m.BotID != "" || m.User == "" {
		return request{}, "", false
	}
	var id string
	if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok && cb.EventID != "" {
		id = "event:" + cb.EventID
	} else {
		id = "event:" + m.Channel + ":" + m.TimeStamp
	}
	thread := m.ThreadTimeStamp
	if thread == "" {
		thread = m.TimeStamp
	}
	team := m.UserTeam
	if team == "" {
		team = ev.TeamID
	}
	return request{kind: "mention", user: m.User, team: team, channel: m.Channel, text: mentionText(m.Text), threadTS: thread}, id, true
}

// mentions matches the user mentions that lead a message: <@U123> or
// <@U123|name>.
var mentions = regexp.MustCompile(`^\s*(<@[A-Z0-9]+(\|[^>]*)?>\s*)+`)

// mentionText is the command in a mention: the text without the mentions
// that lead it.
func mentionText(s string) string { return unescape(mentions.ReplaceAllString(s, "")) }

// unescape undoes Slack's escaping of &, < and > in message text.
func unescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// storedRequest is a request as the inbox keeps it.
type storedRequest struct {
	Kind        string `json:"kind"`
	User        string `json:"user"`
	Team        string `json:"team,omitempty"`
	Channel     string `json:"channel,omitempty"`
	Text        string `json:"text"`
	Confirmed   bool   `json:"confirmed,omitempty"`
	ResponseURL string `json:"response_url,omitempty"`
	ThreadTS    string `json:"thread_ts,omitempty"`
}

func storedRequests(rs []request) []storedRequest {
	out := make([]storedRequest, len(rs))
	for i, r := range rs {
		out[i] = storedRequest{r.kind, r.user, r.team, r.channel, r.text, r.confirmed, r.responseURL, r.threadTS}
	}
	return out
}

func (s storedRequest) request() request {
	return request{kind: s.Kind, user: s.User, team: s.Team, channel: s.Channel, text: s.Text,
		confirmed: s.Confirmed, responseURL: s.ResponseURL, threadTS: s.ThreadTS}
}
