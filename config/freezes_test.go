package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFreezes(t *testing.T) {
	cfg, err := loader(nil).Parse("ferry.yaml", []byte(`freezes:
  - name: year-end
    envs: [prod]
    from: "2026-12-20T00:00:00+01:00"
    until: "2027-01-04 00:00"
    timezone: Europe/Berlin
    reason: year-end change freeze
  - name: weekends
    envs: ["*/prod"]
    schedule: "0 18 * * 5"
    duration: 62h
    timezone: Europe/Berlin
    rollbacks: false
projects:
  demo:
    repo: ./demo
    environments: {prod: {target: {type: local}}}
`), "/etc/ferry")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Freezes) != 2 {
		t.Fatalf("freezes = %+v", cfg.Freezes)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ye := cfg.Freezes[0]
	if ye.Name != "year-end" || ye.Reason != "year-end change freeze" || !ye.From.Equal(time.Date(2026, 12, 20, 0, 0, 0, 0, berlin)) ||
		!ye.Until.Equal(time.Date(2027, 1, 4, 0, 0, 0, 0, berlin)) || ye.Starts != nil || ye.NoRollbacks {
		t.Fatalf("year-end = %+v", ye)
	}
	we := cfg.Freezes[1]
	if !we.NoRollbacks || we.Duration != 62*time.Hour || we.Starts == nil || !we.Covers("demo", "prod") {
		t.Fatalf("weekends = %+v", we)
	}
	// Friday 2026-03-27 18:00 Berlin, the weekend the clocks go forward.
	w, open := we.At(time.Date(2026, 3, 29, 12, 0, 0, 0, berlin))
	if !open || !w.End.Equal(time.Date(2026, 3, 30, 8, 0, 0, 0, berlin)) {
		t.Fatalf("the DST weekend: %+v %v", w, open)
	}
}

func TestFreezeProblems(t *testing.T) {
	want := []string{
		`5: until of freeze year-end is not after its from`,
		`6: freeze year-end has the name of the freeze at line 2; give each freeze its own name`,
		`10: freeze 3 of freezes has no name: add name:, e.g. name: year-end; refusals and the board show it`,
		`11: freeze both has both from/until and schedule/duration: a window is fixed or repeats, keep one pair`,
		`15: freeze nowindow has no window: give from: and until: (e.g. "2026-12-20T00:00:00+01:00"), or schedule: and duration:`,
		`17: freeze nodur has a schedule but no duration: add duration:, how long each window lasts, e.g. 62h`,
		`21: envs of freeze badcron names "*/prd", which matches no environment of a project; write project/env, */env or project/*`,
		`21: envs of freeze badcron names environment "prd", which no project has; did you mean "prod"?`,
		`22: schedule of freeze badcron: schedule "every friday" is not a cron expression of five fields (minute hour day-of-month month weekday), like "0 10 * * 1" for Mondays at 10:00`,
		`24: timezone of freeze badcron must be a time zone name like Europe/Berlin, Asia/Shanghai or UTC, not "Europe/Berln"`,
		`25: freeze baddate has no envs: add envs: with the environments it freezes, e.g. [prod], ["*/prod"] or ["*"]`,
		`27: from of freeze baddate must be a date and time like "2026-12-20T00:00:00+01:00" or "2026-12-20 18:00" (in its timezone), not "next week"`,
		`29: unknown key "rollback" in freeze 8 of freezes; did you mean "rollbacks"?`,
	}
	got := problemsOf(t, filepath.Join("problems", "freezes.yaml"), nil)
	for i := range want {
		want[i] = "freezes.yaml:" + want[i]
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
