package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/bot/web"
)

// clientOptions are the flags every client subcommand takes, anywhere on
// the command line.
type clientOptions struct {
	server string
	token  string
	json   bool
}

func parseClientArgs(args []string) (clientOptions, []string, error) {
	o := clientOptions{server: envOr("FERRY_SERVER", "http://127.0.0.1:8080"), token: os.Getenv("FERRY_TOKEN")}
	var words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "--") || a == "--" {
			words = append(words, a)
			continue
		}
		switch name {
		case "json":
			o.json = true
			continue
		case "server", "token":
			if !hasVal {
				if i+1 >= len(args) {
					return o, nil, fmt.Errorf("--%s needs a value", name)
				}
				i++
				val = args[i]
			}
			if name == "server" {
				o.server = val
			} else {
				o.token = val
			}
			continue
		}
		return o, nil, fmt.Errorf("unknown flag %s; the client takes --server, --token and --json", a)
	}
	return o, words, nil
}

// clientVerb reports whether the first word of args that is neither a flag
// nor the value of --server or --token is verb, and returns args without it.
func clientVerb(args []string, verb string) ([]string, bool) {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--server" || a == "--token":
			i++ // its value
		case strings.HasPrefix(a, "-"):
		case a == verb:
			return append(args[:i:i], args[i+1:]...), true
		default:
			return nil, false
		}
	}
	return nil, false
}

// client runs one command of the grammar on a ferry server, as the owner
// of the token.
func client(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if rest, ok := clientVerb(args, "audit"); ok { // ferry --server … audit --project …
		return auditCommand(ctx, rest, stdout, stderr)
	}
	if rest, ok := clientVerb(args, "outbox"); ok { // ferry --server … outbox --dead
		return outboxCommand(ctx, rest, stdout, stderr)
	}
	if rest, ok := clientVerb(args, "reload"); ok {
		return reloadCommand(ctx, rest, stdout, stderr)
	}
	o, words, err := parseClientArgs(args)
	if err != nil {
		fmt.Fprintln(stderr, "ferry:", err)
		return exitError(2)
	}
	if len(words) > 0 && words[0] == "show" {
		return show(ctx, o, words[1:], stdout, stderr)
	}
	text := joinWords(words)
	cmd, err := bot.Parse(text)
	if err != nil {
		fmt.Fprintln(stderr, "ferry:", err)
		return exitError(2)
	}
	if cmd.Verb == bot.VerbHelp {
		fmt.Fprint(stdout, bot.Help(string(cmd.Topic)))
		return nil
	}
	body, _ := json.Marshal(map[string]string{"text": cmd.String()})
	resp, err := o.do(ctx, http.MethodPost, "/api/v1/commands", body)
	if err != nil {
		fmt.Fprintln(stderr, "ferry:", err)
		return exitError(1)
	}
	var reply struct {
		web.CommandResponse
		web.APIError
	}
	if err := json.Unmarshal(resp.body, &reply); err != nil {
		fmt.Fprintf(stderr, "ferry: %s answered %s with something that is not ferry's JSON\n", o.server, resp.status)
		return exitError(1)
	}
	if o.json {
		stdout.Write(resp.body)
		if !bytes.HasSuffix(resp.body, []byte("\n")) {
			fmt.Fprintln(stdout)
		}
	}
	if !reply.OK {
		fmt.Fprintln(stderr, "ferry:", firstOf(reply.Error, reply.Text, resp.status))
		return exitError(1)
	}
	if !o.json {
		fmt.Fprint(stdout, strings.TrimRight(firstOf(reply.Rendered, reply.Text), "\n")+"\n")
	}
	return nil
}

// show prints one deploy.
func show(ctx context.Context, o clientOptions, words []string, stdout, stderr io.Writer) error {
	if len(words) != 1 {
		fmt.Fprintln(stderr, "usage: ferry show <deploy>")
		return exitError(2)
	}
	id := strings.TrimPrefix(words[0], "#")
	resp, err := o.do(ctx, http.MethodGet, "/api/v1/deploys/"+url.PathEscape(id), nil)
	if err != nil {
		fmt.Fprintln(stderr, "ferry:", err)
		return exitError(1)
	}
	var v struct {
		web.APIDetails
		web.APIError
	}
	json.Unmarshal(resp.body, &v)
	if resp.code != http.StatusOK {
		fmt.Fprintln(stderr, "ferry:", firstOf(v.Error, resp.status))
		return exitError(1)
	}
	if o.json || v.Rendered == "" {
		stdout.Write(resp.body)
		return nil
	}
	fmt.Fprint(stdout, v.Rendered)
	return nil
}

// apiCall asks the server (method, path and query q) and decodes its JSON
// answer into a T; it returns the answer as it came too, for --json. A
// failure is told on stderr, after command, and returned as the exit error.
func apiCall[T any](ctx context.Context, o clientOptions, command, method, path string, q url.Values, stderr io.Writer) (T, []byte, error) {
	var v T
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := o.do(ctx, method, path, nil)
	if err != nil {
		fmt.Fprintln(stderr, "ferry:", err)
		return v, nil, exitError(1)
	}
	var e web.APIError
	if json.Unmarshal(resp.body, &v) != nil || json.Unmarshal(resp.body, &e) != nil {
		fmt.Fprintf(stderr, "ferry: %s answered %s with something that is not ferry's JSON\n", o.server, resp.status)
		return v, nil, exitError(1)
	}
	if resp.code != http.StatusOK {
		msg := firstOf(e.Error, resp.status)
		if e.Param != "" {
			msg = "--" + msg // the flags are named after the parameters
		}
		fmt.Fprintln(stderr, command+":", msg)
		return v, nil, exitError(1)
	}
	return v, resp.body, nil
}

type response struct {
	code   int
	status string
	body   []byte
}

func (o clientOptions) do(ctx context.Context, method, path string, body []byte) (response, error) {
	if o.token == "" {
		return response{}, errors.New("no API token: pass --token or set FERRY_TOKEN (the token is in ferry.yaml under your user's tokens)")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(o.server, "/")+path, bytes.NewReader(body))
	if err != nil {
		return response{}, fmt.Errorf("--server %q: %w", o.server, err)
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("cannot reach ferry at %s: %w (is it running? set --server or FERRY_SERVER)", o.server, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return response{}, fmt.Errorf("read the answer of %s: %w", o.server, err)
	}
	if res.StatusCode == http.StatusUnauthorized {
		var e web.APIError
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return response{}, fmt.Errorf("the server refused the token: %s (check --token or FERRY_TOKEN)", e.Error)
		}
		return response{}, errors.New("the server refused the token: check --token or FERRY_TOKEN")
	}
	return response{code: res.StatusCode, status: res.Status, body: b}, nil
}

// joinWords rebuilds the command text from shell words, quoting words that
// hold spaces so the grammar reads them as one.
func joinWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		if strings.ContainsAny(w, " \t") && !strings.HasPrefix(w, `"`) {
			w = `"` + strings.ReplaceAll(w, `"`, `\"`) + `"`
		}
		q[i] = w
	}
	return strings.Join(q, " ")
}
