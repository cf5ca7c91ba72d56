package fakedingtalk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/bot/dingtalk/fakedingtalk"
)

const (
	appKey    = "dingfakeappkey"
	appSecret = "fake-app-secret"
)

// clock is a clock a test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.UnixMilli(1633679083918)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newServer(t *testing.T, c *clock) *fakedingtalk.Server {
	cfg := fakedingtalk.Config{ClientID: appKey, ClientSecret: appSecret}
	if c != nil {
		cfg.Now = c.Now
	}
	return fakedingtalk.New(t, cfg)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// do calls the fake and decodes its JSON answer.
func do(t *testing.T, method, u, token string, body any) (int, map[string]any) {
	t.Helper()
	var in io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		in = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		in = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, in)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("x-acs-dingtalk-access-token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: decoding the answer: %v", method, u, err)
	}
	return resp.StatusCode, out
}

type obj = map[string]any

func accessToken(t *testing.T, s *fakedingtalk.Server) string {
	t.Helper()
	status, out := do(t, "POST", s.URL()+"/v1.0/oauth2/accessToken", "", obj{"appKey": appKey, "appSecret": appSecret})
	if status != 200 {
		t.Fatalf("accessToken: %d %v", status, out)
	}
	tok, _ := out["accessToken"].(string)
	if tok == "" {
		t.Fatalf("accessToken: no token in %v", out)
	}
	return tok
}

func wantError(t *testing.T, what string, status int, out map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || out["code"] != wantCode || out["requestid"] == "" {
		t.Errorf("%s: %d %v, want %d code %s with a requestid", what, status, out, wantStatus, wantCode)
	}
}

func groupMessage(conv string) obj {
	return obj{"msgParam": `{"title":"t","text":"**hi**"}`, "msgKey": "sampleMarkdown", "openConversationId": conv, "robotCode": appKey}
}

func TestSign(t *testing.T) {
	// ../shared/testdata/payloads/SIGNING.md, the Gitee vector: same scheme.
	const secret = "bBg5lrt03VixkX85CNqYIcecC0SIGASE"
	if got, want := fakedingtalk.Sign(secret, 1633679083918), "Xvh4YPVe6l31XpDRL9J2yeaEXabsckIoUUschpXiVck="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if fakedingtalk.Sign(secret, 1633679083917) == "Xvh4YPVe6l31XpDRL9J2yeaEXabsckIoUUschpXiVck=" {
		t.Error("Sign ignores the timestamp")
	}
}

func TestAccessToken(t *testing.T) {
	c := newClock()
	s := newServer(t, c)
	send := s.URL() + "/v1.0/robot/groupMessages/send"

	status, out := do(t, "POST", s.URL()+"/v1.0/oauth2/accessToken", "", obj{"appKey": appKey, "appSecret": "wrong"})
	wantError(t, "wrong secret", status, out, 400, "invalidClientIdOrSecret")
	status, out = do(t, "POST", send, "", groupMessage("cid1"))
	wantError(t, "no token", status, out, 401, "InvalidAuthentication")
	status, out = do(t, "POST", send, "made-up", groupMessage("cid1"))
	wantError(t, "a token the fake did not issue", status, out, 401, "InvalidAuthentication")

	_, out = do(t, "POST", s.URL()+"/v1.0/oauth2/accessToken", "", obj{"appKey": appKey, "appSecret": appSecret})
	if out["expireIn"] != 7200.0 {
		t.Errorf("expireIn = %v, want 7200", out["expireIn"])
	}
	tok := out["accessToken"].(string)
	if status, out := do(t, "POST", send, tok, groupMessage("cid1")); status != 200 {
		t.Fatalf("with the token: %d %v", status, out)
	}
	c.Add(7199 * time.Second)
	if status, _ := do(t, "POST", send, tok, groupMessage("cid1")); status != 200 {
		t.Errorf("a second before expiry: %d", status)
	}
	c.Add(time.Second)
	status, out = do(t, "POST", send, tok, groupMessage("cid1"))
	wantError(t, "expired token", status, out, 401, "InvalidAuthentication")

	tok2 := accessToken(t, s)
	if status, _ := do(t, "POST", send, tok2, groupMessage("cid1")); status != 200 {
		t.Errorf("renewed token: %d", status)
	}
	s.ExpireTokens()
	status, out = do(t, "POST", send, tok2, groupMessage("cid1"))
	wantError(t, "after ExpireTokens", status, out, 401, "InvalidAuthentication")
	if n := s.TokensIssued(); n != 2 {
		t.Errorf("TokensIssued = %d, want 2", n)
	}
	if n := s.CallCount("/v1.0/oauth2/accessToken"); n != 3 {
		t.Errorf("CallCount(accessToken) = %d, want 3", n)
	}
	calls := s.Calls()
	if len(calls) != 10 {
		t.Fatalf("%d calls recorded, want 10: %v", len(calls), calls)
	}
	if c := calls[0]; c.Method != "POST" || c.Path != "/v1.0/oauth2/accessToken" || c.Status != 400 || !bytes.Contains(c.Body, []byte(`"wrong"`)) {
		t.Errorf("first call = %+v", c)
	}
	if !calls[len(calls)-1].At.Equal(c.Now()) {
		t.Errorf("last call at %v, want %v (the injected clock)", calls[len(calls)-1].At, c.Now())
	}
}

func TestCards(t *testing.T) {
	s := newServer(t, nil)
	tok := accessToken(t, s)
	create := s.URL() + "/v1.0/card/instances/createAndDeliver"
	card := obj{
		"cardTemplateId": "tpl.schema", "outTrackId": "deploy-1",
		"openSpaceId": "dtv1.card//IM_GROUP.cidGroup==", "callbackType": "STREAM",
		"cardData":                obj{"cardParamMap": obj{"status": "pending", "service": "api"}},
		"imGroupOpenDeliverModel": obj{"robotCode": appKey, "atUserIds": obj{"u1": "张三"}},
		"imGroupOpenSpaceModel":   obj{"supportForward": true},
		"userIdType":              1,
	}
	status, out := do(t, "POST", create, tok, card)
	if status != 200 || out["success"] != true {
		t.Fatalf("createAndDeliver: %d %v", status, out)
	}
	res := out["result"].(map[string]any)
	dr := res["deliverResults"].([]any)[0].(map[string]any)
	if res["outTrackId"] != "deploy-1" || dr["spaceType"] != "IM_GROUP" || dr["spaceId"] != "cidGroup==" || dr["success"] != true || dr["carrierId"] == "" {
		t.Errorf("createAndDeliver result = %v", res)
	}
	status, out = do(t, "POST", create, tok, card)
	wantError(t, "the same outTrackId", status, out, 400, "param.outTrackIdExist")
	for _, k := range []string{"cardTemplateId", "outTrackId", "openSpaceId"} {
		bad := obj{}
		for kk, v := range card {
			if kk != k {
				bad[kk] = v
			}
		}
		bad["outTrackId"] = "other"
		if k == "outTrackId" {
			delete(bad, "outTrackId")
		}
		status, out = do(t, "POST", create, tok, bad)
		wantError(t, "without "+k, status, out, 400, "InvalidParameter")
	}

	update := s.URL() + "/v1.0/card/instances"
	status, out = do(t, "PUT", update, tok, obj{
		"outTrackId":        "deploy-1",
		"cardData":          obj{"cardParamMap": obj{"status": "approved"}},
		"privateData":       obj{"u1": obj{"cardParamMap": obj{"voted": "yes"}}},
		"cardUpdateOptions": obj{"updateCardDataByKey": true, "updatePrivateDataByKey": true},
	})
	if status != 200 || out["success"] != true || out["result"] != true {
		t.Fatalf("update by key: %d %v", status, out)
	}
	got, ok := s.Card("deploy-1")
	if !ok || got.Data["status"] != "approved" || got.Data["service"] != "api" || got.Private["u1"]["voted"] != "yes" || got.Updates != 1 {
		t.Errorf("after a merge: %+v", got)
	}
	if got.TemplateID != "tpl.schema" || got.Space != "dtv1.card//IM_GROUP.cidGroup==" || got.AtUsers["u1"] != "张三" || got.CallbackType != "STREAM" || got.RobotCode != appKey {
		t.Errorf("card = %+v", got)
	}
	status, _ = do(t, "PUT", update, tok, obj{
		"outTrackId":        "deploy-1",
		"cardData":          obj{"cardParamMap": obj{"status": "done"}},
		"privateData":       obj{"u1": obj{"cardParamMap": obj{"seen": "1"}}},
		"cardUpdateOptions": obj{"updateCardDataByKey": false, "updatePrivateDataByKey": false},
	})
	got = s.Cards()["deploy-1"]
	if status != 200 || len(got.Data) != 1 || got.Data["status"] != "done" || len(got.Private["u1"]) != 1 || got.Private["u1"]["seen"] != "1" || got.Updates != 2 {
		t.Errorf("after a replace: %d %+v", status, got)
	}
	got.Data["status"] = "changed by the test"
	if c, _ := s.Card("deploy-1"); c.Data["status"] != "done" {
		t.Error("Cards does not return a copy")
	}
	status, out = do(t, "PUT", update, tok, obj{"outTrackId": "nope", "cardData": obj{"cardParamMap": obj{}}})
	wantError(t, "an unknown card", status, out, 400, "card.notExist")
}

func TestRobotAPIs(t *testing.T) {
	s := newServer(t, nil)
	tok := accessToken(t, s)
	send := s.URL() + "/v1.0/robot/groupMessages/send"
	if status, out := do(t, "POST", send, tok, groupMessage("cid1")); status != 200 || out["processQueryKey"] == "" {
		t.Fatalf("groupMessages/send: %d %v", status, out)
	}
	other := groupMessage("cid2")
	other["robotCode"] = "dingother"
	status, out := do(t, "POST", send, tok, other)
	wantError(t, "an unknown robot", status, out, 400, "resource.not.found")
	s.SetRobotCode("dingother")
	if status, out := do(t, "POST", send, tok, other); status != 200 {
		t.Errorf("after SetRobotCode: %d %v", status, out)
	}
	bad := groupMessage("cid1")
	bad["msgParam"] = obj{"title": "not a string"}
	status, out = do(t, "POST", send, tok, bad)
	wantError(t, "msgParam not a string", status, out, 400, "InvalidParameter")
	gm := s.GroupMessages()
	if len(gm) != 2 || gm[0].Conversation != "cid1" || gm[0].MsgKey != "sampleMarkdown" || gm[0].Param["text"] != "**hi**" || gm[1].RobotCode != "dingother" {
		t.Errorf("GroupMessages = %+v", gm)
	}

	status, out = do(t, "POST", s.URL()+"/v1.0/robot/oToMessages/batchSend", tok, obj{
		"robotCode": appKey, "userIds": []string{"u1", "u2"}, "msgKey": "sampleText", "msgParam": `{"content":"hello"}`,
	})
	if status != 200 || out["processQueryKey"] == "" || out["invalidStaffIdList"] == nil || out["flowControlledStaffIdList"] == nil {
		t.Fatalf("batchSend: %d %v", status, out)
	}
	dm := s.DirectMessages()
	if len(dm) != 1 || len(dm[0].UserIDs) != 2 || dm[0].UserIDs[1] != "u2" || dm[0].Param["content"] != "hello" {
		t.Errorf("DirectMessages = %+v", dm)
	}
	status, out = do(t, "GET", s.URL()+"/v1.0/nothing/here", tok, nil)
	wantError(t, "an unknown API", status, out, 404, "InvalidAction.NotFound")
}

func TestSessionWebhook(t *testing.T) {
	c := newClock()
	s := newServer(t, c)
	hook := s.SessionWebhook("cidConv==", c.Now().Add(time.Hour))
	md := obj{"msgtype": "markdown", "markdown": obj{"title": "deploy", "text": "**ok**"}, "at": obj{"atUserIds": []string{"u1"}}}
	if status, out := do(t, "POST", hook, "", md); status != 200 || out["errcode"] != 0.0 || out["errmsg"] != "ok" {
		t.Fatalf("sendBySession: %d %v", status, out)
	}
	if _, out := do(t, "POST", hook, "", obj{"msgtype": "text", "text": obj{"content": "plain"}}); out["errcode"] != 0.0 {
		t.Fatalf("text: %v", out)
	}
	c.Add(time.Hour)
	if status, out := do(t, "POST", hook, "", md); status != 200 || out["errcode"] != 300001.0 {
		t.Errorf("expired: %d %v", status, out)
	}
	if _, out := do(t, "POST", s.URL()+"/robot/sendBySession?session=nope", "", md); out["errcode"] != 300001.0 {
		t.Errorf("unknown session: %v", out)
	}
	ms := s.SessionMessages()
	if len(ms) != 2 || ms[0].Conversation != "cidConv==" || ms[0].MsgType != "markdown" || ms[0].Title != "deploy" || ms[0].Text != "**ok**" || len(ms[0].AtUserIDs) != 1 || ms[1].Text != "plain" {
		t.Errorf("SessionMessages = %+v", ms)
	}
	if n := s.CallCount("/robot/sendBySession"); n != 4 {
		t.Errorf("CallCount = %d, want 4", n)
	}
}

// signedURL is hook with a timestamp and its signature, as a client sends
// them.
func signedURL(hook, secret string, at time.Time) string {
	ts := at.UnixMilli()
	return hook + "&timestamp=" + strconv.FormatInt(ts, 10) + "&sign=" + url.QueryEscape(fakedingtalk.Sign(secret, ts))
}

func markdown(title string) obj {
	return obj{"msgtype": "markdown", "markdown": obj{"title": title, "text": "# " + title}, "at": obj{"atMobiles": []string{}, "atUserIds": []string{"u1"}, "isAtAll": false}}
}

func TestRobotSignature(t *testing.T) {
	c := newClock()
	s := newServer(t, c)
	const secret = "SECfakerobotsecret"
	hook := s.AddRobot("robot-token", secret)
	errcode := func(u string, body any) float64 {
		t.Helper()
		status, out := do(t, "POST", u, "", body)
		if status != 200 {
			t.Fatalf("%s: HTTP %d", u, status)
		}
		return out["errcode"].(float64)
	}
	if code := errcode(signedURL(hook, secret, c.Now()), markdown("good")); code != 0 {
		t.Errorf("signed: errcode %v", code)
	}
	card := obj{"msgtype": "actionCard", "actionCard": obj{"title": "deploy?", "text": "go", "btnOrientation": "1", "btns": []obj{{"title": "Approve", "actionURL": "https://ferry.example/a"}}}}
	if code := errcode(signedURL(hook, secret, c.Now().Add(-59*time.Minute)), card); code != 0 {
		t.Errorf("signed 59 minutes ago: errcode %v", code)
	}
	if code := errcode(signedURL(hook, "other secret", c.Now()), markdown("bad")); code != 310000 {
		t.Errorf("signed with another secret: errcode %v", code)
	}
	if code := errcode(signedURL(hook, secret, c.Now().Add(-time.Hour)), markdown("stale")); code != 310000 {
		t.Errorf("signed an hour ago: errcode %v", code)
	}
	if code := errcode(hook, markdown("unsigned")); code != 310000 {
		t.Errorf("unsigned: errcode %v", code)
	}
	// A signature with a + sent without URL-encoding reads as a space.
	ts := c.Now().UnixMilli()
	for !strings.Contains(fakedingtalk.Sign(secret, ts), "+") {
		ts--
	}
	raw := hook + "&timestamp=" + strconv.FormatInt(ts, 10) + "&sign=" + fakedingtalk.Sign(secret, ts)
	if code := errcode(raw, markdown("not url-encoded")); code != 310000 {
		t.Errorf("a sign not URL-encoded: errcode %v", code)
	}
	if code := errcode(signedURL(s.URL()+"/robot/send?access_token=nope", secret, c.Now()), markdown("x")); code != 300001 {
		t.Errorf("unknown token: errcode %v", code)
	}
	ms := s.RobotMessages()
	if len(ms) != 7 || !ms[0].Accepted || ms[0].Token != "robot-token" || ms[0].Title != "good" || ms[0].AtUserIDs[0] != "u1" || ms[2].Accepted || ms[2].ErrCode != 310000 {
		t.Fatalf("RobotMessages = %+v", ms)
	}
	if m := ms[1]; m.MsgType != "actionCard" || len(m.Buttons) != 1 || m.Buttons[0] != (fakedingtalk.Button{Title: "Approve", URL: "https://ferry.example/a"}) {
		t.Errorf("actionCard = %+v", m)
	}
	plain := s.AddRobot("plain-token", "")
	if code := errcode(plain, obj{"msgtype": "text", "text": obj{"content": "no signing"}}); code != 0 {
		t.Errorf("a robot without a secret: errcode %v", code)
	}
}

func TestRobotRateLimit(t *testing.T) {
	c := newClock()
	s := newServer(t, c)
	const secret = "SECrate"
	hook := s.AddRobot("tok", secret)
	send := func() float64 {
		t.Helper()
		_, out := do(t, "POST", signedURL(hook, secret, c.Now()), "", markdown("m"))
		return out["errcode"].(float64)
	}
	for i := range 20 {
		if code := send(); code != 0 {
			t.Fatalf("message %d: errcode %v", i+1, code)
		}
		c.Add(2 * time.Second) // the 20 span 40 s
	}
	if code := send(); code != 130101 {
		t.Fatalf("the 21st within a minute: errcode %v, want 130101", code)
	}
	c.Add(time.Minute) // the window is empty now, but the robot is throttled
	if code := send(); code != 130101 {
		t.Errorf("a minute later: errcode %v, want 130101 (throttled for 10 minutes)", code)
	}
	c.Add(9*time.Minute - time.Second)
	if code := send(); code != 130101 {
		t.Errorf("just before 10 minutes: errcode %v, want 130101", code)
	}
	c.Add(time.Second)
	if code := send(); code != 0 {
		t.Errorf("10 minutes after: errcode %v, want 0", code)
	}
	if n := s.RobotThrottled("tok"); n != 3 {
		t.Errorf("RobotThrottled = %d, want 3", n)
	}
	if ms := s.RobotMessages(); len(ms) != 24 || ms[20].Accepted || ms[20].ErrCode != 130101 || !ms[23].Accepted {
		t.Errorf("%d RobotMessages; the 21st %+v", len(ms), ms[20])
	}

	// A rolling window: 20 in the last 60 s, whenever they came.
	c.Add(time.Hour)
	for range 10 {
		send()
	}
	c.Add(59 * time.Second)
	for range 10 {
		send()
	}
	c.Add(time.Second) // the first 10 are a minute old now
	for i := range 10 {
		if code := send(); code != 0 {
			t.Fatalf("message %d after the first 10 left the window: errcode %v", i+1, code)
		}
	}
	if code := send(); code != 130101 {
		t.Errorf("21 in the window: errcode %v", code)
	}

	s.ThrottleRobot("tok", c.Now().Add(time.Hour))
	c.Add(30 * time.Minute)
	if code := send(); code != 130101 {
		t.Errorf("ThrottleRobot: errcode %v", code)
	}
}

func TestFailNext(t *testing.T) {
	s := newServer(t, nil)
	tok := accessToken(t, s)
	const limited = `{"code":"Forbidden.AccessDenied.QpsLimitForApi","message":"调用该接口触发了限流"}`
	s.FailNext("POST", "/v1.0/robot/groupMessages/send", 2, 403, limited)
	send := s.URL() + "/v1.0/robot/groupMessages/send"
	for range 2 {
		status, out := do(t, "POST", send, tok, groupMessage("cid"))
		if status != 403 || out["code"] != "Forbidden.AccessDenied.QpsLimitForApi" {
			t.Errorf("failed call: %d %v", status, out)
		}
	}
	if status, _ := do(t, "POST", send, tok, groupMessage("cid")); status != 200 {
		t.Errorf("third call: %d", status)
	}
	s.FailNext("POST", "/v1.0/oauth2/accessToken", 1, 500, `{"code":"ServiceUnavailable","message":"x"}`)
	if status, _ := do(t, "POST", s.URL()+"/v1.0/oauth2/accessToken", "", obj{"appKey": appKey, "appSecret": appSecret}); status != 500 {
		t.Errorf("token call: %d, want 500", status)
	}
	if len(s.GroupMessages()) != 1 || s.CallCount("/v1.0/robot/groupMessages/send") != 3 {
		t.Errorf("%d group messages of %d calls", len(s.GroupMessages()), s.CallCount("/v1.0/robot/groupMessages/send"))
	}
	calls := s.Calls()
	if c := calls[1]; c.Status != 403 {
		t.Errorf("recorded %+v", c)
	}
}

func TestWait(t *testing.T) {
	s := newServer(t, nil)
	ctx := testContext(t)
	done := make(chan error, 1)
	go func() {
		done <- s.Wait(ctx, func() bool { return s.TokensIssued() == 2 })
	}()
	accessToken(t, s)
	accessToken(t, s)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Wait(short, func() bool { return false }); err == nil {
		t.Error("Wait returned nil with its context ended")
	}
}
