// Package forge holds the platform-neutral events ferry hears from a Git
// forge (GitHub, GitLab, Gitee): a push of a branch or tag, a pull request
// opened, updated, labeled or closed, a comment, a review. Each forge's
// adapter (forge/github, …) verifies and parses its webhooks and turns them
// into these values; nothing here imports a forge's SDK.
package forge
