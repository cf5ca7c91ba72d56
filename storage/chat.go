package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// ChatMessage is the message a chat platform keeps up to date for one
// deploy: its deploy card.
type ChatMessage struct {
	Platform string // "slack", …
	DeployID int64
	Channel  string // the channel's ID on the platform
	TS       string // the message's ID on the platform (Slack's ts)
	// Notified is the state the requester was last told about in a direct
	// message; "" for none.
	Notified pipeline.State
	Updated  time.Time // set by the store
}

// ChatMessage returns the message of a deploy on a platform, or an error
// wrapping pipeline.ErrNotFound when it has none.
func (s *SQLite) ChatMessage(ctx context.Context, platform string, deployID int64) (ChatMessage, error) {
	m := ChatMessage{Platform: platform, DeployID: deployID}
	err := s.r.QueryRowContext(ctx, `SELECT channel, ts, notified, updated_at FROM chat_messages
		WHERE platform = ? AND deploy_id = ?`, platform, deployID).Scan(&m.Channel, &m.TS, &m.Notified, scanNanos(&m.Updated))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("%s message of deploy %d: %w", platform, deployID, pipeline.ErrNotFound)
	}
	return m, wrap(fmt.Sprintf("%s message of deploy %d", platform, deployID), err)
}

// PutChatMessage creates or replaces the message of m.DeployID on
// m.Platform. It fails with an error wrapping pipeline.ErrNotFound if the
// deploy does not exist.
func (s *SQLite) PutChatMessage(ctx context.Context, m ChatMessage) error {
	op := fmt.Sprintf("put %s message of deploy %d", m.Platform, m.DeployID)
	if m.Platform == "" || m.Channel == "" || m.TS == "" {
		return fmt.Errorf("%s: %w: want a platform, a channel and a message id", op, pipeline.ErrInvalid)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO chat_messages (platform, deploy_id, channel, ts, notified, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (platform, deploy_id) DO UPDATE SET
			channel = excluded.channel, ts = excluded.ts, notified = excluded.notified, updated_at = excluded.updated_at`,
		m.Platform, m.DeployID, m.Channel, m.TS, m.Notified, nanos(s.now()))
	if err != nil {
		return fmt.Errorf("%s: %w", op, missingDeploy(err, m.DeployID))
	}
	return nil
}

// ChatLink links an account on a chat platform to a ferry user.
type ChatLink struct {
	Platform string // "slack", …
	ChatID   string // the account's ID on the platform
	User     string // the ferry user
	Created  time.Time
}

// ChatLink returns the link of a chat account, or an error wrapping
// pipeline.ErrNotFound when it has none.
func (s *SQLite) ChatLink(ctx context.Context, platform, chatID string) (ChatLink, error) {
	l := ChatLink{Platform: platform, ChatID: chatID}
	err := s.r.QueryRowContext(ctx, `SELECT user, created_at FROM links WHERE platform = ? AND chat_id = ?`,
		platform, chatID).Scan(&l.User, scanNanos(&l.Created))
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("%s account %s is not linked: %w", platform, chatID, pipeline.ErrNotFound)
	}
	return l, wrap(fmt.Sprintf("link of %s account %s", platform, chatID), err)
}

// ChatLinksOf returns the chat accounts on a platform linked to a ferry
// user, the newest link first.
func (s *SQLite) ChatLinksOf(ctx context.Context, platform, user string) ([]ChatLink, error) {
	ls, err := scanAll(ctx, s.r, func(sc scanner) (ChatLink, error) {
		l := ChatLink{Platform: platform, User: user}
		err := sc.Scan(&l.ChatID, scanNanos(&l.Created))
		return l, err
	}, `SELECT chat_id, created_at FROM links WHERE platform = ? AND user = ?
		ORDER BY created_at DESC, chat_id`, platform, user)
	return ls, wrap(fmt.Sprintf("%s links of %s", platform, user), err)
}

// PutChatLink links l.ChatID to l.User, replacing any link the account had;
// a zero l.Created is set to now.
func (s *SQLite) PutChatLink(ctx context.Context, l ChatLink) error {
	op := fmt.Sprintf("link %s account %s to %s", l.Platform, l.ChatID, l.User)
	if l.Platform == "" || l.ChatID == "" || l.User == "" {
		return fmt.Errorf("%s: %w: want a platform, an account and a user", op, pipeline.ErrInvalid)
	}
	if l.Created.IsZero() {
		l.Created = s.now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO links (platform, chat_id, user, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (platform, chat_id) DO UPDATE SET user = excluded.user, created_at = excluded.created_at`,
		l.Platform, l.ChatID, l.User, nanos(l.Created))
	return wrap(op, err)
}
