// Package gitlab is ferry's GitLab adapter: it receives GitLab's webhooks
// on POST /hooks/gitlab, verifies and stores each delivery in the inbox
// before it is acknowledged, normalizes Push, Tag Push, Merge Request and
// Note Hooks into forge's events, and implements forge.Client over
// gitlab-org's client-go, so that forge.Core decides what they mean.
//
// A delivery must carry the webhook's Secret token in X-Gitlab-Token; with
// a signing token, its webhook-signature (Standard Webhooks) must verify
// over its webhook-id, webhook-timestamp (within 5 minutes) and body too.
// Both are checked before the body is read. A delivery is known by its
// Idempotency-Key, the same on each of GitLab's retries
// (X-Gitlab-Event-UUID when GitLab sends none), and its body by its
// SHA-256, so that a body sent again under another key is a replay.
//
// The API token (a personal, project or group access token with the api
// scope) needs the Developer role on each project, to set commit statuses,
// create deployments, write notes and award emoji; Maintainer where the
// environments are protected. A person may ask ferry for something in a
// note, a label or an approval with the Developer role or above.
package gitlab
