package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot/dingtalk/fakedingtalk"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// TestDingTalkServe: with a dingtalk: section, ferry serve opens the
// Stream connection, deploys what is said to the robot, keeps the
// deploy's card in the project's group and the custom robot told, and
// never logs a secret.
func TestDingTalkServe(t *testing.T) {
	const secret = "dingtalk-app-secret-0123456789"
	fake := fakedingtalk.New(t, fakedingtalk.Config{ClientID: "dingferrytest", ClientSecret: secret})
	robotSecret := "SEC" + strings.Repeat("a", 64)
	robot := fake.AddRobot("robot-token-0123", robotSecret)
	repo := gittest.NewRepo(t)
	repo.Commit(t, map[string]string{"README": "hi\n"}, "first")
	repo.Branch(t, "master")
	yaml := fmt.Sprintf(`storage: ferry.db
workspace: workspace
users:
  alice: {tokens: ["alice-token-0123456789"], chat: {dingtalk: "0420297"}}
dingtalk:
  client_id: dingferrytest
  client_secret: %s
  card_template_id: ferry-deploy.schema
  api_url: %s
  robots:
    - {name: ops, webhook: "%s", secret: %s, scope: "project:demo"}
projects:
  demo:
    repo: %s
    dingtalk_group: cidDEMO==
    environments:
      staging:
        branches: ['^master$']
        default_ref: master
        target: {type: local, hosts: [a], root: hosts/demo}
dashboards:
  digest:
    channels: ["dingtalk:cidDEMO==", "dingtalk-robot:ops"]
`, secret, fake.URL(), robot, robotSecret, repo.Path())
	path := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := runFerry(t, "check", "--config", path); err != nil {
		t.Fatalf("check: %v\n%s%s", err, out, errOut)
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	outbox := func(a *app) func(context.Context) error { return a.outbox.Run }
	ding := func(a *app) func(context.Context) error { return a.ding.Run }
	a, _ := startApp(t, yaml, slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil)), outbox, ding)
	if a.digests == nil {
		t.Fatal("no digest schedule")
	}
	wait, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	if err := fake.WaitConnections(wait, 1); err != nil {
		t.Fatalf("no stream connection: %v", err)
	}
	msg, _ := json.Marshal(map[string]any{
		"msgId": "msgE2E1==", "conversationId": "cidDEMO==", "conversationType": "2", "senderStaffId": "0420297",
		"senderNick": "张三", "senderCorpId": "ding6741", "msgtype": "text", "text": map[string]string{"content": " deploy demo to staging"},
		"sessionWebhook": fake.SessionWebhook("cidDEMO==", time.Now().Add(time.Hour)), "sessionWebhookExpiredTime": time.Now().Add(time.Hour).UnixMilli(),
	})
	if ack, err := fake.SendBotMessage(wait, msg); err != nil || ack.Code != 200 {
		t.Fatalf("the message: %+v %v", ack, err)
	}
	succeeded := func() bool {
		for _, c := range fake.Cards() {
			if c.Data["state"] == string(pipeline.StateSucceeded) && c.Space == "dtv1.card//IM_GROUP.cidDEMO==" {
				return true
			}
		}
		return false
	}
	robotTold := func() bool {
		for _, m := range fake.RobotMessages() {
			if m.Accepted && strings.Contains(m.Text, "Succeeded") {
				return true
			}
		}
		return false
	}
	if err := fake.Wait(wait, func() bool { return succeeded() && robotTold() && len(fake.DirectMessages()) == 1 }); err != nil {
		t.Fatalf("cards %+v, robot %+v: %v", fake.Cards(), fake.RobotMessages(), err)
	}
	// The digests go to the group through the app and to the robot.
	if err := a.digests.SendNow(wait); err != nil {
		t.Fatal(err)
	}
	digested := func() bool {
		group, robot := false, false
		for _, m := range fake.GroupMessages() {
			text, _ := m.Param["text"].(string)
			group = group || m.Conversation == "cidDEMO==" && strings.Contains(text, "DORA metrics")
		}
		for _, m := range fake.RobotMessages() {
			robot = robot || m.Accepted && m.MsgType == "markdown" && strings.Contains(m.Text, "DORA metrics")
		}
		return group && robot
	}
	if err := fake.Wait(wait, digested); err != nil {
		t.Fatalf("the digests: %v", err)
	}
	logMu.Lock()
	defer logMu.Unlock()
	for _, s := range []string{secret, robotSecret, "robot-token-0123"} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log has %q", s)
		}
	}
}

// lockedWriter is a log writer goroutines share.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
