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

	"github.com/ferrybot/ferry/bot"
)

// An ingress handler reads a verified body and returns the requests in it
// and what to answer Slack with; reply nil means an empty 200.
type ingressFunc func(body []byte) (reqs []request, delivery string, reply []byte, err error)

// ingress caps, verifies, deduplicates and acknowledges a request, then
// runs what it asks on Run's goroutines.
func (a *Adapter) ingress(kind string, parse ingressFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		body, ok := bot.ReadBody(w, r, maxBody)
		if !ok {
			return
		}
		if err := verify(a.secret, r.Header.Get("X-Slack-Request-Timestamp"), r.Header.Get("X-Slack-Signature"), body, a.clock.Now()); err != nil {
			a.log.WarnContext(ctx, "slack: refused an unsigned request", "platform", platform, "route", kind, "err", err)
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
			if !a.jobs.Accepting() {
				http.Error(w, "ferry is starting or stopping; try again", http.StatusServiceUnavailable)
				return
			}
			dup, err := a.store.RecordDelivery(ctx, platform, delivery, kind, nil)
			if err != nil {
				a.logErr(ctx, "record delivery", err, "delivery", delivery)
				http.Error(w, "ferry could not record the request", http.StatusInternalServerError)
				return
			}
			if dup {
				a.log.InfoContext(ctx, "slack: ignored a redelivery", "platform", platform, "delivery", delivery)
				reqs = nil
			}
		}
		for _, req := range reqs {
			a.jobs.Go(func(ctx context.Context) { a.process(ctx, req) })
		}
		if reply != nil {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(reply)
	}
}

// hashOf names a body for deduplication.
func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Delivery IDs are kept with storage's RecordDelivery, not the bodies:
// those carry response URLs and Slack's legacy verification token.

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
		reply, err := json.Marshal(slackevents.ChallengeResponse{Challenge: outer.Challenge})
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
