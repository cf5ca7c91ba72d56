package workspace_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/targets/workspace"
)

func TestCheckURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	withPassword := strings.Replace(srv.URL, "http://", "http://ops:s3cret@", 1)
	ctx := context.Background()

	var log bytes.Buffer
	if err := workspace.CheckURL(ctx, srv.Client(), withPassword+"/up", &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "200 OK") || strings.Contains(log.String(), "s3cret") {
		t.Errorf("log = %q, want the status and no password", log.String())
	}

	err := workspace.CheckURL(ctx, srv.Client(), withPassword+"/down", &log)
	if err == nil || !strings.Contains(err.Error(), "503") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("err = %v, want the 503 status and no password", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://ops:s3cret@" + l.Addr().String() + "/"
	l.Close()
	err = workspace.CheckURL(ctx, http.DefaultClient, closed, &log)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("err = %v, want a refused connection and no password", err)
	}
}

func TestCheckWithin(t *testing.T) {
	waits := func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	err := workspace.CheckWithin(context.Background(), time.Millisecond, waits)
	if err == nil || err.Error() != "no answer within 1ms" {
		t.Errorf("timed out: err = %v, want no answer within 1ms", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := workspace.CheckWithin(ctx, time.Hour, waits); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err = %v, want context.Canceled", err)
	}

	fails := errors.New("exit status 1")
	if err := workspace.CheckWithin(context.Background(), time.Hour, func(context.Context) error { return fails }); err != fails {
		t.Errorf("failed: err = %v, want %v", err, fails)
	}
}

func TestCheckURLUnparsableKeepsPasswordOut(t *testing.T) {
	err := workspace.CheckURL(context.Background(), http.DefaultClient, "http://ops:s3cret@[::1/health", io.Discard)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("CheckURL of an unparsable URL: %v", err)
	}
}
