package web

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/internal/browsertest"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/local"
	"github.com/ferrybot/ferry/targets/workspace"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// screenshotCopy is where the browser test leaves its last screenshot for
// people to look at.
const screenshotCopy = "/tmp/ferry-console.png"

// TestBrowser drives the console in headless Chromium over a real engine
// deploying a git repository to local directories: alice deploys to staging
// and watches the card succeed live, asks for prod, signs out; bob signs in
// and approves; the card succeeds.
func TestBrowser(t *testing.T) {
	f := localFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a hang fails the test
	defer cancel()
	br := browsertest.New(t, ctx)
	card := func(id int64, state pipeline.State) chromedp.CSS {
		return chromedp.CSS(fmt.Sprintf(`#stream #deploy-%d[data-state=%q]`, id, state))
	}
	signIn := func(name, password string) {
		t.Helper()
		br.Step("sign in as "+name,
			chromedp.Navigate(f.ts.URL+"/"),
			chromedp.WaitVisible(chromedp.CSS("#name")),
			chromedp.SendKeys(chromedp.CSS("#name"), name),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS("#sign-in")),
			chromedp.WaitVisible(chromedp.CSS("#command")),
			chromedp.WaitVisible(chromedp.CSS("#live.on")), // the event stream is open
		)
	}
	command := func(text string) {
		t.Helper()
		br.Step("type "+text,
			chromedp.SendKeys(chromedp.CSS("#command"), text),
			chromedp.Click(chromedp.CSS(`#command-form button[type="submit"]`)),
		)
	}

	// The page must not be reloaded while the card goes live: a variable
	// set on it now must still be there when the deploy has succeeded.
	signIn("alice", alicePassword)
	br.Step("mark the page", chromedp.Evaluate[chromedp.Void](`window.stayed = true`))
	command("deploy demo to staging")
	br.Step("see the reply", chromedp.WaitVisible(chromedp.CSS(`#replies .reply .reply-command`)))
	br.Step("see staging succeed live", chromedp.WaitVisible(card(1, pipeline.StateSucceeded)))
	stayed, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`window.stayed === true`))
	if err != nil || !stayed {
		t.Fatalf("the page was reloaded (stayed=%v, %v): the card did not arrive by the event stream", stayed, err)
	}
	f.wait(1, pipeline.StateSucceeded)

	command("deploy demo v1.0.0 to prod")
	br.Step("see prod await approval", chromedp.WaitVisible(card(2, pipeline.StateAwaitingApproval)))
	command("approve 2")
	br.Step("see alice may not approve", chromedp.WaitVisible(chromedp.CSS(`#replies .reply-error`)))
	br.Step("sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#name")))

	signIn("bob", bobPassword)
	br.Step("make a personal token",
		chromedp.Click(chromedp.CSS(`a[href="/tokens"]`)),
		chromedp.WaitVisible(chromedp.CSS("#token-name")),
		chromedp.SendKeys(chromedp.CSS("#token-name"), "ci"),
		chromedp.Click(chromedp.CSS("#token-create")),
		chromedp.WaitVisible(chromedp.CSS("#new-token-secret")),
		chromedp.WaitVisible(chromedp.CSS(`#tokens tr[data-token] .tone-good`)),
	)
	br.Screenshot("/tmp/ferry-tokens.png")
	br.Step("back to the console", chromedp.Navigate(f.ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#live.on")))
	br.Step("approve", chromedp.Click(chromedp.CSS(`#deploy-2 button[data-action="approve"]`)))
	br.Step("see prod succeed", chromedp.WaitVisible(card(2, pipeline.StateSucceeded)))
	f.wait(2, pipeline.StateSucceeded)

	br.Screenshot(screenshotCopy)
}

// TestBrowserOIDC: with password sign-in off, alice signs in through the
// identity provider's own page in headless Chromium, lands on the console
// signed in, and signs out of ferry and then of the provider.
func TestBrowserOIDC(t *testing.T) {
	f, p := oidcFixture(t, setup{noPassword: true, clock: clockwork.NewRealClock()})
	p.SetAutoApprove(false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a hang fails the test
	defer cancel()
	br := browsertest.New(t, ctx)
	br.Step("open the sign-in page",
		chromedp.Navigate(f.ts.URL+"/board"),
		chromedp.WaitVisible(chromedp.CSS("#sign-in-oidc")),
	)
	if n, err := chromedp.Run(br.Ctx, chromedp.Evaluate[int](`document.querySelectorAll("#password").length`)); err != nil || n != 0 {
		t.Errorf("the sign-in page shows %d password fields (%v) with password sign-in off; want none", n, err)
	}
	br.Step("go to the provider", chromedp.Click(chromedp.CSS("#sign-in-oidc")), chromedp.WaitVisible(chromedp.CSS("#approve")))
	br.Screenshot("/tmp/ferry-oidc-provider.png")
	br.Step("sign in there", chromedp.Click(chromedp.CSS("#approve")), chromedp.WaitVisible(chromedp.CSS("#sign-out")))
	where, err := chromedp.Run(br.Ctx, chromedp.Location())
	who, err2 := chromedp.Run(br.Ctx, chromedp.Text(chromedp.CSS(".top")))
	if err != nil || err2 != nil || where != f.ts.URL+"/board" || !strings.Contains(who, "alice") {
		t.Errorf("after signing in: at %s, header %q; want the board, signed in as alice", where, who)
	}
	br.Screenshot("/tmp/ferry-oidc-board.png")
	br.Step("sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#provider-sign-out")))
	br.Screenshot("/tmp/ferry-oidc-signed-out.png")
	br.Step("sign out of the provider", chromedp.Click(chromedp.CSS("#provider-sign-out")), chromedp.WaitVisible(chromedp.CSS("#sign-in-oidc")))
	if n := len(p.EndSessions()); n != 1 {
		t.Errorf("the provider's end-session page was visited %d times; want once", n)
	}
}

// localFixture serves a real engine that deploys a git repository with the
// local target to two directories per environment, on the real clock.
func localFixture(t *testing.T) *fixture {
	t.Helper()
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"index.html": "<h1>demo</h1>\n", "build.sh": "#!/bin/sh\necho building the demo\n"}, "demo")
	repo.Tag(t, "v1.0.0")
	base := t.TempDir()
	ws, err := workspace.New(workspace.Config{Dir: filepath.Join(base, "workspace")})
	if err != nil {
		t.Fatal(err)
	}
	resolver, err := workspace.NewResolver(filepath.Join(base, "workspace"))
	if err != nil {
		t.Fatal(err)
	}
	target := func(p pipeline.Project, env pipeline.Environment) (pipeline.Target, error) {
		cfg, err := local.ParseConfig(map[string]any{
			"hosts": []any{"web1", "web2"},
			"root":  filepath.Join(base, "hosts", env.Name),
			"build": []any{"./build.sh"},
		})
		if err != nil {
			return nil, err
		}
		return local.New(cfg, workspace.Setup{Project: p.Name, Env: env.Name, Workspace: ws})
	}
	return newFixture(t, setup{
		projects: []pipeline.Project{demoProject(repo.Path())},
		target:   target, resolver: resolver, clock: clockwork.NewRealClock(),
	})
}
