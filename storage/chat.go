package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ferrybot/ferry/pipeline"
)

// ChatLink returns the link of a chat account, or an error wrapping
// pipeline.ErrNotFound when it has none.
func (s *Store) ChatLink(ctx context.Context, platform, chatID string) (pipeline.ChatLink, error) {
	l := pipeline.ChatLink{Platform: platform, ChatID: chatID}
	err := s.r.QueryRowContext(ctx, `SELECT "user", created_at FROM links WHERE platform = ? AND chat_id = ?`,
		platform, chatID).Scan(&l.User, scanNanos(&l.Created))
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("%s account %s is not linked: %w", platform, chatID, pipeline.ErrNotFound)
	}
	return l, wrap(fmt.Sprintf("link of %s account %s", platform, chatID), err)
}

// ChatLinksOf returns the chat accounts on a platform linked to a ferry
// user, the newest link first.
func (s *Store) ChatLinksOf(ctx context.Context, platform, user string) ([]pipeline.ChatLink, error) {
	ls, err := scanAll(ctx, s.r, func(sc scanner) (pipeline.ChatLink, error) {
		l := pipeline.ChatLink{Platform: platform, User: user}
		err := sc.Scan(&l.ChatID, scanNanos(&l.Created))
		return l, err
	}, `SELECT chat_id, created_at FROM links WHERE platform = ? AND "user" = ?
		ORDER BY created_at DESC, chat_id`, platform, user)
	return ls, wrap(fmt.Sprintf("%s links of %s", platform, user), err)
}

// PutChatLink links l.ChatID to l.User, replacing any link the account had;
// a zero l.Created is set to now.
func (s *Store) PutChatLink(ctx context.Context, l pipeline.ChatLink) error {
	op := fmt.Sprintf("link %s account %s to %s", l.Platform, l.ChatID, l.User)
	if l.Platform == "" || l.ChatID == "" || l.User == "" {
		return fmt.Errorf("%s: %w: want a platform, an account and a user", op, pipeline.ErrInvalid)
	}
	if l.Created.IsZero() {
		l.Created = s.now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO links (platform, chat_id, "user", created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (platform, chat_id) DO UPDATE SET "user" = excluded."user", created_at = excluded.created_at`,
		l.Platform, l.ChatID, l.User, nanos(l.Created))
	return wrap(op, err)
}
