// Package forge is what ferry does with the events of a Git forge (GitHub,
// GitLab, Gitee), written once for all of them: the platform-neutral
// events (a push of a branch or tag, a pull request opened, updated,
// labeled or closed, a comment, a review) and the decisions on them (which
// project and environment an event means, whether its author may ask,
// what a deploy/<env> label means, what ferry answers on the pull request
// and which statuses it sets), in Core, over the small Client interface a
// forge's API implements. Each forge's package (forge/github, …) verifies
// and normalizes its webhooks and implements Client; nothing here imports
// a forge's SDK.
package forge
