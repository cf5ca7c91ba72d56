package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/ferrybot/ferry/pipeline"
)

// An ingress handler reads a verified body and returns the requests in it
// and what to answer Slack with; reply nil means an empty 200.
type ingressFunc func(body []byte) (reqs []request, delivery string, reply []byte, err error)

// ingress verifies, caps, deduplicates and acknowledges a request, then
// runs what it asks on Run's goroutines: a request without a timely,
// well-formed signature is refused before its body is read, and the body
// is written through the MAC as it arrives.
func (a *Adapter) ingress(kind string, parse ingressFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		claimed, mac, err := signed(a.secret, r.Header.Get("X-Slack-Request-Timestamp"), r.Header.Get("X-Slack-Signature"), a.clock.Now())
		if err != nil {
			a.refused.Refuse(ctx, err.Error(), "route", kind)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		body, release, ok := a.gate.Read(w, r, maxBody, mac, a.refused)
		if !ok {
			return
		}
		defer release()
		if err := verified(mac, claimed); err != nil {
			a.refused.Refuse(ctx, err.Error(), "route", kind)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		reqs, delivery, reply, err := parse(body)
		if err != nil {
			a.log.WarnContext(ctx, "slack: unreadable request", "platform", platform, "route", kind, "err", err)
			http.Error(w, "unreadable request", http.StatusBadRequest)
			return
		}
		if len(reqs) > 0 {
			if err := a.accept(ctx, kind, delivery, reqs); err != nil {
				a.logErr(ctx, "store a request", err, "delivery", delivery)
				http.Error(w, "ferry could not store the request; try again", http.StatusInternalServerError)
				return
			}
		}
		if reply != nil {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(reply)
	}
}

// accept stores the requests of a delivery in the inbox, which has them
// handled after the delivery is acknowledged. What is stored is the
// requests, not the body: the body carries Slack's legacy verification
// token, which ferry does not keep.
func (a *Adapter) accept(ctx context.Context, kind, delivery string, reqs []request) error {
	body, err := json.Marshal(storedRequests(reqs))
	if err != nil {
		return err
	}
	receipt, err := a.inbox.Accept(ctx, pipeline.Delivery{ID: delivery, Event: kind, Body: body, Received: a.clock.Now()})
	if err == nil && receipt != pipeline.Received {
		a.log.InfoContext(ctx, "slack: ignored a redelivery", "platform", platform, "delivery", delivery)
	}
	return err
}

// hashOf names a body for deduplication.
func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func (a *Adapter) serveCommand(body []byte) ([]request, string, []byte, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, "", nil, err
	}
	c := slackapi.SlashCommand{
		TeamID: v.Get("team_id"), ChannelID: v.Get("channel_id"), UserID: v.Get("user_id"),
		Command: v.Get("command"), Text: v.Get("text"), ResponseURL: v.Get("response_url"), TriggerID: v.Get("trigger_id"),
	}
	req, delivery := commandRequest(c)
	if delivery == "" {
		delivery = "command:" + hashOf(body)
	}
	return []request{req}, delivery, nil, nil
}

func (a *Adapter) serveInteraction(body []byte) ([]request, string, []byte, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, "", nil, err
	}
	var cb slackapi.InteractionCallback
	if err := json.Unmarshal([]byte(v.Get("payload")), &cb); err != nil {
		return nil, "", nil, err
	}
	reqs, delivery := actionRequests(cb)
	if delivery == "" {
		delivery = "interaction:" + hashOf(body)
	}
	return reqs, delivery, nil, nil
}

func (a *Adapter) serveEvent(body []byte) ([]request, string, []byte, error) {
	var outer struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		return nil, "", nil, err
	}
	if outer.Type == slackevents.URLVerification {
		// As Slack documents it: slackevents.ChallengeResponse has no
		// JSON tag, and would answer "Challenge".
		reply, err := json.Marshal(struct {
			Challenge string `json:"challenge"`
		}{outer.Challenge})
		return nil, "", reply, err
	}
	ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
	if err != nil {
		return nil, "", nil, nil // an event ferry does not subscribe to: acknowledge and ignore
	}
	req, delivery, ok := mentionRequest(ev)
	if !ok {
		return nil, "", nil, nil
	}
	return []request{req}, delivery, nil, nil
}
