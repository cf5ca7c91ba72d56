package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPromotions(t *testing.T) {
	cfg, err := loader(nil).Parse("ferry.yaml", []byte(`projects:
  demo:
    repo: ./demo
    environments:
      staging: {tags: ['^v'], target: {type: local}}
      prod: {target: {type: local}}
      prod-eu: {target: {type: local}}
    promotions:
      - from: staging
        to: prod
        when: healthy
        soak: 30m
      - from: prod
        to: prod-eu
        schedule: "0 14 * * 1-5"
        timezone: Europe/Berlin
`), "/etc/ferry")
	if err != nil {
		t.Fatal(err)
	}
	ps := cfg.Projects[0].Promotions
	if len(ps) != 2 || ps[0].From != "staging" || ps[0].To != "prod" || ps[0].Soak != 30*time.Minute || ps[0].Schedule != nil ||
		ps[1].From != "prod" || ps[1].To != "prod-eu" || ps[1].Schedule == nil {
		t.Fatalf("promotions = %+v", ps)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if next := ps[1].Schedule.Next(time.Date(2026, 12, 4, 15, 0, 0, 0, berlin)); !next.Equal(time.Date(2026, 12, 7, 14, 0, 0, 0, berlin)) {
		t.Fatalf("next after Friday 15:00 = %v; want Monday 14:00", next)
	}
}

func TestPromotionProblems(t *testing.T) {
	want := []string{
		`10: promotion 1 of project demo can never deploy: dev deploys branches and prod takes only tags; add branches: to prod or tags: to dev`,
		`11: to of promotion 2 of project demo names "prodd", which project demo has no environment of; did you mean "prod"?`,
		`12: promotion 3 of project demo has both when and schedule: it promotes when healthy or on a schedule, keep one`,
		`13: promotion 4 of project demo says neither when: healthy (with soak:) nor schedule: (a cron expression, e.g. "0 14 * * 1-5"); add one`,
		`14: when of promotion 5 of project demo must be healthy, not "green"; for times, use schedule: instead`,
		`15: promotion 6 of project demo has when: healthy but no soak: how long the version must run healthy in staging first, e.g. soak: 30m`,
		`16: promotion 7 of project demo promotes staging into itself; name the next environment in to`,
		`17: schedule of promotion 8 of project demo: schedule "daily" is not a cron expression of five fields (minute hour day-of-month month weekday), like "0 10 * * 1" for Mondays at 10:00`,
		`19: promotions of project demo go round in a circle: prod → eu → prod; a version would promote forever, remove one`,
	}
	got := problemsOf(t, filepath.Join("problems", "promotions.yaml"), nil)
	for i := range want {
		want[i] = "promotions.yaml:" + want[i]
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
