package bot

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// AccountUsers is what Accounts needs of ferry's configuration;
// *config.Config has it.
type AccountUsers interface {
	UserByChat(platform, id string) (pipeline.User, bool)
	User(name string) (pipeline.User, bool)
	Actor(name string) pipeline.Actor
}

// AccountStore keeps the links people made; *storage.Store has it.
type AccountStore interface {
	ChatLink(ctx context.Context, platform, chatID string) (pipeline.ChatLink, error)
	ChatLinksOf(ctx context.Context, platform, user string) ([]pipeline.ChatLink, error)
	PutChatLink(ctx context.Context, l pipeline.ChatLink) error
	Receive(ctx context.Context, d pipeline.Delivery, lease time.Duration) (pipeline.Receipt, error)
	FinishDelivery(ctx context.Context, platform, id, outcome string) error
	Audit(ctx context.Context, e pipeline.AuditEntry) error
}

// AccountsConfig is what Accounts needs.
type AccountsConfig struct {
	Users AccountUsers // required
	Store AccountStore // required
	// BaseURL is ferry's web console, where link addresses point; "" or
	// no Key: linking is not offered.
	BaseURL string
	// Key signs link tokens, at least 32 bytes.
	Key    []byte
	Clock  pipeline.Clock // nil: the system clock
	Logger *slog.Logger   // nil: discard
}

// Accounts says who a chat account is, for every chat: the ferry user
// whose chat.<platform> in ferry.yaml is the account's ID or, failing
// that, the user who linked it. Linking is the link command's one-time
// address on the web console: a token signed with the link key that names
// the chat, the account and its workspace, valid 10 minutes, used once.
// Accounts is bot/web's Linker, for the tokens of every chat.
type Accounts struct {
	users   AccountUsers
	store   AccountStore
	baseURL string
	key     []byte
	clock   pipeline.Clock
	log     *slog.Logger
}

// LinkTTL is how long a link address works.
const LinkTTL = 10 * time.Minute

// NewAccounts checks cfg and returns Accounts.
func NewAccounts(cfg AccountsConfig) (*Accounts, error) {
	switch {
	case cfg.Users == nil || cfg.Store == nil:
		return nil, errors.New("accounts: Users and Store are required")
	case len(cfg.Key) > 0 && len(cfg.Key) < 32:
		return nil, errors.New("accounts: the link key must be at least 32 bytes")
	}
	a := &Accounts{users: cfg.Users, store: cfg.Store, baseURL: strings.TrimRight(cfg.BaseURL, "/"),
		key: append([]byte(nil), cfg.Key...), clock: cfg.Clock, log: cfg.Logger}
	if a.clock == nil {
		a.clock = pipeline.SystemClock{}
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// Actor is who the account id of a chat acts as: the ferry user whose
// chat.<platform> is id in ferry.yaml, else the user who linked it, as
// long as ferry.yaml still has that user. known is false for anyone else.
func (a *Accounts) Actor(ctx context.Context, platform, id string) (actor pipeline.Actor, known bool, err error) {
	if id == "" {
		return pipeline.Actor{}, false, nil
	}
	if u, ok := a.users.UserByChat(platform, id); ok {
		return a.users.Actor(u.Name), true, nil
	}
	l, err := a.store.ChatLink(ctx, platform, id)
	if errors.Is(err, pipeline.ErrNotFound) {
		return pipeline.Actor{}, false, nil
	}
	if err != nil {
		return pipeline.Actor{}, false, fmt.Errorf("the %s account %s: %w", platformName(platform), id, err)
	}
	if _, ok := a.users.User(l.User); !ok {
		return pipeline.Actor{}, false, nil
	}
	return a.users.Actor(l.User), true, nil
}

// ChatID is the account of a ferry user on a chat: from ferry.yaml, else
// their newest link; "" when they have none.
func (a *Accounts) ChatID(ctx context.Context, platform, user string) string {
	if u, ok := a.users.User(user); ok && u.Chat[platform] != "" {
		return u.Chat[platform]
	}
	ls, err := a.store.ChatLinksOf(ctx, platform, user)
	if err != nil {
		a.log.ErrorContext(ctx, "accounts: links of a user", "platform", platform, "actor", user, "err", err)
		return ""
	}
	if len(ls) == 0 {
		return ""
	}
	return ls[0].ChatID
}

// Linking reports whether the link command works: it needs the console's
// address and a key to sign tokens.
func (a *Accounts) Linking() bool { return a.baseURL != "" && len(a.key) > 0 }

// LinkAddress is a one-time address on the web console that links the
// account id (of workspace, "" when the chat has none) to whoever signs in
// there and confirms; "" when linking is not offered.
func (a *Accounts) LinkAddress(platform, id, workspace string) string {
	if !a.Linking() {
		return ""
	}
	return a.baseURL + "/link/" + a.token(platform, id, workspace, a.clock.Now().Add(LinkTTL))
}

// LinkText says what to do with a link address, in any chat.
func LinkText(address string) string {
	return "Open " + address + " within 10 minutes, sign in as your ferry user and confirm: from then on ferry knows who you are here. The address works once; keep it to yourself."
}

// A link token is base64url("v2|platform|id|workspace|expiry|nonce") "."
// base64url(mac), the mac an HMAC-SHA256 under the link key of
// "ferry-link|" and the payload.
var b64 = base64.RawURLEncoding

type linkClaim struct {
	platform, id, workspace string
	expires                 time.Time
	nonce                   string
}

func (a *Accounts) token(platform, id, workspace string, expires time.Time) string {
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce) // never fails
	payload := strings.Join([]string{"v2", platform, id, workspace, strconv.FormatInt(expires.Unix(), 10), b64.EncodeToString(nonce)}, "|")
	return b64.EncodeToString([]byte(payload)) + "." + a.mac(payload)
}

func (a *Accounts) mac(payload string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte("ferry-link|" + payload))
	return b64.EncodeToString(m.Sum(nil))
}

var errLinkInvalid = fmt.Errorf("%w: this link address is not valid or has expired; say link to ferry in your chat for a new one", pipeline.ErrInvalid)

// claim verifies a token in constant time and reads it.
func (a *Accounts) claim(token string) (linkClaim, error) {
	if !a.Linking() {
		return linkClaim{}, errLinkInvalid
	}
	enc, mac, ok := strings.Cut(token, ".")
	raw, err := b64.DecodeString(enc)
	if !ok || err != nil || !hmac.Equal([]byte(mac), []byte(a.mac(string(raw)))) {
		return linkClaim{}, errLinkInvalid
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 6 || parts[0] != "v2" || parts[1] == "" || parts[2] == "" {
		return linkClaim{}, errLinkInvalid
	}
	exp, err := strconv.ParseInt(parts[4], 10, 64)
	if err != nil || !a.clock.Now().Before(time.Unix(exp, 0)) {
		return linkClaim{}, errLinkInvalid
	}
	return linkClaim{platform: parts[1], id: parts[2], workspace: parts[3], expires: time.Unix(exp, 0), nonce: parts[5]}, nil
}

// account names the account of a claim, as the console shows it.
func (c linkClaim) account() string {
	s := "the " + platformName(c.platform) + " account " + c.id
	if c.workspace == "" {
		return s
	}
	if c.platform == "slack" {
		return s + " of workspace " + c.workspace
	}
	return s + " of organization " + c.workspace
}

// platformName is how people write a chat's name.
func platformName(platform string) string {
	switch platform {
	case "slack":
		return "Slack"
	case "dingtalk":
		return "DingTalk"
	}
	return platform
}

// CheckLink implements bot/web's Linker: it verifies a link token and names
// the chat account it links.
func (a *Accounts) CheckLink(token string) (string, error) {
	c, err := a.claim(token)
	if err != nil {
		return "", err
	}
	return c.account(), nil
}

// Link implements bot/web's Linker: it links the chat account of a valid
// token to user, once per token, unless ferry.yaml says the account is
// someone else. The link is audited.
func (a *Accounts) Link(ctx context.Context, token, user string) error {
	c, err := a.claim(token)
	if err != nil {
		return err
	}
	if u, ok := a.users.UserByChat(c.platform, c.id); ok && u.Name != user {
		return fmt.Errorf("%w: ferry.yaml says %s is %s; a link cannot change that, ask an admin", pipeline.ErrConflict, c.account(), u.Name)
	}
	// A link address is used once: its nonce is a delivery of its own
	// platform ("slack-link", …), never handled, only remembered.
	nonces := c.platform + "-link"
	receipt, err := a.store.Receive(ctx, pipeline.Delivery{Platform: nonces, ID: c.nonce, Event: "link"}, 0)
	if err == nil && receipt == pipeline.Received {
		err = a.store.FinishDelivery(ctx, nonces, c.nonce, "linked "+c.account())
	}
	if err != nil {
		return fmt.Errorf("link %s: %w", c.account(), err)
	}
	if receipt != pipeline.Received {
		return fmt.Errorf("%w: this link address was used already; say link to ferry in your chat for a new one", pipeline.ErrConflict)
	}
	if err := a.store.PutChatLink(ctx, pipeline.ChatLink{Platform: c.platform, ChatID: c.id, User: user}); err != nil {
		return fmt.Errorf("link %s: %w", c.account(), err)
	}
	if err := a.store.Audit(ctx, pipeline.AuditEntry{At: a.clock.Now(), Actor: user, Action: "link", Detail: strings.TrimSpace(c.platform + " " + c.id + " " + c.workspace)}); err != nil {
		a.log.ErrorContext(ctx, "accounts: audit a link", "platform", c.platform, "actor", user, "err", err)
	}
	a.log.InfoContext(ctx, "accounts: account linked", "platform", c.platform, "actor", user, "chat_user", c.id)
	return nil
}
