package slack

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// message is what ferry posts: Block Kit blocks and the text that stands
// for them in notifications.
type message struct {
	Text   string           `json:"text"`
	Blocks []slackapi.Block `json:"blocks"`
}

// Limits of Block Kit that ferry's messages keep to.
const (
	maxSectionText = 3000
	maxHeaderText  = 150
	maxButtonText  = 75
	maxConfirmText = 300
	maxMentions    = 12
)

// cardInput is what a deploy's card is made of in Slack.
type cardInput struct {
	Card      bot.Card
	Requester string   // a mention (<@U123>) when the requester's Slack ID is known, else their name
	Approvers []string // mentions of who may approve, while it awaits approval
	AnyoneBut bool     // the environment lets anyone but the requester approve
}

// cardMessage renders a deploy's card: what it is, where it is, its batches
// and units, the end of its log, and the buttons its state allows.
func cardMessage(in cardInput) message {
	c := in.Card
	var blocks []slackapi.Block
	blocks = append(blocks, slackapi.NewHeaderBlock(plain(cut(fmt.Sprintf("#%d %s", c.DeployID, c.Title), maxHeaderText))))
	state := stateEmoji(c.State) + " *" + escape(capitalize(words(string(c.State)))) + "*"
	if c.Stage != "" {
		state += " · " + escape(c.Stage)
	}
	if c.Reason != "" {
		state += "\n" + escape(c.Reason)
	}
	blocks = append(blocks, section(state))
	fields := []*slackapi.TextBlockObject{
		mrkdwn("*Requested by*\n" + in.Requester),
		mrkdwn("*Version*\n" + versionLine(c)),
	}
	if c.Progress.Total > 0 {
		fields = append(fields, mrkdwn(fmt.Sprintf("*Progress*\n`%s` %d%%", bot.ProgressBar(c.Progress.Done, c.Progress.Total, 10), c.Progress.Percent())))
	}
	if line := approvalsLine(c); line != "" {
		fields = append(fields, mrkdwn("*Approvals*\n"+line))
	}
	blocks = append(blocks, slackapi.NewSectionBlock(nil, fields, nil))
	if c.State == pipeline.StateAwaitingApproval {
		switch {
		case len(in.Approvers) > 0:
			blocks = append(blocks, section(":bell: Waiting for approval from "+joinMentions(in.Approvers)))
		case in.AnyoneBut:
			blocks = append(blocks, section(":bell: Waiting for approval: anyone but "+in.Requester+" may approve."))
		}
	}
	if len(c.Batches) > 0 {
		blocks = append(blocks, section(codeBlock(batchLines(c.Batches))))
	}
	if len(c.LogTail) > 0 {
		blocks = append(blocks, section("*Log*\n"+codeBlock(c.LogTail)))
	}
	if len(c.Actions) > 0 {
		var buttons []slackapi.BlockElement
		for _, act := range c.Actions {
			buttons = append(buttons, button(act))
		}
		blocks = append(blocks, slackapi.NewActionBlock(fmt.Sprintf("ferry_actions_%d", c.DeployID), buttons...))
	}
	var foot []string
	if !c.Updated.IsZero() {
		foot = append(foot, "Updated "+stamp(c.Updated))
	}
	if c.URL != "" {
		foot = append(foot, "<"+c.URL+"|Open in ferry>")
	}
	if len(foot) > 0 {
		blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn(strings.Join(foot, " · "))))
	}
	return message{Text: fmt.Sprintf("#%d %s: %s", c.DeployID, c.Title, words(string(c.State))), Blocks: blocks}
}

// button is a card's action as a Block Kit button: its value is the text
// command it stands for, and a dangerous one asks first.
func button(act bot.Action) *slackapi.ButtonBlockElement {
	b := slackapi.NewButtonBlockElement(actionPrefix+string(act.ID), act.Command, plain(cut(act.Label, maxButtonText)))
	if act.Style != bot.StyleDefault {
		b = b.WithStyle(slackapi.Style(act.Style))
	}
	if act.Confirm != "" {
		confirm := slackapi.NewConfirmationBlockObject(plain(cut(act.Label+"?", 100)), plain(cut(act.Confirm, maxConfirmText)), plain(cut(act.Label, 30)), plain("No"))
		if act.Style == bot.StyleDanger {
			confirm = confirm.WithStyle(slackapi.StyleDanger)
		}
		b = b.WithConfirm(confirm)
	}
	return b
}

// replyMessage renders the answer to a command: why it failed, its text,
// its table. Cards are not repeated: the deploy's own card shows them.
func replyMessage(r bot.Reply) message {
	var blocks []slackapi.Block
	text := r.Text
	switch {
	case r.Error:
		blocks = append(blocks, section(":no_entry: *Not done:* "+escape(r.Text)))
	case strings.Contains(r.Text, "\n"):
		blocks = append(blocks, section(codeBlock(strings.Split(strings.TrimRight(r.Text, "\n"), "\n"))))
	case r.Text != "":
		blocks = append(blocks, section(escape(r.Text)))
	}
	if t := r.Table; t != nil {
		untitled := *t
		untitled.Title = ""
		lines := strings.Split(strings.TrimRight(bot.RenderTable(untitled), "\n"), "\n")
		head := ""
		if t.Title != "" {
			head = "*" + escape(t.Title) + "*\n"
		}
		blocks = append(blocks, section(head+codeBlock(lines)))
		if text == "" {
			text = t.Title
		}
	}
	if r.Digest != nil {
		d := digestMessage(*r.Digest)
		blocks = append(blocks, d.Blocks...)
		if r.Digest.ChartURL != "" {
			blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn("<"+r.Digest.ChartURL+"|Chart of the week>")))
		}
		if text == "" {
			text = d.Text
		}
	}
	if text == "" {
		text = "Done."
		blocks = append(blocks, section(text))
	}
	text, _, _ = strings.Cut(strings.TrimSpace(text), "\n")
	return message{Text: cut(text, 500), Blocks: blocks}
}

// confirmMessage asks the person who typed a dangerous command to confirm
// it, with a button behind a confirm dialog.
func confirmMessage(c bot.Command) message {
	cmd := c.String()
	why := "It rolls back a production environment."
	if c.Force {
		why = "It is forced: it overrides locks and rules, and the audit log records it."
	}
	b := slackapi.NewButtonBlockElement(actionConfirm, cmd, plain("Run it")).WithStyle(slackapi.StyleDanger).WithConfirm(
		slackapi.NewConfirmationBlockObject(plain("Are you sure?"), plain(cut("Run “"+cmd+"” now?", maxConfirmText)), plain("Run it"), plain("No")).WithStyle(slackapi.StyleDanger))
	return message{
		Text: "Confirm: " + cmd,
		Blocks: []slackapi.Block{
			section(":warning: *Confirm* `" + escape(cmd) + "`\n" + why + " Nothing happens until you press the button."),
			slackapi.NewActionBlock("ferry_confirm", b),
		},
	}
}

// dmMessage tells the requester that their deploy ended.
func dmMessage(c bot.Card) message {
	text := fmt.Sprintf("%s Your deploy #%d, %s, %s.", stateEmoji(c.State), c.DeployID, lowerFirst(c.Title), words(string(c.State)))
	body := escape(text)
	if c.Reason != "" {
		body += "\n" + escape(c.Reason)
	}
	blocks := []slackapi.Block{section(body)}
	if c.URL != "" {
		blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn("<"+c.URL+"|Open in ferry>")))
	}
	return message{Text: text, Blocks: blocks}
}

func plain(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, s, false, false)
}

func mrkdwn(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, s, false, false)
}

func section(s string) *slackapi.SectionBlock {
	return slackapi.NewSectionBlock(mrkdwn(cut(s, maxSectionText)), nil, nil)
}

// escape makes text safe in mrkdwn: Slack reads &, < and > as markup.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// codeBlock puts lines in a preformatted block, leaving out lines at the
// end (and saying how many) past what a section holds.
func codeBlock(lines []string) string {
	const room = maxSectionText - 100
	var b strings.Builder
	b.WriteString("```")
	for i, l := range lines {
		l = strings.ReplaceAll(escape(l), "```", "'''")
		if b.Len()+len(l)+1 > room {
			fmt.Fprintf(&b, "… %d more lines in ferry\n", len(lines)-i)
			break
		}
		b.WriteString(l + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n") + "```"
}

// batchLines is the table of batches and their units, aligned.
func batchLines(batches []bot.BatchRow) []string {
	var rows [][]string
	for _, br := range batches {
		for _, u := range br.Units {
			rows = append(rows, []string{u.Name, words(string(u.State)), u.Step, bot.ShortDuration(u.Duration), firstLine(u.Error)})
		}
	}
	aligned := align(rows)
	var lines []string
	for _, br := range batches {
		lines = append(lines, fmt.Sprintf("batch %d: %s", br.Index+1, words(br.State)))
		for range br.Units {
			lines = append(lines, "  "+aligned[0])
			aligned = aligned[1:]
		}
	}
	return lines
}

// align pads cells into columns two spaces apart.
func align(rows [][]string) []string {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		var b strings.Builder
		for j, c := range r {
			b.WriteString(c)
			if j < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[j]-utf8.RuneCountInString(c)+2))
			}
		}
		out[i] = strings.TrimRight(b.String(), " ")
	}
	return out
}

func versionLine(c bot.Card) string {
	s := "`" + escape(c.Version) + "`"
	if c.Commit != "" && c.Commit != c.Version {
		s += " (" + escape(c.Commit) + ")"
	}
	if c.PreviousVersion != "" {
		s += " ← `" + escape(c.PreviousVersion) + "`"
	}
	return s
}

func approvalsLine(c bot.Card) string {
	a := c.Approvals
	if a.Required == 0 && a.Got == 0 {
		return ""
	}
	s := fmt.Sprintf("%d of %d", a.Got, a.Required)
	if len(a.By) > 0 {
		s += " (" + escape(strings.Join(a.By, ", ")) + ")"
	}
	if !a.Deadline.IsZero() && c.State == pipeline.StateAwaitingApproval {
		s += "\nexpires " + stamp(a.Deadline)
	}
	return s
}

func joinMentions(ms []string) string {
	if len(ms) > maxMentions {
		return strings.Join(ms[:maxMentions], ", ") + fmt.Sprintf(" and %d more", len(ms)-maxMentions)
	}
	return strings.Join(ms, ", ")
}

func stateEmoji(s pipeline.State) string {
	switch s {
	case pipeline.StateRequested:
		return ":inbox_tray:"
	case pipeline.StateAwaitingApproval:
		return ":hourglass_flowing_sand:"
	case pipeline.StateQueued:
		return ":hourglass:"
	case pipeline.StateRunning:
		return ":arrows_counterclockwise:"
	case pipeline.StatePaused:
		return ":double_vertical_bar:"
	case pipeline.StateSucceeded:
		return ":white_check_mark:"
	case pipeline.StateFailed:
		return ":x:"
	case pipeline.StateRollingBack:
		return ":rewind:"
	case pipeline.StateRolledBack:
		return ":leftwards_arrow_with_hook:"
	case pipeline.StateInterrupted:
		return ":warning:"
	}
	return ":no_entry_sign:" // denied, rejected, expired, cancelled
}

// words turns a state name into words: "rolled_back" → "rolled back".
func words(s string) string { return strings.ReplaceAll(s, "_", " ") }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return cut(strings.TrimSpace(s), 80)
}

// cut shortens s to at most n runes, ending it with "…" when cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// announceMessage is news of a project (a freeze window, an expired lock,
// a cancelled promotion) as its channel reads it.
func announceMessage(text string) message {
	return message{Text: text, Blocks: []slackapi.Block{section(":mega: " + escape(text))}}
}
