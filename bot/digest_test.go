package bot

import (
	"context"
	"testing"

	"github.com/ferrybot/ferry/dashboards/dashboardstest"
	"github.com/ferrybot/ferry/pipeline"
)

func TestGoldenDigest(t *testing.T) {
	golden(t, "digest.txt", RenderDigest(dashboardstest.Digest(t)))
}

// TestDigestPreview runs digest preview through the bot, which answers
// with the digest, or says why the scope names nothing.
func TestDigestPreview(t *testing.T) {
	withEngine, _ := newTestBot(t)
	b, err := New(Config{Engine: withEngine.engine, Digests: dashboardstest.Dashboards(t)})
	if err != nil {
		t.Fatal(err)
	}
	alice := pipeline.Actor{Name: "alice"}
	r := b.Handle(context.Background(), alice, "digest preview project:web")
	if r.Error || r.Digest == nil || r.Digest.Scope.Name != "web" {
		t.Fatalf("digest preview project:web = %+v", r)
	}
	r = b.Handle(context.Background(), alice, "digest preview nowhere")
	if !r.Error || r.Kind != KindInvalid || r.Text != `scope "nowhere": no project, team, environment or person is called that; write all, team:<name>, project:<name>, env:<name> or person:<name>` {
		t.Errorf("digest preview nowhere = %+v", r)
	}
	if r := b.Handle(context.Background(), alice, "digest"); !r.Error || r.Kind != KindInvalid {
		t.Errorf("digest alone = %+v", r)
	}
}
