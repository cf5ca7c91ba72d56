package main

import (
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The forges whose webhook intake is measured (--forge): each is ferry's
// route /hooks/<forge> and the section <forge>: of its ferry.yaml.
const (
	forgeGitHub = "github"
	forgeGitLab = "gitlab"
	forgeGitee  = "gitee"
)

// The real deliveries the bodies are made from, each copied byte for byte
// from ../../shared/testdata/payloads, whose SOURCES.md says where it
// comes from.
var (
	// payload is GitHub's pull_request "opened" (octokit/webhooks;
	// github/pull_request.opened.json).
	//
	//go:embed testdata/pull_request.opened.json
	payload []byte
	// gitlabPayload is GitLab's Merge Request Hook, action "open"
	// (xanzy/go-gitlab testdata/webhooks/merge_request.json, GitLab's docs
	// example; gitlab/merge_request.open.json).
	//
	//go:embed testdata/merge_request.open.json
	gitlabPayload []byte
	// giteePayload is Gitee's Merge Request Hook, action "open"
	// (drone/go-scm scm/driver/gitee/testdata/webhooks/pr_open.json, a
	// captured gitee.com delivery; gitee/merge_request_hooks.open.json).
	// Its own "timestamp" and "sign" are left as captured: ferry reads the
	// headers' (X-Gitee-Timestamp and X-Gitee-Token).
	//
	//go:embed testdata/merge_request_hooks.open.json
	giteePayload []byte
)

// giteeEpoch is how long before the run gitee's first delivery is
// timestamped; giteeWindow bounds the deliveries of a gitee run, one
// millisecond apart, so that every X-Gitee-Timestamp is from half an hour
// before the run to half an hour after it started, within the hour ferry
// accepts either way while the accepted deliveries are sent (the count
// bounds have them sent in minutes).
const (
	giteeEpoch  = 30 * time.Minute
	giteeWindow = int(time.Hour / time.Millisecond)
)

// webhook is one forge's webhook as intake sends it deliveries: the
// payload, and the number in it each delivery changes, so that every body
// differs from every other and keeps the payload's size.
type webhook struct {
	forge   string // forgeGitHub, forgeGitLab or forgeGitee
	payload []byte
	what    string // the payload's event, for the table's footer
	// field is the payload's text that holds the number, once; its width
	// digits start at at. Delivery seq writes first+seq there.
	field        string
	at, width    int
	first, count int // count: how many deliveries a run may send
}

// github, gitlab and gitee are the webhooks intake knows.
var (
	// GitHub's pull_request.id, 9 digits.
	github = webhook{forge: forgeGitHub, payload: payload, what: "pull_request opened",
		field: `"id": 279147437,`, at: len(`"id": `), width: 9, first: 100_000_000, count: 900_000_000}
	// GitLab's merge request has no number as wide (its id is 99): the
	// first 9 hex digits of object_attributes.last_commit.id, which stays
	// a 40-hex-digit SHA.
	gitlab = webhook{forge: forgeGitLab, payload: gitlabPayload, what: "Merge Request Hook open",
		field: `"id": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"`, at: len(`"id": "`), width: 9, first: 100_000_000, count: 900_000_000}
	// Gitee's pull_request.id, 7 digits; a run is bounded by its
	// timestamps, not by them.
	gitee = webhook{forge: forgeGitee, payload: giteePayload, what: "Merge Request Hook open",
		field: `"id": 4744278,`, at: len(`"id": `), width: 7, first: 1_000_000, count: giteeWindow}
)

// webhookOf is the webhook of --forge.
func webhookOf(forge string) (webhook, error) {
	switch forge {
	case forgeGitHub:
		return github, nil
	case forgeGitLab:
		return gitlab, nil
	case forgeGitee:
		return gitee, nil
	}
	return webhook{}, fmt.Errorf("--forge must be github, gitlab or gitee, not %q", forge)
}

// route is the path ferry serves the webhook on.
func (w webhook) route() string { return "/hooks/" + w.forge }

// header sets delivery seq's headers, token being its signature (GitHub,
// Gitee) or secret token (GitLab), right or forged, as the forge sends
// them.
func (d *deliveries) header(h http.Header, seq int, token string) {
	h.Set("Content-Type", "application/json")
	switch d.hook.forge {
	case forgeGitLab:
		h.Set("User-Agent", "GitLab/ferry-bench")
		h.Set("X-Gitlab-Event", "Merge Request Hook")
		h.Set("X-Gitlab-Instance", "http://example.com") // the payload's
		h.Set("X-Gitlab-Token", token)
		h.Set("Idempotency-Key", d.id(seq))
		h.Set("X-Gitlab-Event-UUID", d.eventUUID(seq))
	case forgeGitee:
		h.Set("User-Agent", "git-oschina-hook")
		h.Set("X-Gitee-Event", "Merge Request Hook")
		h.Set("X-Gitee-Ping", "false")
		h.Set("X-Gitee-Token", token)
		h.Set("X-Gitee-Timestamp", d.timestamp(seq))
	default:
		h.Set("User-Agent", "GitHub-Hookshot/ferry-bench")
		h.Set("X-GitHub-Event", "pull_request")
		h.Set("X-GitHub-Delivery", d.id(seq))
		h.Set("X-Hub-Signature-256", token)
	}
}

// sign is the token of delivery seq ferry accepts: GitHub's
// X-Hub-Signature-256 of the body, GitLab's secret token itself, Gitee's
// X-Gitee-Token signing the delivery's timestamp.
func (d *deliveries) sign(seq int) string {
	switch d.hook.forge {
	case forgeGitLab:
		return string(d.secret)
	case forgeGitee:
		return giteeSignature(d.secret, d.timestamp(seq))
	default:
		return signature(d.secret, d.prefix, d.digits(seq), d.suffix)
	}
}

// forge is a token of the right shape that is not delivery seq's, made
// from its ID without the secret: 64 hex digits of a SHA-256 for GitHub,
// as many hex digits as the secret token has for GitLab, the Base64 of a
// SHA-256 for Gitee. It costs one SHA-256, in the sender.
func (d *deliveries) forge(seq int) string {
	s := sha256.Sum256([]byte(d.id(seq)))
	switch d.hook.forge {
	case forgeGitLab:
		h := hex.EncodeToString(s[:])
		return strings.Repeat(h, len(d.secret)/len(h)+1)[:len(d.secret)]
	case forgeGitee:
		return base64.StdEncoding.EncodeToString(s[:])
	default:
		return "sha256=" + hex.EncodeToString(s[:])
	}
}

// signature is the X-Hub-Signature-256 of the body made of parts:
// "sha256=" + hex(HMAC-SHA256(secret, body)).
func signature(secret []byte, parts ...[]byte) string {
	m := hmac.New(sha256.New, secret)
	for _, p := range parts {
		m.Write(p)
	}
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// giteeSignature is the X-Gitee-Token Gitee sends in signature mode with
// timestamp: Base64(HMAC-SHA256(secret, timestamp + "\n" + secret)). It
// does not cover the body.
func giteeSignature(secret []byte, timestamp string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("\n"))
	m.Write(secret)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// timestamp is Gitee delivery seq's X-Gitee-Timestamp: milliseconds, one
// after another from giteeEpoch before the run, so that each delivery's
// is its own (ferry knows a signed delivery by its timestamp).
func (d *deliveries) timestamp(seq int) string {
	return strconv.FormatInt(d.epoch+int64(seq), 10)
}

// footer describes the deliveries of a run for the table's footer.
func (w webhook) footer() string {
	how := "accepted signatures (HMAC-SHA256 of each body) computed before the loads, forged ones 64 hex digits"
	switch w.forge {
	case forgeGitLab:
		how = "accepted deliveries carry the secret token (X-Gitlab-Token), forged ones a wrong token of its length"
	case forgeGitee:
		how = "accepted X-Gitee-Tokens (HMAC-SHA256 of each delivery's own X-Gitee-Timestamp) computed before the loads, forged ones well-formed Base64"
	}
	return fmt.Sprintf("forge: %s, POST %s, %s B %s deliveries; %s", w.forge, w.route(), thousands(int64(len(w.payload))), w.what, how)
}
