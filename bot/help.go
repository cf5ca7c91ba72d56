package bot

import (
	"fmt"
	"strings"
)

// verbSpec is everything the grammar and the help know about one command.
type verbSpec struct {
	verb     Verb
	usage    string
	prUsage  string // the usage in a pull request comment; "": the same
	summary  string // one line for the list
	details  string // the longer explanation of help <command>
	examples []string
}

func (s verbSpec) usageFor(pr bool) string {
	if pr && s.prUsage != "" {
		return s.prUsage
	}
	return s.usage
}

// verbs is the grammar, in the order help lists it. The usage lines leave
// out force, which only admins may use; the details explain it.
var verbs = []verbSpec{
	{
		verb: VerbDeploy, usage: "deploy <project> [<ref>] to <env>", prUsage: "deploy <env>",
		summary: "deploy a branch, tag or commit to an environment",
		details: "Deploys <ref> (a branch, a tag or a commit) of <project> to <env>; without a ref, the environment's default ref.\n" +
			"Routing rules, locks and approvals apply: the deploy may wait for approvals, or queue behind the one running.\n" +
			"In a pull request comment, \"/ferry deploy <env>\" deploys the head of the pull request.\n" +
			"Admins may add \"force\" to override locks and rules; it is recorded in the audit log.",
		examples: []string{"deploy demo to staging", "deploy demo v1.4.0 to prod", "/ferry deploy staging"},
	},
	{
		verb: VerbRollback, usage: "rollback <project> <env> [to <release>]", prUsage: "rollback <env> [to <release>]",
		summary: "roll an environment back to an earlier release",
		details: "Without a release, rolls back the deploy in flight in <env> (or the last one, if it failed): the units it updated return to what they ran before.\n" +
			"With nothing in flight, or with \"to <release>\", switches every unit to that release, by default the one before the current.\n" +
			"Rollbacks need no approval. Admins may add \"force\" to override a lock.",
		examples: []string{"rollback demo prod", "rollback demo prod to 41"},
	},
	{
		verb: VerbApprove, usage: "approve <deploy>",
		summary: "approve a deploy that awaits approval",
		details: "Adds your approval to deploy <deploy>. Once it has the approvals its environment requires, it queues.\n" +
			"You cannot approve your own deploy.",
		examples: []string{"approve 12", "approve #12"},
	},
	{
		verb: VerbReject, usage: "reject <deploy> [reason...]",
		summary:  "reject a deploy that awaits approval",
		details:  "Rejects deploy <deploy>; it will not run. The reason is shown to the requester.",
		examples: []string{"reject 12 wrong build", `reject 12 "not during the sale"`},
	},
	{
		verb: VerbContinue, usage: "continue <deploy>",
		summary:  "continue a paused rollout with its next batch",
		details:  "Continues deploy <deploy> after a manual gate, a brake or a pause: the next batch starts.",
		examples: []string{"continue 12"},
	},
	{
		verb: VerbPause, usage: "pause <deploy>",
		summary:  "pause a running rollout",
		details:  "Pauses deploy <deploy> once the units it is installing now are done; then continue, roll back or cancel it.",
		examples: []string{"pause 12"},
	},
	{
		verb: VerbCancel, usage: "cancel <deploy>",
		summary:  "cancel a deploy that has not finished",
		details:  "Cancels deploy <deploy>, whether it awaits approval, queues or runs. Units already updated stay as they are: roll back to undo them.",
		examples: []string{"cancel 12"},
	},
	{
		verb: VerbResume, usage: "resume <deploy>",
		summary:  "resume a deploy interrupted by a restart of ferry",
		details:  "Resumes deploy <deploy> from the step it was on when ferry stopped. Roll it back instead if that is not safe.",
		examples: []string{"resume 12"},
	},
	{
		verb: VerbLock, usage: "lock <project|*> <env> [for <duration>] [reason...]",
		summary: "keep deploys away from an environment",
		details: "Locks <env> of <project>, or of every project with *. Others who deploy there are told who holds the lock and why.\n" +
			"A duration is like 30m, 2h or 1d; without one, the lock holds until unlocked (or for the environment's lock TTL).",
		examples: []string{"lock demo prod for 2h release freeze", `lock * prod for 1d "quarter close"`},
	},
	{
		verb: VerbUnlock, usage: "unlock <project|*> <env>",
		summary:  "lift a lock",
		details:  "Removes the lock of <env> of <project>, or the lock of every project with *.",
		examples: []string{"unlock demo prod", "unlock * prod"},
	},
	{
		verb: VerbPromote, usage: "promote <project> <from-env> to <to-env>",
		summary:  "deploy what runs in one environment to another",
		details:  "Deploys the version <project> runs in <from-env> to <to-env>, with the rules and approvals of <to-env>.",
		examples: []string{"promote demo staging to prod"},
	},
	{
		verb: VerbScale, usage: "scale <project> <env> <replicas>",
		summary: "change how many replicas an environment runs",
		details: "Sets the replicas of <env> (a Kubernetes Deployment or StatefulSet) to <replicas>.\n" +
			"Whoever may deploy to <env> may scale it; locks apply, and not while a deploy holds <env>. It is audited.",
		examples: []string{"scale api prod 5"},
	},
	{
		verb: VerbRestart, usage: "restart <project> <env>",
		summary:  "restart the pods of an environment",
		details:  "Restarts the pods of <env> a few at a time, as kubectl rollout restart does (kubernetes targets). Who may and when: as scale.",
		examples: []string{"restart api prod"},
	},
	{
		verb: VerbConfig, usage: "config <project> <env> set <KEY>=<VALUE>",
		summary: "change a configuration value, then restart",
		details: "Sets <KEY> in the ConfigMap of <env> (configmap: in its target), then restarts its pods so they read it.\n" +
			"Quote the pair when the value has spaces. The audit log keeps a digest of the value, not the value. Who may and when: as scale.",
		examples: []string{"config api prod set LOG_LEVEL=debug", `config api prod set "GREETING=hello world"`},
	},
	{
		verb: VerbStatus, usage: "status [<project>]",
		summary:  "what runs where, and what is in flight",
		details:  "Shows, for every environment of <project> (or of every project), the version it runs, the deploy in flight, the queue and any lock; for Kubernetes, also its image, ready and wanted replicas and recent restarts.",
		examples: []string{"status", "status demo"},
	},
	{
		verb: VerbHistory, usage: "history <project> [<env>]",
		summary:  "recent deploys of a project",
		details:  "Lists the recent deploys of <project>, of every environment or only of <env>.",
		examples: []string{"history demo", "history demo prod"},
	},
	{
		verb: VerbDigest, usage: "digest preview [<scope>]",
		summary: "the weekly digest of the last seven days, now",
		details: "Shows the digest ferry posts on its schedule — deploys, success rate, rollbacks, durations, the four DORA metrics with their trends, and the leaderboards — for the last seven days up to now (7×24 hours, today so far included).\n" +
			"<scope> is all (the default), team:<name>, project:<name>, env:<name>, person:<name>, or a name that is only one of those.",
		examples: []string{"digest preview", "digest preview project:demo", "digest preview team:payments"},
	},
	{
		verb: VerbWhoami, usage: "whoami",
		summary:  "who ferry thinks you are",
		details:  "Shows the ferry user your chat or forge account is linked to, and its teams and role.",
		examples: []string{"whoami"},
	},
	{
		verb: VerbLink, usage: "link",
		summary: "link your chat account to your ferry user",
		details: "Answers, to you alone, with a one-time address on ferry's web console, valid for 10 minutes.\n" +
			"Open it, sign in as your ferry user and confirm: from then on ferry knows who you are in this chat.\n" +
			"Accounts listed in ferry.yaml (users.<name>.chat) need no link.",
		examples: []string{"link"},
	},
	{
		verb: VerbHelp, usage: "help [<command>]",
		summary:  "this list, or more about one command",
		details:  "Lists every command, or explains one.",
		examples: []string{"help", "help deploy"},
	},
}

func lookup(v Verb) (verbSpec, bool) {
	for _, s := range verbs {
		if s.verb == v {
			return s, true
		}
	}
	return verbSpec{}, false
}

// Usage returns the usage line of a command, or "" for an unknown one.
func Usage(v Verb) string {
	s, _ := lookup(v)
	return s.usage
}

// Help returns the help text: every command with one line about it when
// topic is "", or the usage, explanation and examples of one command.
func Help(topic string) string {
	if topic == "" {
		return helpList()
	}
	s, ok := lookup(Verb(strings.ToLower(strings.TrimSpace(topic))))
	if !ok {
		return unknownVerb(topic, false).Error() + "\n\n" + helpList()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s\n", s.usage)
	if s.prUsage != "" {
		fmt.Fprintf(&b, "in a pull request comment: /ferry %s\n", s.prUsage)
	}
	fmt.Fprintf(&b, "\n%s\n\nexamples:\n", s.details)
	for _, e := range s.examples {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}

func helpList() string {
	rows := make([][]string, len(verbs))
	for i, s := range verbs {
		rows[i] = []string{s.usage, s.summary}
	}
	var b strings.Builder
	b.WriteString("ferry commands, in chat and in pull request comments (/ferry <command>):\n\n")
	for _, line := range alignRows(rows) {
		b.WriteString("  " + line + "\n")
	}
	b.WriteString("\n<deploy> is a deploy number, like 12 or #12. Say \"help <command>\" for more about one.\n")
	return b.String()
}

// suggest finds the command a mistyped word most likely meant: one typo
// away (two for words of six letters or more), or the only command the word
// starts.
func suggest(word string) (Verb, bool) {
	n := len([]rune(word))
	if n < 2 || n > 32 {
		return "", false
	}
	best, bestDist := Verb(""), 2
	if n >= 6 {
		bestDist = 3
	}
	var prefixed []Verb
	for _, s := range verbs {
		if d := editDistance(word, string(s.verb)); d < bestDist {
			best, bestDist = s.verb, d
		}
		if len(word) >= 3 && strings.HasPrefix(string(s.verb), word) {
			prefixed = append(prefixed, s.verb)
		}
	}
	if best == "" && len(prefixed) == 1 {
		best = prefixed[0]
	}
	return best, best != ""
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
