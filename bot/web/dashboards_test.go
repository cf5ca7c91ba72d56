package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/dashboards/dashboardstest"
	"github.com/ferrybot/ferry/internal/browsertest"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/pipeline/pipelinetest"
)

// TestGoldenDashboards renders the metrics and leaderboard pages of the
// sample week as alice.
func TestGoldenDashboards(t *testing.T) {
	f := newFixture(t, setup{dash: dashboardstest.Dashboards(t)})
	v := &viewer{session: session{Name: "alice", Expires: t0.Add(sessionTTL), Nonce: "fixed-nonce"}, Actor: f.users.Actor("alice")}
	v.CSRF = f.srv.csrf(v.session)
	for _, c := range []struct {
		name, path string
		status     int
		serve      func(http.ResponseWriter, *http.Request, *viewer)
	}{
		{"dashboard.html", "/dashboard", http.StatusOK, f.srv.dashboardPage},
		{"leaderboards_web.html", "/leaderboards?scope=project:web&period=2026-11-02..2026-11-09", http.StatusOK, f.srv.leaderboardsPage},
		{"dashboard_bad_scope.html", "/dashboard?scope=nowhere", http.StatusBadRequest, f.srv.dashboardPage},
	} {
		rec := httptest.NewRecorder()
		c.serve(rec, httptest.NewRequest(http.MethodGet, c.path, nil), v)
		if rec.Code != c.status {
			t.Fatalf("%s: %d; want %d", c.path, rec.Code, c.status)
		}
		golden(t, c.name, rec.Body.String())
	}
}

// TestDashboardsCountToday: a newcomer who deployed four times this
// morning sees four on the Metrics page and the Leaderboards, which show
// the last 7×24 hours up to now unless asked otherwise, and say so.
func TestDashboardsCountToday(t *testing.T) {
	var today dashboardstest.Store
	for i := range 4 {
		start := t0.Add(-time.Duration(i+1) * time.Hour)
		today = append(today, dashboards.Fact{ID: int64(i + 1), Project: "demo", Env: "staging", Kind: pipeline.KindDeploy, State: pipeline.StateSucceeded,
			Requester: "alice", CreatedAt: start, StartedAt: start, FinishedAt: start.Add(5 * time.Minute)})
	}
	d, err := dashboards.New(dashboards.Config{Store: today, Directory: dashboards.Directory{Projects: []string{"demo"}, Users: []string{"alice"}},
		Settings: dashboards.Settings{MinDeploys: 1}, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, setup{dash: d})
	alice := f.signIn("alice", alicePassword)
	about := "every project, last 7 days, up to now (2026-10-26 10:00 – 2026-11-02 10:00 UTC)"
	page := f.get(alice, "/dashboard")
	if !strings.Contains(page.Body, `<div class="metric-value">4</div>`) || !strings.Contains(page.Body, about+", compared with the 7 days before") {
		t.Errorf("the metrics page of a newcomer:\n%s", page.Body)
	}
	page = f.get(alice, "/leaderboards")
	if !strings.Contains(page.Body, `<b>alice</b> <span class="score">4</span>`) || !strings.Contains(page.Body, about) {
		t.Errorf("the leaderboards of a newcomer:\n%s", page.Body)
	}
}

// TestHistoryFilters filters the history by person, state and period, and
// says what is wrong with a filter that cannot be.
func TestHistoryFilters(t *testing.T) {
	f := newFixture(t, setup{dash: dashboardstest.Dashboards(t)})
	ctx := t.Context()
	f.bot.Handle(ctx, f.users.Actor("alice"), "deploy demo to staging")
	f.wait(1, pipeline.StateSucceeded)
	f.bot.Handle(ctx, f.users.Actor("bob"), "deploy demo v1.0.0 to prod")
	c := f.signIn("alice", alicePassword)
	rows := func(query string, status int) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.ts.URL+"/history?"+query, nil)
		r := f.do(c, req)
		if r.StatusCode != status {
			t.Fatalf("history?%s: %d; want %d\n%s", query, r.StatusCode, status, r.Body)
		}
		return r.Body
	}
	has := func(body string, ids ...int) string {
		var got []string
		for id := 1; id <= 2; id++ {
			if strings.Contains(body, fmt.Sprintf(`href="/deploys/%d"`, id)) {
				got = append(got, fmt.Sprint(id))
			}
		}
		return strings.Join(got, ",")
	}
	for query, want := range map[string]string{
		"":                                   "1,2",
		"person=bob":                         "2",
		"state=succeeded":                    "1",
		"state=awaiting_approval&person=bob": "2",
		"period=2026-11-02..2026-11-03":      "1,2",
		"period=2026-11-03..2026-11-04":      "",
	} {
		if got := has(rows(query, http.StatusOK)); got != want {
			t.Errorf("history?%s lists %q; want %q", query, got, want)
		}
	}
	if body := rows("state=exploded", http.StatusBadRequest); !strings.Contains(body, `&#34;exploded&#34; is not a state of a deploy`) {
		t.Errorf("a bad state: %s", body)
	}
	if body := rows("period=lately", http.StatusBadRequest); !strings.Contains(body, "write a number of days like 7d") {
		t.Errorf("a bad period: %s", body)
	}
}

// TestBrowserDashboards opens the metrics page in headless Chromium, picks
// a scope, follows the link to the leaderboards, and watches a deploy's
// page take its log live; it leaves screenshots of the metrics page and
// the leaderboards in /tmp/ferry-dashboard.png and /tmp/ferry-leaderboards.png.
func TestBrowserDashboards(t *testing.T) {
	held := pipelinetest.NewTarget("s1", "s2")
	held.Hold = make(chan struct{})
	f := newFixture(t, setup{dash: dashboardstest.Dashboards(t), clock: clockwork.NewRealClock(),
		target: func(pipeline.Project, pipeline.Environment) (pipeline.Target, error) { return held, nil }})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br := browsertest.New(t, ctx)
	br.Step("sign in",
		chromedp.Navigate(f.ts.URL+"/login?next=/dashboard"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), alicePassword),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS(`#metrics .metric[data-key="deploys"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart rect.ok`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart circle.point`)),
	)
	br.Screenshot("/tmp/ferry-dashboard.png")
	deploys, err := chromedp.Run(br.Ctx, chromedp.Text(chromedp.CSS(`.metric[data-key="deploys"] .metric-value`)))
	if err != nil || deploys != "10" { // the last 7×24 hours up to Monday 10:00: the Monday 9:00 deploy is before them
		t.Errorf("the page shows %q deploys (%v); want 10", deploys, err)
	}
	br.Step("pick project web",
		chromedp.SetValue(chromedp.CSS("#scope"), "project:web"),
		chromedp.Submit(chromedp.CSS("#scope")),
		chromedp.WaitVisible(chromedp.CSS(`#period-text`)),
	)
	deploys, err = chromedp.Run(br.Ctx, chromedp.Text(chromedp.CSS(`.metric[data-key="deploys"] .metric-value`)))
	if err != nil || deploys != "5" {
		t.Errorf("project web shows %q deploys (%v); want 5", deploys, err)
	}
	br.Step("open its leaderboards",
		chromedp.Click(chromedp.CSS(`a[href^="/leaderboards"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#boards .board[data-by="person"][data-kind="most_deploys"] .places li`)),
	)
	br.Screenshot("/tmp/ferry-leaderboards.png")

	// A deploy held before its first unit: its page shows the build, and
	// the install's lines arrive without a reload.
	f.bot.Handle(t.Context(), f.users.Actor("alice"), "deploy demo to staging")
	br.Step("open the running deploy",
		chromedp.Navigate(f.ts.URL+"/deploys/1"),
		chromedp.WaitVisible(chromedp.CSS(`#log .line`)),
		chromedp.WaitReady(chromedp.CSS(`body[data-stream="open"]`)),
		chromedp.Evaluate[chromedp.Void](`window.stayed = true`),
	)
	held.Hold <- struct{}{}
	held.Hold <- struct{}{}
	br.Step("see the units' lines arrive", chromedp.WaitVisible(chromedp.CSS(`#log .line:nth-of-type(3)`)))
	br.Step("see the units done", chromedp.WaitVisible(chromedp.CSS(`#units tr:nth-of-type(2) .tone-good`)))
	stayed, err := chromedp.Run(br.Ctx, chromedp.Evaluate[bool](`window.stayed === true`))
	if err != nil || !stayed {
		t.Errorf("the deploy page was reloaded (%v): the log did not arrive live", err)
	}
}
