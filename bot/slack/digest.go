package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/pipeline"
)

var (
	_ dashboards.Poster = (*Adapter)(nil)
	_ dashboards.Poster = digestQueue{}
)

// digestMessage renders a digest in Block Kit: a header, the period, the
// delivery numbers and the DORA metrics as fields with their change, and
// the leaderboards a line each. The chart goes with it as a file.
func digestMessage(g dashboards.Digest) message {
	blocks := []slackapi.Block{slackapi.NewHeaderBlock(plain(cut(g.Title(), maxHeaderText)))}
	about := g.Period.About()
	if g.Late {
		about += " · :hourglass: sent late: ferry was not running at " + g.Scheduled.In(g.Period.Loc).Format("Mon 2 Jan 15:04 MST")
	}
	blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn(escape(about))))
	var delivery, dora []*slackapi.TextBlockObject
	for _, r := range g.Report.Rows() {
		f := mrkdwn(metricField(r))
		if r.DORA {
			dora = append(dora, f)
		} else {
			delivery = append(delivery, f)
		}
	}
	blocks = append(blocks,
		slackapi.NewSectionBlock(nil, delivery, nil),
		section("*DORA metrics*"),
		slackapi.NewSectionBlock(nil, dora, nil),
	)
	by := dashboards.Dimension("")
	var lines []string
	flush := func() {
		if len(lines) > 0 {
			blocks = append(blocks, slackapi.NewDividerBlock(), section("*Leaderboards by "+string(by)+"*\n"+strings.Join(lines, "\n")))
		}
		lines = nil
	}
	for _, b := range g.Boards {
		if b.By != by {
			flush()
			by = b.By
		}
		lines = append(lines, "• "+escape(b.Kind.Title())+": "+escape(bot.BoardLine(b)))
	}
	flush()
	return message{Text: g.Title() + ", " + g.Period.String(), Blocks: blocks}
}

// metricField is one metric as a field: its name, value, and change with
// a green or red dot that says whether it is for the better.
func metricField(r dashboards.Row) string {
	s := "*" + escape(r.Name) + "*\n" + escape(r.Value)
	if r.Detail != "" {
		s += " _(" + escape(r.Detail) + ")_"
	}
	if r.Change != "" {
		mark := map[dashboards.Tone]string{dashboards.Better: ":large_green_circle:", dashboards.Worse: ":red_circle:"}[r.Tone]
		s += strings.TrimRight(" "+mark, " ") + " " + escape(r.Change) + " vs " + escape(r.Previous)
	}
	return s
}

// channelIDPattern is a Slack channel ID, which files.completeUploadExternal
// takes; a #name has to be looked up.
var channelIDPattern = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)

// PostDigest posts a digest to a channel (an ID like C0123, or #name),
// with its chart, as one message: the chart is uploaded with Slack's
// external upload (files.getUploadURLExternal, the upload, then
// files.completeUploadExternal with the digest's blocks). It needs the
// files:write scope, and channels:read to look a #name up.
func (a *Adapter) PostDigest(ctx context.Context, channel string, g dashboards.Digest, chart []byte) error {
	return a.uploadDigest(ctx, channel, digestMessage(g), chart)
}

// uploadDigest posts a rendered digest with its chart.
func (a *Adapter) uploadDigest(ctx context.Context, channel string, msg message, chart []byte) error {
	id, err := a.channelID(ctx, channel)
	if err != nil {
		return err
	}
	return a.call(ctx, "files.uploadV2", func() error {
		_, err := a.api.UploadFileContext(ctx, slackapi.UploadFileParameters{
			Reader: bytes.NewReader(chart), FileSize: len(chart), Filename: "digest.png",
			Title: msg.Text, AltTxt: "Deploys per day by outcome, and the median lead time per day",
			Channel: id, Blocks: slackapi.Blocks{BlockSet: msg.Blocks},
		})
		return err
	})
}

// Digests is the dashboards.Poster of a running ferry: it puts each digest
// in the outbox, so that one Slack cannot take now is posted when it can
// (PostDigest posts at once, for ferry digest --send).
func (a *Adapter) Digests() dashboards.Poster { return digestQueue{a} }

type digestQueue struct{ a *Adapter }

// digestPayload is a queued digest, rendered when it was due.
type digestPayload struct {
	Channel string          `json:"channel"`
	Text    string          `json:"text"`
	Blocks  slackapi.Blocks `json:"blocks"`
	Chart   []byte          `json:"chart"`
}

// PostDigest implements dashboards.Poster: it queues the digest.
func (q digestQueue) PostDigest(ctx context.Context, channel string, g dashboards.Digest, chart []byte) error {
	msg := digestMessage(g)
	b, err := json.Marshal(digestPayload{Channel: channel, Text: msg.Text, Blocks: slackapi.Blocks{BlockSet: msg.Blocks}, Chart: chart})
	if err != nil {
		return fmt.Errorf("digest for %s: %w", channel, err)
	}
	return q.a.store.AddNotices(ctx, []pipeline.Notice{{Platform: platform, Dest: "digest " + channel, Kind: "digest", Payload: b}})
}

// sendDigest posts a queued digest.
func (a *Adapter) sendDigest(ctx context.Context, payload []byte) error {
	var p digestPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return bot.Permanent(fmt.Errorf("a queued digest that does not decode: %w", err))
	}
	return a.uploadDigest(ctx, p.Channel, message{Text: p.Text, Blocks: p.Blocks.BlockSet}, p.Chart)
}

// channelID returns the ID of a channel given by ID or #name, looking names
// up once with conversations.list.
func (a *Adapter) channelID(ctx context.Context, channel string) (string, error) {
	if channelIDPattern.MatchString(channel) {
		return channel, nil
	}
	name := strings.TrimPrefix(channel, "#")
	if id, ok := a.channels.Load(name); ok {
		return id.(string), nil
	}
	params := &slackapi.GetConversationsParameters{ExcludeArchived: true, Limit: 1000, Types: []string{"public_channel", "private_channel"}}
	for {
		var chans []slackapi.Channel
		var next string
		err := a.call(ctx, "conversations.list", func() error {
			var err error
			chans, next, err = a.api.GetConversationsContext(ctx, params)
			return err
		})
		if err != nil {
			return "", err
		}
		for _, c := range chans {
			a.channels.Store(c.Name, c.ID)
			if c.Name == name {
				return c.ID, nil
			}
		}
		if next == "" {
			return "", fmt.Errorf("slack: no channel %s that ferry can see: invite the app to it, or give its ID", channel)
		}
		params.Cursor = next
	}
}
