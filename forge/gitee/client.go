package gitee

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// defaultAPI is gitee.com's API v5.
const defaultAPI = "https://gitee.com/api/v5"

// Limits of the client.
const (
	maxAnswer    = 8 << 20          // bytes of an answer read
	defaultRetry = time.Minute      // a 429 without Retry-After waits this long
	maxPages     = 50               // of a pull request's comments, 100 a page
	noChecksFor  = 30 * time.Minute // how long a repository that refused a check run is not asked again
)

// client is forge.Client over Gitee's API v5, with a personal access
// token. Gitee documents the token as the access_token parameter of every
// call: ferry sends it in the query of a GET and in the JSON body of a
// POST or PATCH, follows no redirect, and names a call in its errors by
// method and path only, so that no error and no log line carries it.
type client struct {
	base  *url.URL // …/api/v5, without a trailing slash
	token string
	http  *http.Client
	store forge.Store
	clock pipeline.Clock

	checkMu  sync.Mutex           // held while a check run is found and written
	noChecks map[string]time.Time // repositories (lower case) that refused check runs, until when
}

var _ forge.Client = (*client)(nil)

// newClient is the client of cfg's token; nil without one.
func newClient(cfg Config, clock pipeline.Clock) (*client, error) {
	if cfg.Token == "" {
		return nil, nil
	}
	raw := cfg.APIURL
	if raw == "" {
		raw = defaultAPI
	}
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("gitee: APIURL %q is not an http(s) address", raw)
	}
	hc := &http.Client{Timeout: apiTimeout}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{base: base, token: cfg.Token, http: hc, store: cfg.Store, clock: clock, noChecks: map[string]time.Time{}}, nil
}

// apiError is an answer of Gitee's other than 2xx.
type apiError struct {
	call    string // "GET /repos/owner/name/pulls/3"
	status  int
	message string // Gitee's message, when it gave one
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("gitee: %s: %d %s", e.call, e.status, http.StatusText(e.status))
	if e.message != "" {
		s += ": " + e.message
	}
	return s
}

// statusOf is the HTTP status of a call's error; 0 when Gitee gave none.
func statusOf(err error) int {
	var e *apiError
	if errors.As(err, &e) {
		return e.status
	}
	return 0
}

// do calls the API: path is under the base, escaped; query is added to a
// GET, body (a JSON object) sent with a POST or PATCH, each with the
// token; out, when not nil, is decoded from the answer. It returns the
// answer's header. Its errors say when a call may be tried again: after
// Retry-After for a 429 (bot.RetryAfter), never for another 4xx
// (bot.Permanent); a 5xx and a failed connection may.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body map[string]any, out any) (http.Header, error) {
	call := method + " " + path
	u, err := url.Parse(c.base.String() + path)
	if err != nil {
		return nil, fmt.Errorf("gitee: %s: %w", call, err)
	}
	var payload io.Reader
	if method == http.MethodGet {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("access_token", c.token)
		u.RawQuery = q.Encode()
	} else {
		b := map[string]any{"access_token": c.token}
		for k, v := range body {
			b[k] = v
		}
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("gitee: %s: %w", call, err)
		}
		payload = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), payload)
	if err != nil {
		return nil, c.transportError(call, err)
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(call, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return nil, c.transportError(call, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.Header, c.refused(call, res, data)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return res.Header, fmt.Errorf("gitee: %s: unreadable answer: %w", call, err)
		}
	}
	return res.Header, nil
}

// transportError is a call that got no answer, said without its URL
// (url.Error writes it, query and all), which may be tried again.
func (c *client) transportError(call string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("gitee: %s: %w", call, err)
	}
	return fmt.Errorf("gitee: %s: %s", call, c.scrub(err.Error()))
}

// refused is the error of an answer other than 2xx, classified for the
// outbox.
func (c *client) refused(call string, res *http.Response, data []byte) error {
	var m struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(data, &m)
	e := &apiError{call: call, status: res.StatusCode, message: c.scrub(oneLine(m.Message, 200))}
	if d, ok := retryAfter(res.Header.Get("Retry-After"), c.clock.Now()); ok || res.StatusCode == http.StatusTooManyRequests {
		if !ok {
			d = defaultRetry
		}
		return bot.RetryAfter(d, e)
	}
	if res.StatusCode >= 400 && res.StatusCode < 500 {
		return bot.Permanent(e)
	}
	return e
}

// scrub takes the token out of a text that may hold it.
func (c *client) scrub(s string) string {
	if c.token == "" {
		return s
	}
	s = strings.ReplaceAll(s, c.token, "[token]")
	return strings.ReplaceAll(s, url.QueryEscape(c.token), "[token]")
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// oneLine keeps at most n bytes of s, on one line.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// repoPath is the API path of a repository: /repos/{owner}/{repo}.
func repoPath(r forge.Repo) string {
	owner, name, _ := strings.Cut(r.FullName, "/")
	return "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name)
}

// repoOn is owner/name of a repository when it is on the Gitee of host
// (gitee.com for ""), or is written owner/name.
func repoOn(repoURL, host string) (string, bool) {
	if host == "" {
		host = "gitee.com"
	}
	parts := strings.Split(forge.RepoPath(repoURL), "/")
	switch {
	case len(parts) == 2 && parts[0] != "" && parts[1] != "" && !strings.Contains(parts[0], "."):
		return parts[0] + "/" + parts[1], true
	case len(parts) == 3 && strings.EqualFold(parts[0], host) && parts[1] != "" && parts[2] != "":
		return parts[1] + "/" + parts[2], true
	}
	return "", false
}

// apiHost is the host of an API URL; "" for gitee.com's.
func apiHost(apiURL string) string {
	if apiURL == "" {
		return ""
	}
	return strings.SplitN(forge.RepoKey(apiURL), "/", 2)[0]
}
