package config

import (
	"slices"
	"strings"
	"testing"
)

// liveYAML is dingtalkFull (an app, robots, digests on schedules in a
// time zone, a project's dingtalk_group) with a freeze and a timezone.
var liveYAML = strings.Replace(dingtalkFull, "dashboards:\n", "dashboards:\n  timezone: Europe/Berlin\n", 1) + `freezes:
  - {name: year-end, envs: [dev], from: "2026-12-20T00:00:00+01:00", until: "2027-01-04T00:00:00+01:00", reason: year-end}
`

func parseLive(t *testing.T, yaml string) *Config {
	t.Helper()
	cfg, err := loader(dingtalkEnv).Parse("ferry.yaml", []byte(yaml), "/etc/ferry")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReloadSameFile: the same file read twice changes nothing, time
// zones and digest schedules included.
func TestReloadSameFile(t *testing.T) {
	before, after := parseLive(t, liveYAML), parseLive(t, liveYAML)
	if _, changed := before.Reload(after); len(changed) != 0 {
		t.Errorf("the same file changes %v", changed)
	}
}

// TestReloadKeepsRestartOnlySettings: users, teams, projects (with their
// dingtalk_group) and freezes come from the new file; the dingtalk and
// dashboards sections stay as they were, and are named as changed.
func TestReloadKeepsRestartOnlySettings(t *testing.T) {
	before := parseLive(t, liveYAML)
	next := strings.NewReplacer(
		"  alice: {teams: [ops]", "  bob: {teams: [ops]}\n  alice: {teams: [ops]",
		"dingtalk_group: cidDEMO==", "dingtalk_group: cidMOVED==",
		"robot_code: dingrobot42", "robot_code: dingrobot43",
		"timezone: Europe/Berlin", "timezone: Asia/Shanghai",
		"reason: year-end}", "reason: year end}",
	).Replace(liveYAML)
	after := parseLive(t, "listen: 127.0.0.1:9999\n"+next)
	got, changed := before.Reload(after)
	// base_url is http://<listen> when the file does not set it.
	if want := []string{"listen", "base_url", "dingtalk", "dashboards"}; !slices.Equal(changed, want) {
		t.Errorf("changed = %v, want %v", changed, want)
	}
	if got.Listen != before.Listen || got.DingTalk.RobotCode != "dingrobot42" || got.Dashboards.Location.String() != "Europe/Berlin" {
		t.Errorf("restart-only settings taken: listen %s, robot_code %s, timezone %s", got.Listen, got.DingTalk.RobotCode, got.Dashboards.Location)
	}
	if _, ok := got.User("bob"); !ok {
		t.Error("the new user is not there")
	}
	if g := got.DingTalk.Groups["demo"]; g != "cidMOVED==" {
		t.Errorf("demo's dingtalk_group = %s", g)
	}
	if got.Freezes[0].Reason != "year end" {
		t.Errorf("freeze = %+v", got.Freezes[0])
	}
	if before.DingTalk.Groups["demo"] != "cidDEMO==" || len(before.Users) != 1 {
		t.Error("Reload changed the configuration it was called on")
	}
}

// TestLiveFollowsStore: what Live answers is the configuration stored
// last.
func TestLiveFollowsStore(t *testing.T) {
	before := parseLive(t, liveYAML)
	live := NewLive(before)
	after := parseLive(t, strings.Replace(liveYAML, "  alice: {teams: [ops]", "  bob: {teams: [ops], tokens: [bob-token-0123456789]}\n  alice: {teams: [ops]", 1))
	if _, ok := live.UserByToken("bob-token-0123456789"); ok {
		t.Fatal("bob's token works before he is loaded")
	}
	live.Store(after)
	if u, ok := live.UserByToken("bob-token-0123456789"); !ok || u.Name != "bob" || !live.Actor("bob").Is([]string{"ops"}) {
		t.Errorf("bob after the reload: %+v %v", u, ok)
	}
	if live.Config() != after || len(live.Projects()) != 2 || live.DingTalkGroup("demo") != "cidDEMO==" {
		t.Errorf("live = %p, projects %v", live.Config(), live.Projects())
	}
}

// TestDiff names what a reload adds, removes and changes, and nothing
// when the file is the same.
func TestDiff(t *testing.T) {
	before := parseLive(t, liveYAML)
	if d := before.Diff(parseLive(t, liveYAML)); d != "" {
		t.Errorf("the same file: %q", d)
	}
	after := parseLive(t, strings.NewReplacer(
		"  alice: {teams: [ops], chat: {dingtalk: \"manager4220\"}}", "  alice: {teams: [ops]}\n  bob: {}",
		"  ops: {}", "  ops: {}\n  dev: {}",
		"  api:\n    repo: ./api\n    environments: {dev: {target: {type: local}}}\n", "",
		"name: year-end", "name: new-year",
	).Replace(liveYAML))
	if d, want := before.Diff(after), "users +bob ~alice; teams +dev; projects -api; freezes +new-year -year-end"; d != want {
		t.Errorf("Diff = %q, want %q", d, want)
	}
}
