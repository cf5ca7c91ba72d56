package storage

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ferrybot/ferry/pipeline"
)

func TestChatMessages(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	id := newDeploy(t, s)
	if _, err := s.ChatMessage(ctx, "slack", id); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("ChatMessage before any = %v; want ErrNotFound", err)
	}
	must(t, s.PutChatMessage(ctx, ChatMessage{Platform: "slack", DeployID: id, Channel: "C1", TS: "1.000100"}))
	must(t, s.PutChatMessage(ctx, ChatMessage{Platform: "slack", DeployID: id, Channel: "C1", TS: "1.000100", Notified: pipeline.StateSucceeded}))
	m, err := s.ChatMessage(ctx, "slack", id)
	if err != nil || m.Channel != "C1" || m.TS != "1.000100" || m.Notified != pipeline.StateSucceeded || m.Updated.IsZero() {
		t.Fatalf("ChatMessage = %+v, %v", m, err)
	}
	if _, err := s.ChatMessage(ctx, "dingtalk", id); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("another platform's message = %v; want ErrNotFound", err)
	}
	if err := s.PutChatMessage(ctx, ChatMessage{Platform: "slack", DeployID: 999, Channel: "C1", TS: "1"}); !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("message of a missing deploy = %v; want ErrNotFound", err)
	}
	if err := s.PutChatMessage(ctx, ChatMessage{Platform: "slack", DeployID: id}); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("message without a ts = %v; want ErrInvalid", err)
	}
}

func TestChatMessageSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ferry.db")
	s := openAt(t, path)
	id := newDeploy(t, s)
	must(t, s.PutChatMessage(ctx, ChatMessage{Platform: "slack", DeployID: id, Channel: "C9", TS: "9.9"}))
	s.Close()
	s2 := openAt(t, path)
	if m, err := s2.ChatMessage(ctx, "slack", id); err != nil || m.TS != "9.9" {
		t.Fatalf("after reopening: %+v, %v", m, err)
	}
}

func TestChatLinks(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if _, err := s.ChatLink(ctx, "slack", "U1"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("ChatLink before any = %v; want ErrNotFound", err)
	}
	must(t, s.PutChatLink(ctx, ChatLink{Platform: "slack", ChatID: "U1", User: "bob"}))
	must(t, s.PutChatLink(ctx, ChatLink{Platform: "slack", ChatID: "U2", User: "carol"}))
	must(t, s.PutChatLink(ctx, ChatLink{Platform: "slack", ChatID: "U2", User: "bob"})) // relinked
	if l, err := s.ChatLink(ctx, "slack", "U2"); err != nil || l.User != "bob" || l.Created.IsZero() {
		t.Fatalf("ChatLink(U2) = %+v, %v; want bob", l, err)
	}
	ls, err := s.ChatLinksOf(ctx, "slack", "bob")
	if err != nil || len(ls) != 2 || ls[0].ChatID != "U2" || ls[1].ChatID != "U1" {
		t.Fatalf("ChatLinksOf(bob) = %+v, %v; want U2 then U1", ls, err)
	}
	if ls, err := s.ChatLinksOf(ctx, "slack", "carol"); err != nil || len(ls) != 0 {
		t.Errorf("ChatLinksOf(carol) = %+v, %v; want none", ls, err)
	}
	if err := s.PutChatLink(ctx, ChatLink{Platform: "slack", ChatID: "U3"}); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("a link without a user = %v; want ErrInvalid", err)
	}
}
