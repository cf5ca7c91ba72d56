package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferrybot/ferry/bot"
)

// commandRequest decodes a body as the API means it: one JSON object of
// CommandRequest's keys and nothing after it.
func commandRequest(body []byte) (CommandRequest, bool) {
	var req CommandRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if dec.Decode(&req) != nil {
		return req, false
	}
	_, err := dec.Token()
	return req, errors.Is(err, io.EOF)
}

// FuzzAPICommand posts bodies to POST /api/v1/commands. Whatever the body
// and token, the answer is JSON and never a server error; without alice's
// token it is 401 and nothing runs; a body that is not one command
// request is refused with 400 and runs nothing; a command the grammar
// refuses is answered 400, kind invalid; and a body over 64 KiB is 413.
func FuzzAPICommand(f *testing.F) {
	fz := newFuzzed(f)
	for _, s := range []string{
		`{"text": "deploy demo to staging"}`, `{"text": "status"}`, `{"text": "approve 1"}`, `{"text": "deplyo demo"}`,
		`{"text": "config demo prod set K=v"}`, `{"text": 7}`, `{"text": "status", "x": 1}`, `{"text": "status"} {}`,
		`{"text": "status"}` + "\n", `{"TEXT": "help"}`, `[]`, `null`, ``, `{"text": "\ud800"}`,
	} {
		for auth := range uint8(3) {
			f.Add([]byte(s), auth)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, auth uint8) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/commands", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		switch auth % 3 {
		case 0:
			req.Header.Set("Authorization", "Bearer "+aliceToken)
		case 1:
			req.Header.Set("Authorization", "Bearer "+aliceToken+"x")
		}
		before := fz.deploys(t)
		rec := fz.serve(req)
		made := fz.deploys(t) - before
		var answer struct {
			CommandResponse
			Error string `json:"error"`
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || json.Unmarshal(rec.Body.Bytes(), &answer) != nil {
			t.Fatalf("status %d, %q: not JSON: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		cmd, ok := commandRequest(body)
		switch {
		case rec.Code >= 500:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		case auth%3 != 0:
			if rec.Code != http.StatusUnauthorized || answer.Error == "" || made != 0 {
				t.Fatalf("without alice's token: status %d, %d deploys made; want 401 and none", rec.Code, made)
			}
		case len(body) > maxBody:
			if rec.Code != http.StatusRequestEntityTooLarge || made != 0 {
				t.Fatalf("%d bytes: status %d, %d deploys made; want 413 and none", len(body), rec.Code, made)
			}
		case !ok:
			if rec.Code != http.StatusBadRequest || answer.Error == "" || made != 0 {
				t.Fatalf("%q is no command request: status %d, %d deploys made; want 400 and none", body, rec.Code, made)
			}
		default:
			if _, err := bot.Parse(cmd.Text); err != nil && (rec.Code != http.StatusBadRequest || answer.OK || answer.Kind != string(bot.KindInvalid) || made != 0) {
				t.Fatalf("%q does not parse (%v): status %d, %+v, %d deploys made; want 400 invalid and none", cmd.Text, err, rec.Code, answer, made)
			}
		}
	})
}

// FuzzAPIQuery reads the API's lists with query strings. Whatever the
// query, the answer is JSON and never a server error, and a refused query
// is 400 with what is wrong.
func FuzzAPIQuery(f *testing.F) {
	fz := newFuzzed(f)
	for _, q := range []string{
		"", "project=demo&env=prod&state=queued,running&limit=10", "state=nope", "limit=0", "limit=1001", "limit=x",
		"since=2026-11-01&until=2026-11-02&actor=alice&before=5", "since=yesterday", "before=-1", "platform=slack&dead=1", "dead=2",
		"project=%zz", "state=" + strings.Repeat(",", 100),
	} {
		for path := range uint8(4) {
			f.Add(path, q)
		}
	}
	paths := []string{"/api/v1/deploys", "/api/v1/audit", "/api/v1/outbox", "/api/v1/board"}
	f.Fuzz(func(t *testing.T, path uint8, query string) {
		target := paths[int(path)%len(paths)] + "?" + query
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			return // no client sends it
		}
		req.Header.Set("Authorization", "Bearer "+aliceToken)
		rec := fz.serve(req)
		var answer map[string]any
		msg := func() string { s, _ := answer["error"].(string); return s }
		switch {
		case !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || json.Unmarshal(rec.Body.Bytes(), &answer) != nil:
			t.Fatalf("GET %s: status %d, not JSON: %s", target, rec.Code, rec.Body)
		case rec.Code >= 500:
			t.Fatalf("GET %s: status %d: %s", target, rec.Code, rec.Body)
		case rec.Code == http.StatusBadRequest && msg() == "":
			t.Fatalf("GET %s: 400 saying nothing", target)
		}
	})
}
