package dingtalk

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot/dingtalk/fakedingtalk"
	"github.com/ferrybot/ferry/dashboards/dashboardstest"
	"github.com/ferrybot/ferry/pipeline"
)

const robotSecret = "SEC1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcd"

// TestRobotThrottledThenDrains: a custom robot DingTalk holds for its rate
// limit answers 130101; its notices wait in the outbox, the app's do not,
// and when the hold is over the robot's queue drains: the card as it is
// then, once.
func TestRobotThrottledThenDrains(t *testing.T) {
	f := newFixture(t, setup{robot: true, robotSecret: robotSecret})
	f.fake.ThrottleRobot("robot-ops-token", f.clock.Now().Add(robotHold))
	f.say(uAlice, "deploy demo to staging")
	f.waitDeploy(1, pipeline.StateSucceeded)
	f.card(1, pipeline.StateSucceeded) // the app's card is not held
	f.until("the robot refused", func() bool { return f.fake.RobotThrottled("robot-ops-token") > 0 })
	refused := f.fake.RobotThrottled("robot-ops-token")
	ctx := f.ctx()
	if err := f.clock.BlockUntilContext(ctx, 1); err != nil { // the dispatcher waits for the hold to end
		t.Fatal(err)
	}
	f.clock.Advance(robotHold + time.Second)
	f.until("the robot's card", func() bool { return len(accepted(f)) > 0 })
	got := accepted(f)
	if len(got) != 1 || got[0].MsgType != "actionCard" || !strings.Contains(got[0].Text, "Succeeded") || len(got[0].Buttons) == 0 {
		t.Fatalf("robot messages = %+v; want the succeeded card once, with links", got)
	}
	if f.fake.RobotThrottled("robot-ops-token") != refused {
		t.Fatal("ferry kept sending to the robot while it was held")
	}
}

// TestRobotPacedUnderLimit: 25 digests for one robot within a minute are
// sent 20 now and 5 a minute later, and DingTalk never holds the robot.
func TestRobotPacedUnderLimit(t *testing.T) {
	f := newFixture(t, setup{robot: true, robotSecret: robotSecret})
	g := dashboardstest.Digest(t)
	for range 25 {
		if err := f.adapter.Digests().PostDigest(context.Background(), "dingtalk-robot:ops", g, nil); err != nil {
			t.Fatal(err)
		}
	}
	f.until("20 digests", func() bool { return len(accepted(f)) == robotLimit })
	ctx := f.ctx()
	if err := f.clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n := len(f.fake.RobotMessages()); n != robotLimit {
		t.Fatalf("%d messages sent in the first minute; want %d", n, robotLimit)
	}
	f.clock.Advance(robotWindow + time.Second)
	f.until("the other 5", func() bool { return len(accepted(f)) == 25 })
	if n := f.fake.RobotThrottled("robot-ops-token"); n != 0 {
		t.Fatalf("DingTalk refused %d messages for the rate limit", n)
	}
	if m := accepted(f)[0]; m.MsgType != "markdown" || !strings.Contains(m.Text, "Weekly digest") || !strings.Contains(m.Text, "![") {
		t.Fatalf("digest = %+v", m)
	}
}

// TestDigestToGroup posts a digest in a group through the app.
func TestDigestToGroup(t *testing.T) {
	f := newFixture(t)
	g := dashboardstest.Digest(t)
	if err := f.adapter.Digests().PostDigest(context.Background(), "dingtalk:cidOPSgroup==", g, nil); err != nil {
		t.Fatal(err)
	}
	f.until("the digest", func() bool { return len(f.fake.GroupMessages()) == 1 })
	m := f.fake.GroupMessages()[0]
	text, _ := m.Param["text"].(string)
	if m.Conversation != "cidOPSgroup==" || m.MsgKey != "sampleMarkdown" || m.RobotCode != clientID || !strings.Contains(text, "DORA metrics") || !strings.Contains(text, g.ChartURL) {
		t.Fatalf("digest = %+v", m)
	}
	if err := f.adapter.Digests().PostDigest(context.Background(), "dingtalk-robot:nobody", g, nil); err == nil {
		t.Fatal("a digest to a robot that does not exist was queued")
	}
}

// accepted are the messages the robot took.
func accepted(f *fixture) []fakedingtalk.RobotMessage {
	var out []fakedingtalk.RobotMessage
	for _, m := range f.fake.RobotMessages() {
		if m.Accepted {
			out = append(out, m)
		}
	}
	return out
}

// TestAnnouncementToGroupAndRobot: news of a project goes to its group
// through the app and to the robots whose scope takes it, said once.
func TestAnnouncementToGroupAndRobot(t *testing.T) {
	f := newFixture(t, setup{robot: true, robotSecret: robotSecret})
	an := pipeline.Announcement{Key: "freeze year-end 1 demo open", Project: "demo", Env: "prod", Text: "Freeze year-end (封版): demo prod frozen until Mon 4 Jan 2027 00:00 CET."}
	sub := Subscriber{App: true, Robots: []Robot{{Name: "ops", Cards: func(pipeline.Deploy) bool { return true }}}}
	for range 2 {
		if _, err := f.store.Announce(context.Background(), an, sub.Announce(an)); err != nil {
			t.Fatal(err)
		}
	}
	f.until("the announcements", func() bool { return len(f.fake.GroupMessages()) == 1 && len(accepted(f)) == 1 })
	g := f.fake.GroupMessages()[0]
	if text, _ := g.Param["text"].(string); g.Conversation != demoGroup || !strings.Contains(text, "封版") {
		t.Fatalf("group = %+v", g)
	}
	if r := accepted(f)[0]; r.MsgType != "markdown" || !strings.Contains(r.Text, "frozen until") {
		t.Fatalf("robot = %+v", r)
	}
}
