package dingtalk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// message is a robot message (a robot's callback, HTTP or Stream) as
// ferry keeps it in the inbox: who said what where, and where to answer.
type message struct {
	ID               string `json:"msgId"`
	Conversation     string `json:"conversationId"`
	ConversationType string `json:"conversationType"` // "1": a 1:1 chat with the robot; "2": a group
	Title            string `json:"conversationTitle,omitempty"`
	Sender           string `json:"senderStaffId"` // the enterprise userId
	SenderNick       string `json:"senderNick"`
	Corp             string `json:"senderCorpId"`
	MsgType          string `json:"msgtype"`
	Text             struct {
		Content string `json:"content"`
	} `json:"text"`
	Content        json.RawMessage `json:"content,omitempty"` // richText
	SessionWebhook string          `json:"sessionWebhook"`
	SessionExpires int64           `json:"sessionWebhookExpiredTime"` // ms
}

// group reports whether the message was said in a group.
func (m message) group() bool { return m.ConversationType == "2" }

// command is the text after the @-mention: DingTalk leaves it out of a
// group message's text, and a rich text's words are joined.
func (m message) command() string {
	switch m.MsgType {
	case "text":
		return strings.TrimSpace(m.Text.Content)
	case "richText":
		var rt struct {
			RichText []struct {
				Text string `json:"text"`
			} `json:"richText"`
		}
		_ = json.Unmarshal(m.Content, &rt)
		var words []string
		for _, p := range rt.RichText {
			if t := strings.TrimSpace(p.Text); t != "" {
				words = append(words, t)
			}
		}
		return strings.Join(words, " ")
	}
	return ""
}

// click is a card callback: someone pressed a button on a deploy's card.
type click struct {
	OutTrackID string `json:"outTrackId"`
	UserID     string `json:"userId"` // the enterprise userId of who pressed it
	CorpID     string `json:"corpId"`
	Type       string `json:"type"`
	Content    string `json:"content"` // {"cardPrivateData":{"actionIds":[…],"params":{…}}}
}

// action is the button pressed: the template's callback passes
// params.action; actionIds name it otherwise.
func (c click) action() string {
	var data struct {
		Private struct {
			ActionIDs []string       `json:"actionIds"`
			Params    map[string]any `json:"params"`
		} `json:"cardPrivateData"`
	}
	_ = json.Unmarshal([]byte(c.Content), &data)
	if s, ok := data.Private.Params["action"].(string); ok && s != "" {
		return s
	}
	if len(data.Private.ActionIDs) > 0 {
		return data.Private.ActionIDs[0]
	}
	return ""
}

// errSignature is every refused signature's answer: what was wrong is
// counted and logged, not told.
var errSignature = errors.New("invalid signature")

// signed checks an HTTP callback's timestamp and sign headers, before its
// body is read: the timestamp (ms) within an hour of now, and sign the
// Base64 HMAC-SHA256 of "timestamp\nsecret" under the app's secret,
// compared in constant time. The signature covers no body.
func signed(secret []byte, timestamp, sign string, now time.Time) error {
	switch {
	case timestamp == "" || sign == "":
		return errors.New("missing timestamp or sign header")
	}
	ms, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("timestamp is not a number")
	}
	if skew := now.Sub(time.UnixMilli(ms)); skew > maxSkew || skew < -maxSkew {
		return errors.New("stale timestamp")
	}
	if !hmac.Equal([]byte(sign), []byte(signature(secret, timestamp))) {
		return errors.New("signature mismatch")
	}
	return nil
}

// signature is DingTalk's sign of a timestamp: Base64(HMAC-SHA256(key =
// secret, msg = timestamp + "\n" + secret)), for callbacks and custom
// robots alike.
func signature(secret []byte, timestamp string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp + "\n"))
	m.Write(secret)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// serveHTTP is POST /chat/dingtalk: a robot message or a card callback.
// It is stored in the inbox, deduplicated by its msgId (a callback by its
// body) and by a hash of its body, and answered 200 at once.
func (a *Adapter) serveHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := signed(a.secret, r.Header.Get("timestamp"), r.Header.Get("sign"), a.clock.Now()); err != nil {
		a.refused.Refuse(ctx, err.Error(), "route", "callback")
		http.Error(w, errSignature.Error(), http.StatusUnauthorized)
		return
	}
	body, release, ok := a.gate.Read(w, r, maxBody, io.Discard, a.refused)
	if !ok {
		return
	}
	defer release()
	d, err := a.delivery(body, "")
	if err != nil {
		a.log.WarnContext(ctx, "dingtalk: unreadable callback", "platform", platform, "err", err)
		http.Error(w, "unreadable callback: "+err.Error(), http.StatusBadRequest)
		return
	}
	d.Hash = bodyHash(body)
	if err := a.accept(ctx, d); err != nil {
		a.logErr(ctx, "store a callback", err, "delivery", d.ID)
		http.Error(w, "ferry could not store the callback; try again", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("{}"))
}

// delivery reads a robot message or a card callback into what the inbox
// keeps. frameID is the Stream frame's messageId ("" over HTTP), which
// names a card callback.
func (a *Adapter) delivery(body []byte, frameID string) (pipeline.Delivery, error) {
	var probe struct {
		MsgID      string `json:"msgId"`
		OutTrackID string `json:"outTrackId"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return pipeline.Delivery{}, errors.New("not JSON")
	}
	now := a.clock.Now()
	switch {
	case probe.MsgID != "":
		var m message
		if err := json.Unmarshal(body, &m); err != nil {
			return pipeline.Delivery{}, errors.New("not a robot message")
		}
		stored, _ := json.Marshal(m)
		return pipeline.Delivery{ID: "msg:" + m.ID, Event: "message", Body: stored, Received: now}, nil
	case probe.OutTrackID != "":
		var c click
		if err := json.Unmarshal(body, &c); err != nil || c.UserID == "" {
			return pipeline.Delivery{}, errors.New("a card callback without its userId")
		}
		stored, _ := json.Marshal(c)
		id := "card:" + frameID
		if frameID == "" {
			id = "card:" + hex.EncodeToString(bodyHash(body)[:16])
		}
		return pipeline.Delivery{ID: id, Event: "card", Body: stored, Received: now}, nil
	}
	return pipeline.Delivery{}, errors.New("neither a robot message (msgId) nor a card callback (outTrackId)")
}

func bodyHash(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

// accept stores a delivery in the inbox, which has it handled after it is
// acknowledged; a redelivery is acknowledged and ignored.
func (a *Adapter) accept(ctx context.Context, d pipeline.Delivery) error {
	receipt, err := a.inbox.Accept(ctx, d)
	if err == nil && receipt != pipeline.Received {
		a.log.InfoContext(ctx, "dingtalk: ignored a redelivery", "platform", platform, "delivery", d.ID, "receipt", receipt.String())
	}
	return err
}
