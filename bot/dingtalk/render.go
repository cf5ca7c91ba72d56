package dingtalk

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// Limits of DingTalk's messages that ferry's keep to.
const (
	maxMarkdown = 5000 // characters of a markdown message's text
	maxTitle    = 64   // characters of a message's title (what notifications show)
	maxValue    = 2000 // characters of one card variable
)

// cardInput is what a deploy's card is made of in DingTalk.
type cardInput struct {
	Card      bot.Card
	Requester string   // the requester's name
	Approvers []string // userIds to @-mention while it awaits approval
	AnyoneBut bool     // the environment lets anyone but the requester approve
	Links     bool     // buttons open the web console (no template: an ActionCard, or a custom robot)
}

// stateMark is a state as a sign and words: "✅ Succeeded".
func stateMark(s pipeline.State) string {
	mark := map[pipeline.State]string{
		pipeline.StateRequested: "📥", pipeline.StateAwaitingApproval: "⏳", pipeline.StateQueued: "⌛",
		pipeline.StateRunning: "🔄", pipeline.StatePaused: "⏸", pipeline.StateSucceeded: "✅",
		pipeline.StateFailed: "❌", pipeline.StateRollingBack: "⏪", pipeline.StateRolledBack: "↩️",
		pipeline.StateInterrupted: "⚠️",
	}[s]
	if mark == "" {
		mark = "🚫" // denied, rejected, expired, cancelled
	}
	return mark + " " + capitalize(words(string(s)))
}

// cardTitle is the card's first line: "#12 Deploy demo v1.2.0 to prod".
func cardTitle(c bot.Card) string { return fmt.Sprintf("#%d %s", c.DeployID, c.Title) }

// cardBody renders everything of a card but its title and buttons as
// DingTalk markdown: state, who asked, versions, progress, approvals, the
// batches and their units, and the end of the log.
func cardBody(in cardInput) string {
	c := in.Card
	var b strings.Builder
	state := "**" + stateMark(c.State) + "**"
	if c.Stage != "" {
		state += " · " + escape(c.Stage)
	}
	b.WriteString(state + "\n\n")
	if c.Reason != "" {
		b.WriteString("> " + escape(c.Reason) + "\n\n")
	}
	line := func(name, value string) {
		if value != "" {
			b.WriteString("- **" + name + ":** " + value + "\n")
		}
	}
	line("Requested by", escape(in.Requester))
	line("Version", escape(c.VersionLine()))
	if c.Progress.Total > 0 {
		line("Progress", fmt.Sprintf("%s (%d%%)", bot.ProgressBar(c.Progress.Done, c.Progress.Total, 10), c.Progress.Percent()))
	}
	line("Approvals", escape(c.ApprovalsLine()))
	if c.State == pipeline.StateAwaitingApproval {
		switch {
		case len(in.Approvers) > 0:
			mentions := make([]string, len(in.Approvers))
			for i, id := range in.Approvers {
				mentions[i] = "@" + id
			}
			b.WriteString("\n🔔 Waiting for approval from " + strings.Join(mentions, " ") + "\n")
		case in.AnyoneBut:
			b.WriteString("\n🔔 Waiting for approval: anyone but " + escape(in.Requester) + " may approve.\n")
		}
	}
	if batches := batchLines(c.Batches); batches != "" {
		b.WriteString("\n**Batches**\n\n" + batches)
	}
	if len(c.LogTail) > 0 {
		b.WriteString("\n**Log**\n\n")
		for _, l := range c.LogTail {
			b.WriteString("> " + escape(l) + "\n>\n")
		}
	}
	return strings.TrimRight(b.String(), ">\n") + "\n"
}

// batchLines is a line per batch and its units.
func batchLines(batches []bot.BatchRow) string {
	var b strings.Builder
	for _, br := range batches {
		units := make([]string, len(br.Units))
		for i, u := range br.Units {
			s := unitMark(u.State) + " " + escape(u.Name)
			if u.Step != "" && u.State == pipeline.UnitRunning {
				s += " (" + escape(u.Step) + ")"
			}
			if u.Duration > 0 {
				s += " " + bot.ShortDuration(u.Duration)
			}
			if u.Error != "" {
				s += ": " + escape(firstLine(u.Error, 80))
			}
			units[i] = s
		}
		fmt.Fprintf(&b, "- Batch %d · %s: %s\n", br.Index+1, words(br.State), strings.Join(units, ", "))
	}
	return b.String()
}

func unitMark(s pipeline.UnitState) string {
	switch s {
	case pipeline.UnitDone:
		return "✓"
	case pipeline.UnitFailed:
		return "✗"
	case pipeline.UnitRunning:
		return "▶"
	case pipeline.UnitRolledBack:
		return "↩"
	}
	return "·"
}

// cardMarkdown is a card as one markdown message: for the robot's
// ActionCard, a custom robot, and the card template's body.
func cardMarkdown(in cardInput) (title, text string) {
	title = cut(cardTitle(in.Card), maxTitle)
	text = "#### " + escaper.Replace(cardTitle(in.Card)) + "\n\n" + cardBody(in)
	if in.Links && in.Card.URL != "" && len(in.Card.Actions) == 0 {
		text += "\n[Open in ferry](" + in.Card.URL + ")\n"
	}
	return title, cut(text, maxMarkdown)
}

// actionCard is a card as an ActionCard message whose buttons open the
// deploy's page on the web console, where the person acts: DingTalk
// cannot call ferry back from a message without a card template.
func actionCard(in cardInput) actionCardBody {
	title, text := cardMarkdown(in)
	ac := actionCardBody{Title: title, Text: text, BtnOrientation: "1"}
	if in.Card.URL == "" {
		return ac
	}
	if len(in.Card.Actions) == 0 {
		ac.Buttons = []cardButton{{Title: "Open in ferry", URL: in.Card.URL}}
		return ac
	}
	for _, a := range in.Card.Actions {
		ac.Buttons = append(ac.Buttons, cardButton{Title: a.Label, URL: in.Card.URL + "#" + string(a.ID)})
	}
	ac.BtnOrientation = map[bool]string{true: "1", false: "0"}[len(ac.Buttons) > 2]
	return ac
}

// cardActions are the buttons the card template has, in order; a deploy
// shows those its state allows (show_<action> is "true").
var cardActions = []bot.ActionID{bot.ActionApprove, bot.ActionReject, bot.ActionContinue, bot.ActionResume,
	bot.ActionPause, bot.ActionCancel, bot.ActionRollback}

// cardData is the card template's variables (all strings, as DingTalk
// takes them) for a deploy: see cards/deploy.json.
func cardData(in cardInput) map[string]string {
	c := in.Card
	data := map[string]string{
		"deploy_id":        strconv.FormatInt(c.DeployID, 10),
		"title":            cut(cardTitle(c), maxTitle*2),
		"project":          c.Project,
		"env":              c.Env,
		"state":            string(c.State),
		"state_text":       stateMark(c.State),
		"requester":        cut(in.Requester, maxTitle),
		"version":          cut(c.Version, maxTitle),
		"previous_version": cut(c.PreviousVersion, maxTitle),
		"progress":         strconv.Itoa(c.Progress.Percent()),
		"stage":            cut(c.Stage, maxValue),
		"body":             cut(cardBody(in), maxValue),
		"batches":          cut(batchLines(c.Batches), maxValue),
		"log":              cut(strings.Join(c.LogTail, "\n"), maxValue),
		"url":              c.URL,
	}
	// Every variable is sent every time: an update merges by key.
	data["rollback_confirm"] = ""
	for _, id := range cardActions {
		data["show_"+string(id)] = "false"
	}
	for _, a := range c.Actions {
		data["show_"+string(a.ID)] = "true"
		if a.ID == bot.ActionRollback && a.Confirm != "" {
			data["rollback_confirm"] = a.Confirm
		}
	}
	return data
}

// dmMarkdown is the requester's message when their deploy ends.
func dmMarkdown(c bot.Card) (title, text string) {
	title = cut(fmt.Sprintf("Your deploy #%d %s", c.DeployID, words(string(c.State))), maxTitle)
	text = fmt.Sprintf("%s Your deploy #%d, %s, %s.", stateMark(c.State), c.DeployID, escape(lowerFirst(c.Title)), words(string(c.State)))
	if c.Reason != "" {
		text += "\n\n> " + escape(c.Reason)
	}
	if c.URL != "" {
		text += "\n\n[Open in ferry](" + c.URL + ")"
	}
	return title, text
}

// replyMarkdown renders the answer to a command: its text, the cards it
// made or acted on (a line each, with a link), and its table as a list.
func replyMarkdown(r bot.Reply) (title, text string) {
	var b strings.Builder
	switch {
	case r.Error:
		b.WriteString("⛔ **Not done:** " + escape(r.Text) + "\n")
	case strings.Contains(r.Text, "\n"):
		for _, l := range strings.Split(strings.TrimRight(r.Text, "\n"), "\n") {
			b.WriteString(escape(l) + "  \n")
		}
	case r.Text != "":
		b.WriteString(escape(r.Text) + "\n")
	}
	for _, c := range r.Cards {
		s := "\n- **" + escaper.Replace(cardTitle(c)) + "**: " + stateMark(c.State)
		if c.URL != "" {
			s += " · [open](" + c.URL + ")"
		}
		b.WriteString(s + "\n")
	}
	if t := r.Table; t != nil {
		b.WriteString("\n" + tableMarkdown(*t))
	}
	if r.Digest != nil {
		_, d := digestMarkdown(*r.Digest)
		b.WriteString("\n" + d)
	}
	text = strings.TrimSpace(b.String())
	if text == "" {
		text = "Done."
	}
	title = r.Text
	if title == "" && r.Table != nil {
		title = r.Table.Title
	}
	if title == "" {
		title = "ferry"
	}
	title, _, _ = strings.Cut(title, "\n")
	return cut(title, maxTitle), cut(text, maxMarkdown)
}

// tableMarkdown renders a table as a list, a row a line: DingTalk's
// markdown has no tables and no fixed-width text.
func tableMarkdown(t bot.Table) string {
	var b strings.Builder
	if t.Title != "" {
		b.WriteString("**" + escape(t.Title) + "**\n\n")
	}
	for _, row := range t.Rows {
		var cells []string
		for i, cell := range row {
			if cell == "" || i >= len(t.Columns) {
				continue
			}
			if i == 0 {
				cells = append(cells, "**"+escape(cell)+"**")
				continue
			}
			cells = append(cells, escape(t.Columns[i])+" "+escape(cell))
		}
		b.WriteString("- " + strings.Join(cells, " · ") + "\n")
	}
	if len(t.Rows) == 0 {
		b.WriteString("nothing yet\n")
	}
	return b.String()
}

// escape keeps text from being read as markdown: names, reasons, refs and
// commit messages come from people. Any Unicode is kept as it is.
// A # reads as a heading only where a line starts.
var escaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "`", "'", "<", "&lt;", ">", "&gt;", "\n", " ", "\r", "")

func escape(s string) string {
	s = escaper.Replace(s)
	if strings.HasPrefix(s, "#") {
		s = `\` + s
	}
	return s
}

// cut keeps s within n characters (not bytes: Chinese text is three
// bytes a character), ending it with "…" when it is cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func words(s string) string { return strings.ReplaceAll(s, "_", " ") }

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToLower(string(r)) + s[n:]
}

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	return cut(s, n)
}
