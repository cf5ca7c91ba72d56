package fakedingtalk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// The custom robots' rate limit, as DingTalk documents it: at most
// RobotLimit messages in any rolling RobotWindow, and a robot that sends
// more is throttled for RobotThrottle.
const (
	RobotLimit    = 20
	RobotWindow   = time.Minute
	RobotThrottle = 10 * time.Minute
)

// GroupMessage is a message sent with /v1.0/robot/groupMessages/send.
type GroupMessage struct {
	Conversation string // openConversationId
	RobotCode    string
	MsgKey       string         // sampleMarkdown, sampleText, sampleActionCard, …
	Param        map[string]any // msgParam, decoded
	At           time.Time
}

// DirectMessage is a message sent with /v1.0/robot/oToMessages/batchSend.
type DirectMessage struct {
	RobotCode string
	UserIDs   []string
	MsgKey    string
	Param     map[string]any
	At        time.Time
}

// SessionMessage is a message a session webhook took.
type SessionMessage struct {
	Conversation string
	MsgType      string // markdown, text, actionCard, …
	Title        string // markdown, actionCard
	Text         string // text.content, markdown.text, actionCard.text
	AtUserIDs    []string
	At           time.Time
}

// Button is a button of an actionCard.
type Button struct {
	Title, URL string
}

// RobotMessage is a message sent to a custom robot's webhook, taken or
// refused.
type RobotMessage struct {
	Token     string // access_token
	MsgType   string
	Title     string
	Text      string
	Buttons   []Button
	AtUserIDs []string
	AtMobiles []string
	IsAtAll   bool
	At        time.Time
	Accepted  bool // false when answered with an error
	ErrCode   int  // what it was answered; 0 when accepted
}

type session struct {
	conversation string
	expires      time.Time
}

type robot struct {
	secret         string
	sent           []time.Time // of the messages taken in the rate window
	throttledUntil time.Time
	throttled      int // 130101 answers
}

// robots is the fake's robot-message state; Server.mu guards it.
type robots struct {
	group    []GroupMessage
	direct   []DirectMessage
	sessions map[string]*session
	session  []SessionMessage
	custom   map[string]*robot
	robot    []RobotMessage
}

func (rs *robots) init() {
	rs.sessions = map[string]*session{}
	rs.custom = map[string]*robot{}
}

// msgKeys are the message templates of the robot APIs.
var msgKeys = map[string]bool{
	"sampleText": true, "sampleMarkdown": true, "sampleImageMsg": true, "sampleLink": true,
	"sampleActionCard": true, "sampleActionCard2": true, "sampleActionCard3": true,
	"sampleActionCard4": true, "sampleActionCard5": true, "sampleActionCard6": true,
	"sampleAudio": true, "sampleFile": true, "sampleVideo": true,
}

// msgParam decodes msgParam, a JSON object in a string.
func msgParam(key, param string) (map[string]any, string) {
	if !msgKeys[key] {
		return nil, "msgKey不合法: " + key
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(param), &p); err != nil || p == nil {
		return nil, "msgParam不是合法的JSON对象"
	}
	return p, ""
}

// groupSend serves POST /v1.0/robot/groupMessages/send.
func (s *Server) groupSend(_ *http.Request, body []byte, now time.Time) (int, any) {
	var b struct {
		MsgParam     string `json:"msgParam"`
		MsgKey       string `json:"msgKey"`
		Conversation string `json:"openConversationId"`
		RobotCode    string `json:"robotCode"`
	}
	if err := decode(body, &b); err != nil {
		return badParam("请求体不合法: " + err.Error())
	}
	switch {
	case b.Conversation == "":
		return badParam("openConversationId不能为空")
	case b.RobotCode == "":
		return badParam("robotCode不能为空")
	case !s.codes[b.RobotCode]:
		return http.StatusBadRequest, apiError("resource.not.found", "robot 不存在")
	}
	p, bad := msgParam(b.MsgKey, b.MsgParam)
	if bad != "" {
		return badParam(bad)
	}
	s.robots.group = append(s.robots.group, GroupMessage{Conversation: b.Conversation, RobotCode: b.RobotCode, MsgKey: b.MsgKey, Param: p, At: now})
	return http.StatusOK, obj{"processQueryKey": randomHex(16)}
}

// batchSend serves POST /v1.0/robot/oToMessages/batchSend.
func (s *Server) batchSend(_ *http.Request, body []byte, now time.Time) (int, any) {
	var b struct {
		RobotCode string   `json:"robotCode"`
		UserIDs   []string `json:"userIds"`
		MsgKey    string   `json:"msgKey"`
		MsgParam  string   `json:"msgParam"`
	}
	if err := decode(body, &b); err != nil {
		return badParam("请求体不合法: " + err.Error())
	}
	switch {
	case b.RobotCode == "":
		return badParam("robotCode不能为空")
	case !s.codes[b.RobotCode]:
		return http.StatusBadRequest, apiError("resource.not.found", "robot 不存在")
	case len(b.UserIDs) == 0:
		return badParam("userIds不能为空")
	case len(b.UserIDs) > 20:
		return badParam("userIds最多20个")
	}
	p, bad := msgParam(b.MsgKey, b.MsgParam)
	if bad != "" {
		return badParam(bad)
	}
	s.robots.direct = append(s.robots.direct, DirectMessage{RobotCode: b.RobotCode, UserIDs: b.UserIDs, MsgKey: b.MsgKey, Param: p, At: now})
	return http.StatusOK, obj{"processQueryKey": randomHex(16), "invalidStaffIdList": []string{}, "flowControlledStaffIdList": []string{}}
}

// GroupMessages returns the messages sent to groups, in order.
func (s *Server) GroupMessages() []GroupMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.robots.group)
}

// DirectMessages returns the messages sent to users, in order.
func (s *Server) DirectMessages() []DirectMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.robots.direct)
}

// SessionWebhook returns a session webhook of conversation, good until
// expires, as a robot message's sessionWebhook is.
func (s *Server) SessionWebhook(conversation string, expires time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := randomHex(16)
	s.robots.sessions[id] = &session{conversation: conversation, expires: expires}
	return s.srv.URL + "/robot/sendBySession?session=" + id
}

// SessionMessages returns the messages session webhooks took, in order;
// the refused ones are only in Calls.
func (s *Server) SessionMessages() []SessionMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.robots.session)
}

// oldAPI is an answer of the robots' webhooks: HTTP 200 with errcode.
func oldAPI(code int, msg string) (int, any) {
	return http.StatusOK, obj{"errcode": code, "errmsg": msg}
}

// sendBySession serves POST /robot/sendBySession?session=….
func (s *Server) sendBySession(r *http.Request, body []byte, now time.Time) (int, any) {
	sess := s.robots.sessions[r.URL.Query().Get("session")]
	if sess == nil || !now.Before(sess.expires) {
		return oldAPI(300001, "session 不存在或已过期")
	}
	m, code, bad := parseRobotMessage(body)
	if code != 0 {
		return oldAPI(code, bad)
	}
	s.robots.session = append(s.robots.session, SessionMessage{Conversation: sess.conversation, MsgType: m.MsgType, Title: m.Title, Text: m.Text, AtUserIDs: m.AtUserIDs, At: now})
	return oldAPI(0, "ok")
}

// AddRobot registers a custom group robot with accessToken and, unless
// secret is "", signing (加签) with secret, and returns its webhook.
func (s *Server) AddRobot(accessToken, secret string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.robots.custom[accessToken] = &robot{secret: secret}
	return s.srv.URL + "/robot/send?access_token=" + url.QueryEscape(accessToken)
}

// ThrottleRobot makes the robot with token answer 130101 (send too fast)
// to every message until until.
func (s *Server) ThrottleRobot(token string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rb := s.robots.custom[token]; rb != nil {
		rb.throttledUntil = until
	}
}

// RobotThrottled returns how many messages to the robot with token were
// answered 130101 (send too fast).
func (s *Server) RobotThrottled(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rb := s.robots.custom[token]; rb != nil {
		return rb.throttled
	}
	return 0
}

// RobotMessages returns every message sent to custom robots, the refused
// ones included, in order.
func (s *Server) RobotMessages() []RobotMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.robots.robot)
}

// Sign returns the signature of a custom robot's webhook call at ts (Unix
// milliseconds): Base64(HMAC-SHA256(key=secret, msg=ts+"\n"+secret)), not
// URL-encoded.
func Sign(secret string, ts int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// robotSend serves POST /robot/send?access_token=…&timestamp=…&sign=….
func (s *Server) robotSend(r *http.Request, body []byte, now time.Time) (int, any) {
	q := r.URL.Query()
	token := q.Get("access_token")
	m, code, msg := parseRobotMessage(body)
	m.Token, m.At = token, now
	defer func() {
		m.Accepted, m.ErrCode = code == 0, code
		s.robots.robot = append(s.robots.robot, m)
	}()
	rb := s.robots.custom[token]
	switch {
	case rb == nil:
		code, msg = 300001, "token is not exist"
	case rb.secret != "" && !signed(rb.secret, q.Get("timestamp"), q.Get("sign"), now):
		code, msg = 310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"
	case code != 0:
	case now.Before(rb.throttledUntil):
		code, msg = 130101, "send too fast, exceed 20 times per minute"
	default:
		rb.sent = slices.DeleteFunc(rb.sent, func(t time.Time) bool { return !t.After(now.Add(-RobotWindow)) })
		if len(rb.sent) >= RobotLimit {
			rb.throttledUntil = now.Add(RobotThrottle)
			code, msg = 130101, "send too fast, exceed 20 times per minute"
			break
		}
		rb.sent = append(rb.sent, now)
		msg = "ok"
	}
	if code == 130101 {
		rb.throttled++
	}
	return oldAPI(code, msg)
}

// signed reports whether sign is the signature of timestamp, and
// timestamp is within an hour of now.
func signed(secret, timestamp, sign string, now time.Time) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.UnixMilli(ts)); d >= time.Hour || d <= -time.Hour {
		return false
	}
	return hmac.Equal([]byte(sign), []byte(Sign(secret, ts)))
}

// parseRobotMessage decodes the body of a robot webhook call; code is the
// errcode to answer when it is not a message.
func parseRobotMessage(body []byte) (m RobotMessage, code int, errmsg string) {
	var b struct {
		MsgType string `json:"msgtype"`
		Text    *struct {
			Content string `json:"content"`
		} `json:"text"`
		Markdown *struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		} `json:"markdown"`
		ActionCard *struct {
			Title       string `json:"title"`
			Text        string `json:"text"`
			SingleTitle string `json:"singleTitle"`
			SingleURL   string `json:"singleURL"`
			Btns        []struct {
				Title     string `json:"title"`
				ActionURL string `json:"actionURL"`
			} `json:"btns"`
		} `json:"actionCard"`
		Link *struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		} `json:"link"`
		At *struct {
			AtMobiles []string `json:"atMobiles"`
			AtUserIDs []string `json:"atUserIds"`
			IsAtAll   bool     `json:"isAtAll"`
		} `json:"at"`
	}
	if err := decode(body, &b); err != nil {
		return m, 40035, "缺少参数 json"
	}
	m.MsgType = b.MsgType
	if b.At != nil {
		m.AtMobiles, m.AtUserIDs, m.IsAtAll = b.At.AtMobiles, b.At.AtUserIDs, b.At.IsAtAll
	}
	missing := func(what string) (RobotMessage, int, string) { return m, 40035, "缺少参数 " + what }
	switch b.MsgType {
	case "text":
		if b.Text == nil || b.Text.Content == "" {
			return missing("text.content")
		}
		m.Text = b.Text.Content
	case "markdown":
		if b.Markdown == nil || b.Markdown.Title == "" || b.Markdown.Text == "" {
			return missing("markdown.title/markdown.text")
		}
		m.Title, m.Text = b.Markdown.Title, b.Markdown.Text
	case "actionCard":
		if b.ActionCard == nil || b.ActionCard.Title == "" || b.ActionCard.Text == "" {
			return missing("actionCard.title/actionCard.text")
		}
		ac := b.ActionCard
		m.Title, m.Text = ac.Title, ac.Text
		if ac.SingleTitle != "" {
			m.Buttons = append(m.Buttons, Button{Title: ac.SingleTitle, URL: ac.SingleURL})
		}
		for _, btn := range ac.Btns {
			m.Buttons = append(m.Buttons, Button{Title: btn.Title, URL: btn.ActionURL})
		}
	case "link":
		if b.Link == nil || b.Link.Title == "" {
			return missing("link.title")
		}
		m.Title, m.Text = b.Link.Title, b.Link.Text
	case "":
		return missing("msgtype")
	default:
		return m, 40035, "不支持的msgtype: " + b.MsgType
	}
	return m, 0, ""
}
