package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/bot/web"
	"github.com/ferrybot/ferry/storage"
)

var _ web.Outbox = (*storage.Store)(nil)

const outboxUsage = `usage: ferry outbox [--dead] [--platform P] [--limit N]   list what ferry owes the platforms, oldest first
       ferry outbox retry <id>                               owe a dead notice again: ferry delivers it now
  The outbox holds the notices ferry has not delivered yet (card edits, messages, commit statuses):
  those it still tries, and the dead ones it gave up on after outbox.give_up. For admins only;
  a retry is written to the audit log. --limit is 1 to 1000 (default 200).
`

// outboxOptions are what the command line of `ferry outbox` asks for.
type outboxOptions struct {
	clientOptions
	dead     bool
	platform string
	limit    string // as typed: the server checks it
	retry    int64  // the notice to retry; 0: list the outbox
}

// outboxCommand lists the outbox, or retries one dead notice, as the owner
// of the token.
func outboxCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, words, err := parseOutboxArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, outboxUsage)
		return nil
	}
	if err != nil {
		name := "ferry outbox"
		if len(words) > 0 && words[0] == "retry" {
			name += " retry"
		}
		fmt.Fprintf(stderr, "%s: %v\n%s", name, err, outboxUsage)
		return exitError(2)
	}
	if o.retry != 0 {
		return outboxRetry(ctx, o.clientOptions, o.retry, stdout, stderr)
	}
	q := url.Values{}
	if o.platform != "" {
		q.Set("platform", o.platform)
	}
	if o.dead {
		q.Set("dead", "1")
	}
	if o.limit != "" {
		q.Set("limit", o.limit)
	}
	l, body, err := apiCall[web.APIOutbox](ctx, o.clientOptions, "ferry outbox", http.MethodGet, "/api/v1/outbox", q, stderr)
	if err != nil {
		return err
	}
	if o.json {
		stdout.Write(body)
		return nil
	}
	fmt.Fprint(stdout, renderOutbox(l, o.platform, o.dead, time.Now()))
	return nil
}

// parseOutboxArgs reads the flags, anywhere on the command line, and the
// words: none to list, or retry and a notice number.
func parseOutboxArgs(args []string) (outboxOptions, []string, error) {
	o := outboxOptions{clientOptions: clientOptions{server: envOr("FERRY_SERVER", "http://127.0.0.1:8080"), token: envOr("FERRY_TOKEN", "")}}
	fs := flag.NewFlagSet("outbox", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.server, "server", o.server, "")
	fs.StringVar(&o.token, "token", o.token, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&o.dead, "dead", false, "")
	fs.StringVar(&o.platform, "platform", "", "")
	fs.StringVar(&o.limit, "limit", "", "")
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			return o, words, err
		}
		if fs.NArg() == 0 {
			break
		}
		words = append(words, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(words) == 0 {
		return o, nil, nil
	}
	if words[0] != "retry" {
		return o, words, fmt.Errorf("%q is not a subcommand of ferry outbox; list the outbox with ferry outbox [--dead] [--platform P], or retry a dead notice with ferry outbox retry <id>", words[0])
	}
	var listing []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "dead" || f.Name == "platform" || f.Name == "limit" {
			listing = append(listing, "--"+f.Name)
		}
	})
	switch {
	case len(words) == 1:
		return o, words, errors.New("which notice? give its number, like ferry outbox retry 12 (ferry outbox --dead lists the dead ones)")
	case len(words) > 2:
		return o, words, fmt.Errorf("retry takes one notice number, not %d words (%s)", len(words)-1, strings.Join(words[1:], " "))
	case len(listing) > 0:
		return o, words, fmt.Errorf("%s chooses what ferry outbox lists; ferry outbox retry takes a notice number only", strings.Join(listing, " and "))
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(words[1], "#"), 10, 64)
	if err != nil || id <= 0 {
		return o, words, fmt.Errorf("%q is not the number of an outbox notice; ferry outbox --dead lists the dead ones, with their numbers", words[1])
	}
	o.retry = id
	return o, words, nil
}

// outboxRetry retries dead notice id and says what it did.
func outboxRetry(ctx context.Context, o clientOptions, id int64, stdout, stderr io.Writer) error {
	r, body, err := apiCall[web.APIOutboxRetry](ctx, o, "ferry outbox retry", http.MethodPost, fmt.Sprintf("/api/v1/outbox/%d/retry", id), nil, stderr)
	if err != nil {
		return err
	}
	if o.json {
		stdout.Write(body)
		return nil
	}
	fmt.Fprintln(stdout, r.Text)
	return nil
}

// renderOutbox is the outbox as a table; a notice is due at once when its
// next try is not after now.
func renderOutbox(l web.APIOutbox, platform string, dead bool, now time.Time) string {
	which := "every platform"
	if platform != "" {
		which = platform
	}
	if dead {
		which += ", dead notices only"
	} else {
		which += ", pending and dead"
	}
	t := bot.Table{Title: "Outbox, oldest first (" + which + ")",
		Columns: []string{"#", "platform", "destination", "kind", "deploy", "state", "owed since (UTC)", "attempts", "next try (UTC)", "dead since (UTC)", "last error"}}
	anyDead := false
	for _, n := range l.Notices {
		deploy, next := "", ""
		if n.DeployID != 0 {
			deploy = "#" + strconv.FormatInt(n.DeployID, 10)
		}
		switch {
		case !n.DeadAt.IsZero():
			anyDead = true
		case n.NotBefore.After(now):
			next = clockTime(n.NotBefore)
		default:
			next = "now"
		}
		t.Rows = append(t.Rows, []string{strconv.FormatInt(n.ID, 10), n.Platform, n.Dest, n.Kind, deploy, strings.ReplaceAll(n.State, "_", " "),
			clockTime(n.CreatedAt), strconv.Itoa(n.Attempts), next, clockTime(n.DeadAt), n.LastError})
	}
	out := bot.RenderTable(t)
	if l.More {
		out += "more rows: narrow them with --platform or --dead, or raise --limit (at most 1000)\n"
	}
	if anyDead {
		out += "retry a dead notice: ferry outbox retry <#>\n"
	}
	return out
}

// clockTime writes t in UTC to the second; "" for the zero time.
func clockTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}
