package ssh_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthCommand(t *testing.T) {
	params := func() map[string]any {
		return map[string]any{"health": map[string]any{"command": `test -f healthy && test "$FERRY_HOST" = web1 && test "$FERRY_RELEASE" = 2`}}
	}
	f := newFixture(t, 2, params())
	ctx := testContext(t)
	if err := f.d.Check(ctx, "web1", &stepLog{}); err == nil || err.Error() != "ssh web1: health: no release is current" {
		t.Errorf("check without a release = %v", err)
	}
	f.deploy(t, f.release(t, "1", map[string]string{"index.html": "one"}))
	err := f.d.Check(ctx, "web1", &stepLog{})
	if want := `ssh web1: health: "test -f healthy && test \"$FERRY_HOST\" = web1 && test \"$FERRY_RELEASE\" = 2" exited 1`; err == nil || err.Error() != want {
		t.Errorf("check = %v, want %s", err, want)
	}
	f.deploy(t, f.release(t, "2", map[string]string{"healthy": ""}))
	if err := f.d.Check(ctx, "web1", &stepLog{}); err != nil {
		t.Errorf("check of a healthy host: %v", err)
	}
	if err := f.d.Check(ctx, "web2", &stepLog{}); err == nil {
		t.Error("the health command does not see FERRY_HOST")
	}
	// A new driver, as after a restart, asks the host what runs there.
	if err := f.driver(t, params()).Check(ctx, "web1", &stepLog{}); err != nil {
		t.Errorf("check by a new driver: %v", err)
	}

	none := newFixture(t, 1, map[string]any{})
	if err := none.d.Check(ctx, "web1", &stepLog{}); err != nil {
		t.Errorf("check without a health check = %v", err)
	}
}

// TestTimeouts ends slow commands: the health check after its timeout,
// a hook after step_timeout, and kills what they run on the host, down to
// the processes they started.
func TestTimeouts(t *testing.T) {
	f := newFixture(t, 1, map[string]any{
		"health":       map[string]any{"command": `echo $$ > "$FERRY_HOST_DIR/health.pid"; exec sleep 300`, "timeout": "300ms"},
		"post_release": `sleep 300 & echo $! > "$FERRY_HOST_DIR/hook.pid"; wait`,
		"step_timeout": "300ms",
	})
	ctx := testContext(t)
	r1 := f.release(t, "1", nil)
	if err := f.d.Build(ctx, r1, &stepLog{}); err != nil {
		t.Fatal(err)
	}
	_, err := f.d.Install(ctx, "web1", r1, &stepLog{})
	if want := `ssh web1: post_release: "sleep 300 & echo $! > \"$FERRY_HOST_DIR/hook.pid\"; wait": no answer within step_timeout 300ms`; err == nil || err.Error() != want {
		t.Errorf("install = %v\nwant %s", err, want)
	}
	if err := f.d.Check(ctx, "web1", &stepLog{}); err == nil || err.Error() != "ssh web1: health: no answer within 300ms" {
		t.Errorf("slow check = %v", err)
	}
	h := f.fleet.Host("web1")
	for _, pid := range []string{"hook.pid", "health.pid"} {
		waitGone(t, h, pid)
	}
}

func TestHealthURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/web1" {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):] // {{host}} is 127.0.0.1, the hosts' address
	f := newFixture(t, 2, map[string]any{"health": map[string]any{"url": "http://{{host}}" + port + "/health/{{name}}", "timeout": "2s"}})
	ctx := testContext(t)
	log := &stepLog{}
	if err := f.d.Check(ctx, "web1", log); err != nil {
		t.Errorf("check web1: %v", err)
	}
	if !strings.Contains(log.String(), "GET "+srv.URL+"/health/web1: 200 OK") {
		t.Errorf("log = %q", log)
	}
	err := f.d.Check(ctx, "web2", &stepLog{})
	if want := "ssh web2: health: GET " + srv.URL + "/health/web2: 503 Service Unavailable"; err == nil || err.Error() != want {
		t.Errorf("check web2 = %v, want %s", err, want)
	}
}
