package storage

import (
	"context"
	"errors"
	"testing"

	"github.com/ferrybot/ferry/pipeline"
)

func TestChatLinks(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if _, err := s.ChatLink(ctx, "slack", "U1"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("ChatLink before any = %v; want ErrNotFound", err)
	}
	must(t, s.PutChatLink(ctx, pipeline.ChatLink{Platform: "slack", ChatID: "U1", User: "bob"}))
	must(t, s.PutChatLink(ctx, pipeline.ChatLink{Platform: "slack", ChatID: "U2", User: "carol"}))
	must(t, s.PutChatLink(ctx, pipeline.ChatLink{Platform: "slack", ChatID: "U2", User: "bob"})) // relinked
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
	if err := s.PutChatLink(ctx, pipeline.ChatLink{Platform: "slack", ChatID: "U3"}); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("a link without a user = %v; want ErrInvalid", err)
	}
}
