package bot

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRefusalsBoundTheLog(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	r := &Refusals{Platform: "github", Log: slog.New(slog.NewTextHandler(&out, nil)), Now: func() time.Time { return now }}
	for range 1000 {
		r.Refuse(context.Background(), "signature mismatch")
	}
	r.Refuse(context.Background(), "missing signature")
	now = now.Add(10 * time.Second)
	r.Refuse(context.Background(), "signature mismatch")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged %d lines for 1002 refusals in 10 s; want 2:\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[1], "not_logged_since_last=1000") {
		t.Errorf("the second line %q does not say how many were not logged", lines[1])
	}
	if got := fmt.Sprint(r.Counts()); got != "[{missing signature 1} {signature mismatch 1001}]" {
		t.Errorf("counts %s", got)
	}
}
