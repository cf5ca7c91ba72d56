package bot_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
)

// TestAccountsLinks links a DingTalk account with a link address, and
// refuses an address that is forged, expired, used twice, or that would
// take an account ferry.yaml gives someone else.
func TestAccountsLinks(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	users := &config.Config{Users: []pipeline.User{
		{Name: "alice", Chat: map[string]string{"dingtalk": "0420297"}},
		{Name: "carol"},
	}}
	clock := clockwork.NewFakeClockAt(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	accounts, err := bot.NewAccounts(bot.AccountsConfig{Users: users, Store: st, BaseURL: "https://ferry.example.com/", Key: []byte(strings.Repeat("k", 32)), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	token := func(platform, id, workspace string) string {
		addr := accounts.LinkAddress(platform, id, workspace)
		if !strings.HasPrefix(addr, "https://ferry.example.com/link/") {
			t.Fatalf("link address %q", addr)
		}
		return strings.TrimPrefix(addr, "https://ferry.example.com/link/")
	}
	if _, known, _ := accounts.Actor(ctx, "dingtalk", "0990001"); known {
		t.Fatal("an account nobody linked is known")
	}
	carol := token("dingtalk", "0990001", "ding6741")
	if account, err := accounts.CheckLink(carol); err != nil || account != "the DingTalk account 0990001 of organization ding6741" {
		t.Fatalf("CheckLink = %q, %v", account, err)
	}
	if err := accounts.Link(ctx, carol, "carol"); err != nil {
		t.Fatal(err)
	}
	if a, known, err := accounts.Actor(ctx, "dingtalk", "0990001"); err != nil || !known || a.Name != "carol" {
		t.Fatalf("after linking: %+v %v %v", a, known, err)
	}
	if id := accounts.ChatID(ctx, "dingtalk", "carol"); id != "0990001" {
		t.Fatalf("ChatID = %q", id)
	}
	if id := accounts.ChatID(ctx, "dingtalk", "alice"); id != "0420297" {
		t.Fatalf("ChatID from ferry.yaml = %q", id)
	}
	if err := accounts.Link(ctx, carol, "carol"); !errors.Is(err, pipeline.ErrConflict) {
		t.Fatalf("an address used twice: %v", err)
	}
	if err := accounts.Link(ctx, token("dingtalk", "0420297", ""), "carol"); !errors.Is(err, pipeline.ErrConflict) {
		t.Fatalf("taking alice's account: %v", err)
	}
	forged := token("slack", "U1", "T1")
	forged = forged[:len(forged)-2] + "xx"
	if _, err := accounts.CheckLink(forged); !errors.Is(err, pipeline.ErrInvalid) {
		t.Fatalf("a forged token: %v", err)
	}
	late := token("slack", "U1", "T1")
	clock.Advance(bot.LinkTTL)
	if _, err := accounts.CheckLink(late); !errors.Is(err, pipeline.ErrInvalid) {
		t.Fatalf("an expired token: %v", err)
	}
	if off, _ := bot.NewAccounts(bot.AccountsConfig{Users: users, Store: st}); off.Linking() || off.LinkAddress("slack", "U1", "") != "" {
		t.Fatal("without a key, linking is offered")
	}
}
