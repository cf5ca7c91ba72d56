package slack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/dashboards/dashboardstest"
)

func TestGoldenDigest(t *testing.T) {
	g := dashboardstest.Digest(t)
	golden(t, "digest.json", digestMessage(g))
	golden(t, "reply_digest.json", replyMessage(bot.Reply{Digest: &g}))
}

// TestPostDigest posts a digest with its chart to a channel by name: the
// adapter looks the name up, uploads the PNG with the external upload, and
// shares it in one message with the digest's blocks.
func TestPostDigest(t *testing.T) {
	f := newFixture(t)
	f.slack.Channels = []string{"general", "deploys"}
	g := dashboardstest.Digest(t)
	chart := []byte("\x89PNG fake chart")
	if err := f.adapter.PostDigest(context.Background(), "#deploys", g, chart); err != nil {
		t.Fatal(err)
	}
	files := f.slack.Files()
	if len(files) != 1 || string(files[0].Data) != string(chart) || files[0].Channel != "CDEPLOYS" || files[0].Name != "digest.png" {
		t.Fatalf("files = %+v; want the chart shared in CDEPLOYS", files)
	}
	var msg *struct{ Blocks json.RawMessage }
	for _, m := range f.slack.Messages() {
		if m.Channel == "CDEPLOYS" && len(m.Files) == 1 && m.Files[0] == files[0].ID {
			msg = &struct{ Blocks json.RawMessage }{m.Blocks}
		}
	}
	if msg == nil || !strings.Contains(string(msg.Blocks), "Weekly digest") {
		t.Fatalf("no message with the chart and the digest's blocks: %+v", f.slack.Messages())
	}
	// A second digest needs no second look-up; an ID needs none at all.
	if err := f.adapter.PostDigest(context.Background(), "#deploys", g, chart); err != nil {
		t.Fatal(err)
	}
	if err := f.adapter.PostDigest(context.Background(), "C0123", g, chart); err != nil {
		t.Fatal(err)
	}
	if n := f.slack.Count("conversations.list"); n != 1 {
		t.Errorf("conversations.list called %d times; want 1", n)
	}
	if err := f.adapter.PostDigest(context.Background(), "#nowhere", g, chart); err == nil || !strings.Contains(err.Error(), "no channel #nowhere") {
		t.Errorf("a digest to a channel that does not exist: %v", err)
	}
}
