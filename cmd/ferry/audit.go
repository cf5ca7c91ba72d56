package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/bot/web"
)

const auditUsage = `usage: ferry audit [--project P] [--env E] [--actor A] [--action X] [--since 7d] [--until T] [--limit N] [--before ID]
  --since and --until take an RFC 3339 time, a date (2026-11-02) or how long ago (7d, 24h).
  You see every entry if you are an admin, else the entries of the projects you may deploy, and your own.
`

// auditFilters are the flags of `ferry audit` that are parameters of
// GET /api/v1/audit, by the same names.
var auditFilters = []string{"project", "env", "actor", "action", "since", "until", "limit", "before"}

// auditCommand prints a page of the audit log, newest first, as the owner
// of the token may read it.
func auditCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, q, err := parseAuditArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "ferry audit: %v\n%s", err, auditUsage)
		return exitError(2)
	}
	l, body, err := apiCall[web.APIAuditLog](ctx, o, "ferry audit", http.MethodGet, "/api/v1/audit", q, stderr)
	if err != nil {
		return err
	}
	if o.json {
		stdout.Write(body)
		return nil
	}
	fmt.Fprint(stdout, renderAudit(l, q))
	return nil
}

// parseAuditArgs reads the client's flags and the filters, which go to the
// server as they are: it is the one that reads times and checks bounds.
func parseAuditArgs(args []string) (clientOptions, url.Values, error) {
	o := clientOptions{server: envOr("FERRY_SERVER", "http://127.0.0.1:8080"), token: envOr("FERRY_TOKEN", "")}
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.server, "server", o.server, "")
	fs.StringVar(&o.token, "token", o.token, "")
	fs.BoolVar(&o.json, "json", false, "")
	values := map[string]*string{}
	for _, name := range auditFilters {
		values[name] = fs.String(name, "", "")
	}
	if err := fs.Parse(args); err != nil {
		return o, nil, err
	}
	if fs.NArg() > 0 {
		return o, nil, fmt.Errorf("%q is not a flag; ferry audit takes flags only", fs.Arg(0))
	}
	q := url.Values{}
	for _, name := range auditFilters {
		if v := *values[name]; v != "" {
			q.Set(name, v)
		}
	}
	return o, q, nil
}

// renderAudit is a page of the audit log as a table, and how to see the
// page after it.
func renderAudit(l web.APIAuditLog, q url.Values) string {
	t := bot.Table{Title: "Audit log, newest first (" + scopeWords(l.Scope) + ")",
		Columns: []string{"#", "when (UTC)", "who", "action", "project", "env", "deploy", "detail"}}
	for _, e := range l.Entries {
		who, deploy, when := e.Actor, "", ""
		if who == "" {
			who = "(unknown)"
		}
		if e.DeployID != 0 {
			deploy = "#" + strconv.FormatInt(e.DeployID, 10)
		}
		if !e.At.IsZero() {
			when = e.At.UTC().Format("2006-01-02 15:04:05")
		}
		t.Rows = append(t.Rows, []string{strconv.FormatInt(e.ID, 10), when, who, e.Action, e.Project, e.Env, deploy, e.Detail})
	}
	out := bot.RenderTable(t)
	if l.NextBefore != 0 {
		var flags []string
		for _, name := range auditFilters {
			if v := q.Get(name); v != "" && name != "before" {
				flags = append(flags, "--"+name+" "+shellWord(v))
			}
		}
		flags = append(flags, "--before "+strconv.FormatInt(l.NextBefore, 10))
		out += "older entries: ferry audit " + strings.Join(flags, " ") + "\n"
	}
	return out
}

func scopeWords(s web.APIAuditScope) string {
	switch {
	case s.All:
		return "every entry"
	case len(s.Projects) == 0:
		return "your own entries"
	}
	return "entries of " + strings.Join(s.Projects, ", ") + ", and your own"
}

// shellWord quotes v for a POSIX shell if it needs it.
func shellWord(v string) string {
	if v != "" && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@+") == "" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
