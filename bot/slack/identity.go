package slack

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/pipeline"
)

// actor is who a Slack user acts as: the ferry user whose chat.slack is
// their ID in ferry.yaml, else the user they linked, as long as ferry.yaml
// still has that user. known is false for anyone else.
func (a *Adapter) actor(ctx context.Context, slackID string) (pipeline.Actor, bool, error) {
	if slackID == "" {
		return pipeline.Actor{}, false, nil
	}
	if u, ok := a.users.UserByChat(platform, slackID); ok {
		return a.users.Actor(u.Name), true, nil
	}
	l, err := a.store.ChatLink(ctx, platform, slackID)
	if errors.Is(err, pipeline.ErrNotFound) {
		return pipeline.Actor{}, false, nil
	}
	if err != nil {
		return pipeline.Actor{}, false, err
	}
	if _, ok := a.users.User(l.User); !ok {
		return pipeline.Actor{}, false, nil
	}
	return a.users.Actor(l.User), true, nil
}

// slackID returns the Slack ID of a ferry user: from ferry.yaml, else their
// newest link; "" when they have none.
func (a *Adapter) slackID(ctx context.Context, user string) string {
	if u, ok := a.users.User(user); ok && u.Chat[platform] != "" {
		return u.Chat[platform]
	}
	ls, err := a.store.ChatLinksOf(ctx, platform, user)
	if err != nil {
		a.logErr(ctx, "links of a user", err, "actor", user)
		return ""
	}
	if len(ls) == 0 {
		return ""
	}
	return ls[0].ChatID
}

// linking reports whether the link command works: it needs the console's
// address and a key to sign tokens.
func (a *Adapter) linking() bool { return a.baseURL != "" && len(a.linkKey) > 0 }

// linkReply answers the link command with a one-time address on the web
// console, to the person alone.
func (a *Adapter) linkReply(r request) bot.Reply {
	if !a.linking() {
		return bot.Reply{Text: "Linking is not set up on this ferry: ask an admin to add your Slack ID (" + r.user + ") to ferry.yaml as chat: {slack: " + r.user + "}.", Ephemeral: true}
	}
	token := a.linkToken(r.user, r.team, a.clock.Now().Add(linkTTL))
	return bot.Reply{Text: linkText(a.baseURL + "/link/" + token), Ephemeral: true}
}

func linkText(url string) string {
	return "Open " + url + " within 10 minutes, sign in as your ferry user and confirm: from then on ferry knows who you are here. The address works once; keep it to yourself."
}

// unknownReply tells someone ferry does not know how to become known.
func unknownReply(linking bool) bot.Reply {
	text := "ferry does not know who you are in Slack yet, so it did nothing. "
	if linking {
		text += "Say /ferry link to link your Slack account to your ferry user, or ask an admin to add your Slack ID to ferry.yaml."
	} else {
		text += "Ask an admin to add your Slack ID to ferry.yaml (users.<you>.chat.slack)."
	}
	return bot.Reply{Text: text, Error: true, Ephemeral: true, Kind: bot.KindForbidden}
}

// A link token is base64url("v1|user|team|expiry|nonce") "." base64url(mac),
// the mac an HMAC-SHA256 under the link key of "slack-link|" and the payload.
var b64 = base64.RawURLEncoding

type linkClaim struct {
	user, team string
	expires    time.Time
	nonce      string
}

func (a *Adapter) linkToken(user, team string, expires time.Time) string {
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce) // never fails
	payload := strings.Join([]string{"v1", user, team, strconv.FormatInt(expires.Unix(), 10), b64.EncodeToString(nonce)}, "|")
	return b64.EncodeToString([]byte(payload)) + "." + a.linkMAC(payload)
}

func (a *Adapter) linkMAC(payload string) string {
	m := hmac.New(sha256.New, a.linkKey)
	m.Write([]byte("slack-link|" + payload))
	return b64.EncodeToString(m.Sum(nil))
}

var errLinkInvalid = fmt.Errorf("%w: this link address is not valid or has expired; say /ferry link in Slack for a new one", pipeline.ErrInvalid)

// claim verifies a token in constant time and reads it.
func (a *Adapter) claim(token string) (linkClaim, error) {
	if !a.linking() {
		return linkClaim{}, errLinkInvalid
	}
	enc, mac, ok := strings.Cut(token, ".")
	raw, err := b64.DecodeString(enc)
	if !ok || err != nil || !hmac.Equal([]byte(mac), []byte(a.linkMAC(string(raw)))) {
		return linkClaim{}, errLinkInvalid
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 5 || parts[0] != "v1" || parts[1] == "" {
		return linkClaim{}, errLinkInvalid
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || !a.clock.Now().Before(time.Unix(exp, 0)) {
		return linkClaim{}, errLinkInvalid
	}
	return linkClaim{user: parts[1], team: parts[2], expires: time.Unix(exp, 0), nonce: parts[4]}, nil
}

func (c linkClaim) account() string {
	if c.team == "" {
		return "the Slack account " + c.user
	}
	return "the Slack account " + c.user + " of workspace " + c.team
}

// CheckLink implements bot/web's Linker: it verifies a link token and names
// the Slack account it links.
func (a *Adapter) CheckLink(token string) (string, error) {
	c, err := a.claim(token)
	if err != nil {
		return "", err
	}
	return c.account(), nil
}

// linkPlatform keeps the nonces of used link addresses in the inbox.
const linkPlatform = "slack-link"

// Link implements bot/web's Linker: it links the Slack account of a valid
// token to user, once per token, unless ferry.yaml says the account is
// someone else. The link is audited.
func (a *Adapter) Link(ctx context.Context, token, user string) error {
	c, err := a.claim(token)
	if err != nil {
		return err
	}
	if u, ok := a.users.UserByChat(platform, c.user); ok && u.Name != user {
		return fmt.Errorf("%w: ferry.yaml says %s is %s; a link cannot change that, ask an admin", pipeline.ErrConflict, c.account(), u.Name)
	}
	// A link address is used once: its nonce is a delivery of its own
	// platform, never handled, only remembered.
	receipt, err := a.store.Receive(ctx, pipeline.Delivery{Platform: linkPlatform, ID: c.nonce, Event: "link"}, 0)
	if err == nil && receipt == pipeline.Received {
		err = a.store.FinishDelivery(ctx, linkPlatform, c.nonce, "linked "+c.account())
	}
	if err != nil {
		return fmt.Errorf("link %s: %w", c.account(), err)
	}
	if receipt != pipeline.Received {
		return fmt.Errorf("%w: this link address was used already; say /ferry link in Slack for a new one", pipeline.ErrConflict)
	}
	if err := a.store.PutChatLink(ctx, pipeline.ChatLink{Platform: platform, ChatID: c.user, User: user}); err != nil {
		return fmt.Errorf("link %s: %w", c.account(), err)
	}
	if err := a.store.Audit(ctx, pipeline.AuditEntry{At: a.clock.Now(), Actor: user, Action: "link", Detail: "slack " + c.user + " " + c.team}); err != nil {
		a.logErr(ctx, "audit link", err, "actor", user)
	}
	a.log.InfoContext(ctx, "slack: account linked", "platform", platform, "actor", user, "slack_user", c.user)
	return nil
}
