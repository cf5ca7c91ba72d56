package dingtalk

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/pipeline"
)

var (
	_ dashboards.Poster = digestQueue{}
	_ dashboards.Poster = (*Adapter)(nil)
)

// digestMarkdown renders a digest as DingTalk markdown: the title, the
// period, the delivery numbers and the DORA metrics with their change, the
// leaderboards a line each, and the chart by its signed address.
func digestMarkdown(g dashboards.Digest) (title, text string) {
	var b strings.Builder
	b.WriteString("### " + escape(g.Title()) + "\n\n")
	about := g.Period.About()
	if g.Late {
		about += " · ⌛ sent late: ferry was not running at " + g.Scheduled.In(g.Period.Loc).Format("Mon 2 Jan 15:04 MST")
	}
	b.WriteString(escape(about) + "\n\n")
	var delivery, dora []string
	for _, r := range g.Report.Rows() {
		s := "- **" + escape(r.Name) + ":** " + escape(r.Value)
		if r.Detail != "" {
			s += " (" + escape(r.Detail) + ")"
		}
		if r.Change != "" {
			mark := map[dashboards.Tone]string{dashboards.Better: " 🟢", dashboards.Worse: " 🔴"}[r.Tone]
			s += mark + " " + escape(r.Change) + " vs " + escape(r.Previous)
		}
		if r.DORA {
			dora = append(dora, s)
		} else {
			delivery = append(delivery, s)
		}
	}
	b.WriteString(strings.Join(delivery, "\n") + "\n\n**DORA metrics**\n\n" + strings.Join(dora, "\n") + "\n")
	by := dashboards.Dimension("")
	for _, board := range g.Boards {
		if board.By != by {
			by = board.By
			b.WriteString("\n**Leaderboards by " + escape(string(by)) + "**\n\n")
		}
		b.WriteString("- " + escape(board.Kind.Title()) + ": " + escape(bot.BoardLine(board)) + "\n")
	}
	if g.ChartURL != "" {
		b.WriteString("\n![Deploys per day by outcome, and the median lead time per day](" + g.ChartURL + ")\n")
	}
	return cut(g.Title(), maxTitle), cut(b.String(), maxMarkdown)
}

// Digests is the dashboards.Poster of a running ferry for the digest
// channels dingtalk:<openConversationId> and dingtalk-robot:<name>: it
// puts each digest in the outbox of the app or of the robot.
func (a *Adapter) Digests() dashboards.Poster { return digestQueue{a} }

type digestQueue struct{ a *Adapter }

// digestPayload is a queued digest, rendered when it was due.
type digestPayload struct {
	Group string `json:"group,omitempty"` // openConversationId; "" for a robot
	Title string `json:"title"`
	Text  string `json:"text"`
}

// PostDigest implements dashboards.Poster: it queues the digest. The chart
// goes by its signed address (the digest's ChartURL), which DingTalk shows
// as an image when it can reach ferry.
func (q digestQueue) PostDigest(ctx context.Context, channel string, g dashboards.Digest, _ []byte) error {
	n, _, err := q.a.digestNotice(channel, g)
	if err != nil {
		return err
	}
	return q.a.store.AddNotices(ctx, []pipeline.Notice{n})
}

// PostDigest posts a digest at once (for ferry digest --send), to
// dingtalk:<openConversationId> or dingtalk-robot:<name>.
func (a *Adapter) PostDigest(ctx context.Context, channel string, g dashboards.Digest, _ []byte) error {
	n, r, err := a.digestNotice(channel, g)
	if err != nil {
		return err
	}
	return a.sendDigest(ctx, n.Payload, r)
}

// digestNotice renders a digest for a channel into the notice that
// posts it, and the robot that does (nil: the app).
func (a *Adapter) digestNotice(channel string, g dashboards.Digest) (pipeline.Notice, *robot, error) {
	name, group := destination(channel)
	title, text := digestMarkdown(g)
	b, err := json.Marshal(digestPayload{Group: group, Title: title, Text: text})
	if err != nil {
		return pipeline.Notice{}, nil, fmt.Errorf("digest for %s: %w", channel, err)
	}
	n := pipeline.Notice{Platform: platform, Dest: "digest " + channel, Kind: "digest", Payload: b}
	switch {
	case name != "":
		r := a.robots[name]
		if r == nil {
			return n, nil, fmt.Errorf("digest for %s: no robot %s in dingtalk.robots", channel, name)
		}
		n.Platform = RobotPlatform(name)
		return n, r, nil
	case !a.app():
		return n, nil, fmt.Errorf("digest for %s: %w", channel, errNoGroup)
	}
	return n, nil, nil
}

// sendDigest posts a queued digest in its group through the app, or
// through the robot r.
func (a *Adapter) sendDigest(ctx context.Context, payload []byte, r *robot) error {
	var p digestPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return bot.Permanent(fmt.Errorf("a queued digest that does not decode: %w", err))
	}
	if r != nil {
		return r.send(ctx, a, sessionMessage{MsgType: "markdown", Markdown: &markdownBody{Title: p.Title, Text: p.Text}})
	}
	return a.api.groupSend(ctx, a.robotCode, p.Group, markdownMessage(p.Title, p.Text))
}
