package slack

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

// envelope is a real Socket Mode envelope with its payload changed.
func envelope(t *testing.T, name, id string, change func(p map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(payload(t, name), &env); err != nil {
		t.Fatal(err)
	}
	env["envelope_id"] = id
	change(env["payload"].(map[string]any))
	b, _ := json.Marshal(env)
	return b
}

// TestSocketModeDisconnect runs a deploy from a Socket Mode slash command,
// has Slack send disconnect in the middle of it, and expects the client to
// reconnect, the card to be updated to the end, and every envelope
// acknowledged once.
func TestSocketModeDisconnect(t *testing.T) {
	f := newFixture(t, setup{appToken: true, noSecret: true})
	target := f.targets["staging"]
	started := make(chan string, 4)
	hold := make(chan struct{})
	target.Set(func(tg *pipelinetest.Target) { tg.Started, tg.Hold = started, hold })
	f.slack.Until(t, "a Socket Mode connection", func() bool { return f.slack.Connections() == 1 })

	cmd := envelope(t, "socket_mode.envelope.slash_commands.json", "env-1", func(p map[string]any) {
		p["user_id"], p["text"], p["command"], p["response_url"] = uAlice, "deploy demo to staging", "/ferry", f.slack.ResponseURL("sock-1")
	})
	if err := f.slack.Send(cmd); err != nil {
		t.Fatal(err)
	}
	if r := f.response("sock-1"); r.Text != "#1 demo main@1111111 to staging: queued." {
		t.Fatalf("answer: %+v", r)
	}
	<-started // s1 is installing
	f.card(1, pipeline.StateRunning)

	if err := f.slack.Send(payload(t, "socket_mode.disconnect.json")); err != nil {
		t.Fatal(err)
	}
	f.slack.Until(t, "the reconnection", func() bool { return f.slack.Connections() == 2 })
	close(hold)
	f.waitDeploy(1, pipeline.StateSucceeded)
	f.card(1, pipeline.StateSucceeded)

	// After the reconnection: a mention, and the same command envelope
	// delivered again, which is acknowledged and ignored.
	mention := envelope(t, "socket_mode.envelope.events_api.app_mention.json", "env-2", func(p map[string]any) {
		ev := p["event"].(map[string]any)
		ev["user"], ev["text"] = uBob, "<@U111> whoami"
	})
	if err := f.slack.Send(mention); err != nil {
		t.Fatal(err)
	}
	if err := f.slack.Send(cmd); err != nil {
		t.Fatal(err)
	}
	f.slack.Until(t, "the answer to the mention", func() bool { return len(f.slack.Calls("chat.postEphemeral")) == 1 })
	if e := f.slack.Calls("chat.postEphemeral")[0]; e.User != uBob || !strings.Contains(e.Text, "You are bob") {
		t.Fatalf("whoami over Socket Mode: %+v", e)
	}
	f.slack.Until(t, "the acknowledgements", func() bool { return f.slack.Acks("env-1") == 2 && f.slack.Acks("env-2") == 1 })
	if n := len(f.slack.Calls("response_url")); n != 1 {
		t.Fatalf("%d answers to the command; the redelivered envelope ran again", n)
	}
	if f.slack.Count("apps.connections.open") != 2 {
		t.Fatalf("apps.connections.open called %d times; want 2", f.slack.Count("apps.connections.open"))
	}
}
