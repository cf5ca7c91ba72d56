package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

func command(text string) string {
	b, _ := json.Marshal(CommandRequest{Text: text})
	return string(b)
}

func TestAPIAuth(t *testing.T) {
	f := newFixture(t)
	for name, token := range map[string]string{"no token": "", "wrong token": "tok-alice-guess"} {
		var e APIError
		res := f.api(http.MethodPost, "/api/v1/commands", token, command("deploy demo to staging"), &e)
		if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") || e.Error == "" {
			t.Errorf("%s: %d %v %s", name, res.StatusCode, res.Header, res.Body)
		}
		if token != "" && strings.Contains(res.Body, token) {
			t.Errorf("%s: the answer echoes the token", name)
		}
	}
	for _, h := range []string{"Basic YWxpY2U6eA==", "Bearer", "Bearer "} {
		req, _ := http.NewRequest(http.MethodGet, f.ts.URL+"/api/v1/board", nil)
		req.Header.Set("Authorization", h)
		if res := f.do(http.DefaultClient, req); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d", h, res.StatusCode)
		}
	}
	// A session cookie is no API credential.
	alice := f.signIn("alice", alicePassword)
	req, _ := http.NewRequest(http.MethodPost, f.ts.URL+"/api/v1/commands", strings.NewReader(command("deploy demo to staging")))
	if res := f.do(alice, req); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("cookie on the API: %d", res.StatusCode)
	}
	if n := f.deployCount(); n != 0 {
		t.Errorf("unauthorized requests created %d deploys", n)
	}
	if res := f.api(http.MethodGet, "/api/v1/nope", aliceToken, "", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown API path: %d", res.StatusCode)
	}
}

func TestBodyLimit(t *testing.T) {
	f := newFixture(t)
	big := strings.Repeat("x", 10<<20)
	post := func(path, contentType string, body io.Reader, length int64, header ...string) response {
		req, err := http.NewRequest(http.MethodPost, f.ts.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length
		req.Header.Set("Content-Type", contentType)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return f.do(http.DefaultClient, req)
	}
	// A body of unknown length is cut off while it is read.
	chunked := func(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }
	jsonBody := `{"text": "` + big + `"}`
	alice := f.signIn("alice", alicePassword)
	token := f.csrf(alice)
	cookie := alice.Jar.Cookies(mustURL(f.ts.URL))[0]
	cases := []struct {
		name string
		res  response
	}{
		{"api", post("/api/v1/commands", "application/json", strings.NewReader(jsonBody), int64(len(jsonBody)), "Authorization", "Bearer "+aliceToken)},
		{"api chunked", post("/api/v1/commands", "application/json", chunked(jsonBody), -1, "Authorization", "Bearer "+aliceToken)},
		{"login", post("/login", "application/x-www-form-urlencoded", chunked("name=alice&password="+big), -1)},
		{"command", post("/console/command", "application/x-www-form-urlencoded", chunked("csrf="+token+"&text="+big), -1, "Cookie", cookie.String())},
	}
	for _, c := range cases {
		if c.res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(c.res.Body, "larger than ferry accepts (64 KiB)") {
			t.Errorf("%s: %d %.300s", c.name, c.res.StatusCode, c.res.Body)
		}
	}
	var board APIBoard
	if res := f.api(http.MethodGet, "/api/v1/board", aliceToken, "", &board); res.StatusCode != http.StatusOK || len(board.Environments) != 2 {
		t.Errorf("after the big bodies: %d %s", res.StatusCode, res.Body)
	}
	if n := f.deployCount(); n != 0 {
		t.Errorf("%d deploys", n)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestAPICommand(t *testing.T) {
	f := newFixture(t)
	var r CommandResponse
	res := f.api(http.MethodPost, "/api/v1/commands", aliceToken, command("deploy demo to staging"), &r)
	if res.StatusCode != http.StatusOK || !r.OK || r.Text != "#1 demo main@1111111 to staging: queued." || len(r.Cards) != 1 || r.Table != nil {
		t.Fatalf("deploy: %d %s", res.StatusCode, res.Body)
	}
	// The card is read after the deploy was queued: it may have started.
	if c := r.Cards[0]; c.DeployID != 1 || (c.State != "queued" && c.State != "running" && c.State != "succeeded") || c.Requester != "alice" || c.Title != "Deploy demo main@1111111 to staging" {
		t.Errorf("card: %+v", c)
	}
	if !strings.Contains(r.Rendered, "#1 Deploy demo main@1111111 to staging") {
		t.Errorf("rendered: %s", r.Rendered)
	}
	f.wait(1, pipeline.StateSucceeded)
	if res := f.api(http.MethodPost, "/api/v1/commands", aliceToken, command("deploy demo v1.0.0 to prod"), &r); res.StatusCode != http.StatusOK || r.Cards[0].State != "awaiting_approval" {
		t.Fatalf("prod: %d %s", res.StatusCode, res.Body)
	}
	if res := f.api(http.MethodPost, "/api/v1/commands", aliceToken, command("status"), &r); res.StatusCode != http.StatusOK || r.Table == nil || len(r.Table.Rows) != 2 || len(r.Cards) != 0 || r.Cards == nil {
		t.Errorf("status: %d %s", res.StatusCode, res.Body)
	}

	cases := []struct {
		token, text string
		status      int
		kind, says  string
	}{
		{aliceToken, "deplyo demo to staging", http.StatusBadRequest, "invalid", `did you mean "deploy"?`},
		{aliceToken, "", http.StatusBadRequest, "invalid", ""},
		{aliceToken, "deploy demo to prod", http.StatusBadRequest, "invalid", "say which ref to deploy"},
		{aliceToken, "approve 2", http.StatusForbidden, "forbidden", "someone else must approve it"},
		{aliceToken, "approve 99", http.StatusNotFound, "not_found", "deploy 99 not found"},
		{aliceToken, "deploy nope to staging", http.StatusNotFound, "not_found", `project "nope" does not exist`},
		{aliceToken, "cancel 1", http.StatusConflict, "conflict", "succeeded cannot cancel"},
		{bobToken, "lock demo staging migrating", http.StatusOK, "", "locked by bob"},
		{aliceToken, "deploy demo to staging", http.StatusLocked, "locked", "demo staging is locked by bob: migrating"},
		{bobToken, "approve 2", http.StatusOK, "", "bob approved #2"},
		{bobToken, "approve 2", http.StatusConflict, "conflict", "deploy 2 is"},
	}
	for _, c := range cases {
		var r CommandResponse
		res := f.api(http.MethodPost, "/api/v1/commands", c.token, command(c.text), &r)
		if res.StatusCode != c.status || r.OK != (c.status == http.StatusOK) || r.Kind != c.kind || !strings.Contains(r.Text, c.says) || r.Cards == nil {
			t.Errorf("%s: %d %s; want %d %s saying %q", c.text, res.StatusCode, res.Body, c.status, c.kind, c.says)
		}
		if !r.OK && !strings.Contains(r.Rendered, r.Text) {
			t.Errorf("%s: rendered %q lacks the text", c.text, r.Rendered)
		}
	}
	for name, body := range map[string]string{
		"not JSON":      "deploy demo to staging",
		"unknown field": `{"text": "status", "as": "admin"}`,
		"two objects":   `{"text": "status"} {"text": "status"}`,
	} {
		var e APIError
		if res := f.api(http.MethodPost, "/api/v1/commands", aliceToken, body, &e); res.StatusCode != http.StatusBadRequest || e.Error == "" {
			t.Errorf("%s: %d %s", name, res.StatusCode, res.Body)
		}
	}
}

func TestAPIDeploy(t *testing.T) {
	f := newFixture(t)
	f.api(http.MethodPost, "/api/v1/commands", aliceToken, command("deploy demo to staging"), nil)
	f.wait(1, pipeline.StateSucceeded)

	var x APIDetails
	res := f.api(http.MethodGet, "/api/v1/deploys/1", bobToken, "", &x)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", res.StatusCode, res.Body)
	}
	d := x.Deploy
	if d.ID != 1 || d.Project != "demo" || d.Env != "staging" || d.Kind != "deploy" || d.Ref != "main" || d.Version != "main@1111111" ||
		d.Release != "1" || d.State != "succeeded" || d.Requester != "alice" || !d.CreatedAt.Equal(t0) || !d.FinishedAt.Equal(t0) || d.Batches != 1 {
		t.Errorf("deploy: %+v", d)
	}
	var path []string
	for _, tr := range x.Transitions {
		path = append(path, tr.To)
	}
	if strings.Join(path, " ") != "queued running succeeded" || len(x.Units) != 2 || x.Units[0].State != "done" || len(x.Logs) == 0 || x.Card.State != "succeeded" {
		t.Errorf("details: %s", res.Body)
	}
	if !strings.HasPrefix(x.Rendered, "#1 Deploy demo main@1111111 to staging\n") {
		t.Errorf("rendered: %q", x.Rendered)
	}
	// snake_case names, RFC 3339 times, and no zero times.
	var raw struct{ Deploy map[string]any }
	if err := json.Unmarshal([]byte(res.Body), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"previous_version", "approvals_required", "created_at", "finished_at"} {
		if _, ok := raw.Deploy[k]; !ok {
			t.Errorf("deploy JSON lacks %s: %v", k, raw.Deploy)
		}
	}
	for _, k := range []string{"approval_deadline", "bake_until"} {
		if v, ok := raw.Deploy[k]; ok {
			t.Errorf("deploy JSON has the zero time %s = %v", k, v)
		}
	}
	if got := raw.Deploy["created_at"]; got != "2026-11-02T10:00:00Z" {
		t.Errorf("created_at = %v", got)
	}

	for path, want := range map[string]int{"/api/v1/deploys/99": http.StatusNotFound, "/api/v1/deploys/abc": http.StatusBadRequest} {
		var e APIError
		if res := f.api(http.MethodGet, path, aliceToken, "", &e); res.StatusCode != want || e.Error == "" {
			t.Errorf("%s: %d %s", path, res.StatusCode, res.Body)
		}
	}
}

func TestAPIDeploysAndBoard(t *testing.T) {
	f := newFixture(t)
	f.api(http.MethodPost, "/api/v1/commands", aliceToken, command("deploy demo to staging"), nil)
	f.wait(1, pipeline.StateSucceeded)
	f.api(http.MethodPost, "/api/v1/commands", aliceToken, command("deploy demo v1.0.0 to prod"), nil)
	f.api(http.MethodPost, "/api/v1/commands", bobToken, command("lock demo prod for 1h release freeze"), nil)

	list := func(query string) []int64 {
		t.Helper()
		var l APIDeployList
		if res := f.api(http.MethodGet, "/api/v1/deploys"+query, aliceToken, "", &l); res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", query, res.StatusCode, res.Body)
		}
		var ids []int64
		for _, d := range l.Deploys {
			ids = append(ids, d.ID)
		}
		return ids
	}
	for q, want := range map[string]string{
		"":                                   "[2 1]",
		"?limit=1":                           "[2]",
		"?state=succeeded":                   "[1]",
		"?state=queued,awaiting_approval":    "[2]",
		"?project=demo&env=staging":          "[1]",
		"?env=prod":                          "[2]",
		"?project=demo&state=failed&limit=5": "[]",
	} {
		if got := fmt.Sprint(list(q)); got != want {
			t.Errorf("deploys%s = %s, want %s", q, got, want)
		}
	}
	for q, want := range map[string]struct {
		status int
		says   string
	}{
		"?state=done":          {http.StatusBadRequest, `unknown state "done"; valid states: requested, awaiting_approval, queued`},
		"?limit=0":             {http.StatusBadRequest, "limit must be a number from 1 to 1000"},
		"?project=nope":        {http.StatusNotFound, `project "nope" does not exist`},
		"?env=qa":              {http.StatusNotFound, `no project has an environment "qa"`},
		"?project=demo&env=qa": {http.StatusNotFound, `no environment "qa"`},
	} {
		var e APIError
		if res := f.api(http.MethodGet, "/api/v1/deploys"+q, aliceToken, "", &e); res.StatusCode != want.status || !strings.Contains(e.Error, want.says) {
			t.Errorf("deploys%s: %d %s", q, res.StatusCode, res.Body)
		}
	}

	var b APIBoard
	if res := f.api(http.MethodGet, "/api/v1/board", aliceToken, "", &b); res.StatusCode != http.StatusOK || len(b.Environments) != 2 {
		t.Fatalf("board: %d %s", res.StatusCode, res.Body)
	}
	staging, prod := b.Environments[0], b.Environments[1]
	if staging.Env != "staging" || staging.Current == nil || staging.Current.ID != 1 || staging.Active != nil || staging.Lock != nil {
		t.Errorf("staging: %+v", staging)
	}
	if prod.Current != nil || len(prod.Waiting) != 1 || prod.Waiting[0].ID != 2 || prod.Lock == nil || prod.Lock.Owner != "bob" ||
		!prod.Lock.Expires.Equal(t0.Add(time.Hour)) || prod.Queued == nil {
		t.Errorf("prod: %+v", prod)
	}
}
