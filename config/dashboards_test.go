package config

import (
	"testing"
	"time"

	"github.com/ferrybot/ferry/dashboards"
)

func TestDashboards(t *testing.T) {
	const file = `
slack: {bot_token: xoxb-1, signing_secret: s, default_channel: "#general"}
dashboards:
  production: [live]
  failure_window: 12h
  min_deploys: 5
  top: 3
  opt_out: [bob]
  timezone: Europe/Berlin
  digest:
    channels:
      - "#deploys"
      - channel: C0PAY
        scope: team:payments
        schedule: "30 9 * * 1-5"
        timezone: Asia/Shanghai
users:
  alice: {teams: [payments]}
  bob: {}
teams:
  payments: {members: [bob]}
projects:
  shop:
    repo: ./shop
    environments: {live: {target: {type: local}}}
`
	cfg, err := loader(nil).Parse("ferry.yaml", []byte(file), "/etc/ferry")
	if err != nil {
		t.Fatal(err)
	}
	db := cfg.Dashboards
	if db.FailureWindow != 12*time.Hour || db.MinDeploys != 5 || db.Top != 3 || db.Location.String() != "Europe/Berlin" ||
		len(db.Production) != 1 || db.OptOut[0] != "bob" || len(db.Digests) != 2 {
		t.Fatalf("Dashboards = %+v", db)
	}
	weekly, daily := db.Digests[0], db.Digests[1]
	if weekly.Channel != "#deploys" || weekly.Scope != "" || weekly.Schedule.Cron != dashboards.DefaultCron || weekly.Schedule.Loc.String() != "Europe/Berlin" {
		t.Errorf("first digest = %+v; want the default schedule in the section's time zone", weekly)
	}
	if daily.Channel != "C0PAY" || daily.Scope != "team:payments" || daily.Schedule.Cron != "30 9 * * 1-5" || daily.Schedule.Loc.String() != "Asia/Shanghai" {
		t.Errorf("second digest = %+v", daily)
	}
	dir := cfg.Directory()
	if got := dir.Teams["payments"]; len(got) != 2 {
		t.Errorf("team payments = %v; want alice and bob, from both sides", got)
	}
	none, err := loader(nil).Parse("ferry.yaml", []byte("projects: {shop: {repo: ./shop, environments: {live: {target: {type: local}}}}}\n"), "/etc/ferry")
	if err != nil {
		t.Fatal(err)
	}
	if none.Dashboards.Location != time.UTC || len(none.Dashboards.Digests) != 0 {
		t.Errorf("without the section: %+v", none.Dashboards)
	}
}
