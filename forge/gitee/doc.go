// Package gitee is ferry's Gitee adapter: it receives Gitee's WebHooks on
// POST /hooks/gitee, verifies and stores each delivery in the inbox before
// it is acknowledged, normalizes Push, Tag Push, Merge Request and Note
// Hooks into forge's events, and implements forge.Client over a small
// client of Gitee's API v5 (no maintained Go SDK exists), so that
// forge.Core decides what they mean.
//
// A WebHook sends X-Gitee-Token in one of two modes, both checked against
// the one webhook_secret before the body is read: with X-Gitee-Timestamp
// (milliseconds), the signature Base64(HMAC-SHA256(secret, timestamp +
// "\n" + secret)) of a timestamp within an hour of ferry's clock; without
// it, the password itself. Neither covers the body. A signed delivery is
// known by its timestamp, so that a captured token is spent once ferry has
// its request, and every delivery's body by its SHA-256, so that a body
// sent again is a replay. A password-mode delivery is known by its body
// alone: whoever holds one holds the password, and can send any body ferry
// has not seen. The README's Gitee section says what that leaves open.
//
// The token is a personal access token (scopes projects, pull_requests
// and notes) of a member with push permission; creating check runs takes
// admin permission, and where Gitee refuses it the sticky comment alone
// tells how a deploy goes. A person may ask ferry for something with the
// push, write or admin permission.
package gitee
