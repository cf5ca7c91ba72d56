package bot

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		text string
		want Command
	}{
		{"deploy demo to prod", Command{Verb: VerbDeploy, Project: "demo", Env: "prod"}},
		{"deploy demo v1.2.0 to prod", Command{Verb: VerbDeploy, Project: "demo", Ref: "v1.2.0", Env: "prod"}},
		{"deploy demo main to staging force", Command{Verb: VerbDeploy, Project: "demo", Ref: "main", Env: "staging", Force: true}},
		{"/ferry deploy demo to prod", Command{Verb: VerbDeploy, Project: "demo", Env: "prod"}},
		{"@ferry deploy demo to prod", Command{Verb: VerbDeploy, Project: "demo", Env: "prod"}},
		{"ferry deploy demo to prod", Command{Verb: VerbDeploy, Project: "demo", Env: "prod"}},
		{"  Ferry   DEPLOY demo feature/x-1 TO Prod FORCE ", Command{Verb: VerbDeploy, Project: "demo", Ref: "feature/x-1", Env: "Prod", Force: true}},
		{"deploy demo \"to\" to prod", Command{Verb: VerbDeploy, Project: "demo", Ref: "to", Env: "prod"}},
		{"deploy demo to “force”", Command{Verb: VerbDeploy, Project: "demo", Env: "force"}},
		{"deploy 前端 to 生产", Command{Verb: VerbDeploy, Project: "前端", Env: "生产"}},
		{"rollback demo prod", Command{Verb: VerbRollback, Project: "demo", Env: "prod"}},
		{"rollback demo prod to 41", Command{Verb: VerbRollback, Project: "demo", Env: "prod", Release: "41"}},
		{"rollback demo prod to 41 force", Command{Verb: VerbRollback, Project: "demo", Env: "prod", Release: "41", Force: true}},
		{"rollback demo prod force", Command{Verb: VerbRollback, Project: "demo", Env: "prod", Force: true}},
		{"approve 12", Command{Verb: VerbApprove, DeployID: 12}},
		{"approve #12", Command{Verb: VerbApprove, DeployID: 12}},
		{"reject 12", Command{Verb: VerbReject, DeployID: 12}},
		{"reject #12 wrong   build", Command{Verb: VerbReject, DeployID: 12, Reason: "wrong build"}},
		{`reject 12 "not during the sale"`, Command{Verb: VerbReject, DeployID: 12, Reason: "not during the sale"}},
		{`reject 12 “say \"no\"”`, Command{Verb: VerbReject, DeployID: 12, Reason: `say "no"`}},
		{`reject 12 "C:\temp \\ ok"`, Command{Verb: VerbReject, DeployID: 12, Reason: `C:\temp \ ok`}},
		{"reject 12 it's\nnot ready", Command{Verb: VerbReject, DeployID: 12, Reason: "it's not ready"}},
		{"continue 7", Command{Verb: VerbContinue, DeployID: 7}},
		{"pause 7", Command{Verb: VerbPause, DeployID: 7}},
		{"cancel #7", Command{Verb: VerbCancel, DeployID: 7}},
		{"resume 7", Command{Verb: VerbResume, DeployID: 7}},
		{"lock demo prod", Command{Verb: VerbLock, Project: "demo", Env: "prod"}},
		{"lock * prod", Command{Verb: VerbLock, Project: "*", Env: "prod"}},
		{"lock demo prod for 2h", Command{Verb: VerbLock, Project: "demo", Env: "prod", Duration: 2 * time.Hour}},
		{"lock demo prod for 1d release freeze", Command{Verb: VerbLock, Project: "demo", Env: "prod", Duration: 24 * time.Hour, Reason: "release freeze"}},
		{`lock * prod for 1.5d "quarter close"`, Command{Verb: VerbLock, Project: "*", Env: "prod", Duration: 36 * time.Hour, Reason: "quarter close"}},
		{`lock demo prod "for the release"`, Command{Verb: VerbLock, Project: "demo", Env: "prod", Reason: "for the release"}},
		{"lock demo prod incident 42", Command{Verb: VerbLock, Project: "demo", Env: "prod", Reason: "incident 42"}},
		{"unlock demo prod", Command{Verb: VerbUnlock, Project: "demo", Env: "prod"}},
		{"unlock * prod", Command{Verb: VerbUnlock, Project: "*", Env: "prod"}},
		{"promote demo staging to prod", Command{Verb: VerbPromote, Project: "demo", FromEnv: "staging", Env: "prod"}},
		{"status", Command{Verb: VerbStatus}},
		{"status demo", Command{Verb: VerbStatus, Project: "demo"}},
		{"history demo", Command{Verb: VerbHistory, Project: "demo"}},
		{"history demo prod", Command{Verb: VerbHistory, Project: "demo", Env: "prod"}},
		{"digest preview", Command{Verb: VerbDigest}},
		{"Digest PREVIEW team:core", Command{Verb: VerbDigest, Scope: "team:core"}},
		{"whoami", Command{Verb: VerbWhoami}},
		{"link", Command{Verb: VerbLink}},
		{"/ferry LINK", Command{Verb: VerbLink}},
		{"help link", Command{Verb: VerbHelp, Topic: VerbLink}},
		{"help", Command{Verb: VerbHelp}},
		{"help Deploy", Command{Verb: VerbHelp, Topic: VerbDeploy}},
		{"/ferry help", Command{Verb: VerbHelp}},
		{"scale api prod 5", Command{Verb: VerbScale, Project: "api", Env: "prod", Replicas: 5}},
		{"scale api prod 0", Command{Verb: VerbScale, Project: "api", Env: "prod"}},
		{"restart api prod", Command{Verb: VerbRestart, Project: "api", Env: "prod"}},
		{"config api prod set LOG_LEVEL=debug", Command{Verb: VerbConfig, Project: "api", Env: "prod", Key: "LOG_LEVEL", Value: "debug"}},
		{"config api prod SET url=https://x.example/?a=b", Command{Verb: VerbConfig, Project: "api", Env: "prod", Key: "url", Value: "https://x.example/?a=b"}},
		{`config api prod set "GREETING=hello \"you\""`, Command{Verb: VerbConfig, Project: "api", Env: "prod", Key: "GREETING", Value: `hello "you"`}},
		{"config api prod set EMPTY=", Command{Verb: VerbConfig, Project: "api", Env: "prod", Key: "EMPTY"}},
		{"config set prod set set=set", Command{Verb: VerbConfig, Project: "set", Env: "prod", Key: "set", Value: "set"}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.text)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.text, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.text, got, tt.want)
		}
		roundTrip(t, Parse, got)
	}
}

func TestParsePR(t *testing.T) {
	tests := []struct {
		text string
		want Command
	}{
		{"/ferry deploy staging", Command{Verb: VerbDeploy, Env: "staging"}},
		{"/ferry deploy prod force", Command{Verb: VerbDeploy, Env: "prod", Force: true}},
		{"/ferry deploy staging\n\nThanks! Let's see how it does.", Command{Verb: VerbDeploy, Env: "staging"}},
		{"\n\n/ferry deploy staging\nmore", Command{Verb: VerbDeploy, Env: "staging"}},
		{"/ferry deploy staging\n" + strings.Repeat("Long notes for people. ", 200), Command{Verb: VerbDeploy, Env: "staging"}},
		{"/ferry rollback prod", Command{Verb: VerbRollback, Env: "prod"}},
		{"/ferry rollback prod to 41 force", Command{Verb: VerbRollback, Env: "prod", Release: "41", Force: true}},
		{"/ferry approve #3", Command{Verb: VerbApprove, DeployID: 3}},
		{"/ferry reject 3 \"too\nlate\"\nbye", Command{Verb: VerbReject, DeployID: 3, Reason: "too\nlate"}},
		{"/ferry lock demo prod for 30m", Command{Verb: VerbLock, Project: "demo", Env: "prod", Duration: 30 * time.Minute}},
		{"/ferry status", Command{Verb: VerbStatus}},
	}
	for _, tt := range tests {
		got, err := ParsePR(tt.text)
		if err != nil {
			t.Errorf("ParsePR(%q): %v", tt.text, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePR(%q) = %#v, want %#v", tt.text, got, tt.want)
		}
		roundTrip(t, ParsePR, got)
	}
}

func TestParseErrors(t *testing.T) {
	const (
		deployUsage   = "usage: deploy <project> [<ref>] to <env>"
		rollbackUsage = "usage: rollback <project> <env> [to <release>]"
		lockUsage     = "usage: lock <project|*> <env> [for <duration>] [reason...]"
	)
	tests := []struct {
		text, want string
	}{
		{"", `no command; say "help" for the list`},
		{"  \n ", `no command; say "help" for the list`},
		{"/ferry", `no command; say "help" for the list`},
		{"hello there", `unknown command "hello"; say "help" for the list`},
		{"deplyo demo to prod", `unknown command "deplyo"; did you mean "deploy"? ` + deployUsage},
		{"stauts", `unknown command "stauts"; did you mean "status"? usage: status [<project>]`},
		{"roll demo prod", `unknown command "roll"; did you mean "rollback"? ` + rollbackUsage},
		{"help deplyo", `unknown command "deplyo"; did you mean "deploy"? ` + deployUsage},
		{"help me", `unknown command "me"; say "help" for the list`},
		{"help deploy now", `unexpected "now": usage: help [<command>]`},
		{"deploy", "deploy needs a project: " + deployUsage},
		{"deploy demo", `deploy needs "to <env>": ` + deployUsage},
		{"deploy demo main prod", `deploy needs "to <env>": ` + deployUsage},
		{"deploy demo to", "deploy needs an environment: " + deployUsage},
		{"deploy to prod", `deploy needs a project, not "to": ` + deployUsage},
		{"deploy demo force to prod", `deploy needs a ref, not "force": ` + deployUsage},
		{"deploy demo to prod now", `unexpected "now": ` + deployUsage},
		{"deploy demo to prod force force", `unexpected "force": ` + deployUsage},
		{`deploy "my app" to prod`, `"my app" is not a valid name (names have no spaces or quotes): ` + deployUsage},
		{`deploy "" to prod`, `"" is not a valid name (names have no spaces or quotes): ` + deployUsage},
		{"deploy * to prod", `"*" means every project, which only lock and unlock take: ` + deployUsage},
		{"rollback", "rollback needs a project and an environment: " + rollbackUsage},
		{"rollback demo", "rollback needs an environment: " + rollbackUsage},
		{"rollback demo prod to", `rollback needs a release after "to": ` + rollbackUsage},
		{"rollback demo prod 41", `unexpected "41": ` + rollbackUsage},
		{"approve", "approve needs a deploy number: usage: approve <deploy>"},
		{"approve abc", `"abc" is not a deploy number: usage: approve <deploy>`},
		{"approve #", `"#" is not a deploy number: usage: approve <deploy>`},
		{"approve 0", `"0" is not a deploy number: usage: approve <deploy>`},
		{"approve -3", `"-3" is not a deploy number: usage: approve <deploy>`},
		{"approve +3", `"+3" is not a deploy number: usage: approve <deploy>`},
		{"approve 99999999999999999999", `"99999999999999999999" is not a deploy number: usage: approve <deploy>`},
		{"approve 12 lgtm", `unexpected "lgtm": usage: approve <deploy>`},
		{"reject", "reject needs a deploy number: usage: reject <deploy> [reason...]"},
		{"continue", "continue needs a deploy number: usage: continue <deploy>"},
		{"pause x", `"x" is not a deploy number: usage: pause <deploy>`},
		{"cancel 1 2", `unexpected "2": usage: cancel <deploy>`},
		{"resume", "resume needs a deploy number: usage: resume <deploy>"},
		{"lock", "lock needs a project (or *) and an environment: " + lockUsage},
		{"lock demo", "lock needs an environment: " + lockUsage},
		{"lock demo for 2h", `lock needs an environment, not "for": ` + lockUsage},
		{"lock demo prod for", `lock needs a duration after "for": ` + lockUsage},
		{"lock demo prod for the release", `"the" is not a duration like 30m, 2h or 1d (quote a reason that starts with "for"): ` + lockUsage},
		{"lock demo prod for -2h", `"-2h" is not a duration like 30m, 2h or 1d (quote a reason that starts with "for"): ` + lockUsage},
		{"unlock demo", "unlock needs an environment: usage: unlock <project|*> <env>"},
		{"unlock demo prod now", `unexpected "now": usage: unlock <project|*> <env>`},
		{"promote demo staging prod", `promote needs "to <env>": usage: promote <project> <from-env> to <to-env>`},
		{"promote demo staging to", "promote needs the environment to promote to: usage: promote <project> <from-env> to <to-env>"},
		{"promote demo", "promote needs the environment to promote from: usage: promote <project> <from-env> to <to-env>"},
		{"status demo prod", `unexpected "prod": usage: status [<project>]`},
		{"history", "history needs a project: usage: history <project> [<env>]"},
		{"digest send", `digest needs "preview": the digest is sent on its schedule, and shown now with digest preview: usage: digest preview [<scope>]`},
		{"digest preview all extra", `unexpected "extra": usage: digest preview [<scope>]`},
		{"history demo prod x", `unexpected "x": usage: history <project> [<env>]`},
		{"whoami now", `unexpected "now": usage: whoami`},
		{"link U123", `unexpected "U123": usage: link`},
		{"lnik", `unknown command "lnik"; did you mean "link"? usage: link`},
		{`reject 12 "not closed`, "a quote is not closed"},
		{`reject 12 "a"b`, `a closing quote must be followed by a space, not "b"`},
		{"deploy \xff to prod", "the command is not valid UTF-8"},
		{"scale api", "scale needs an environment: usage: scale <project> <env> <replicas>"},
		{"scale api prod", "scale needs the number of replicas: usage: scale <project> <env> <replicas>"},
		{"scale api prod five", `"five" is not a number of replicas from 0 to 10000: usage: scale <project> <env> <replicas>`},
		{"scale api prod -1", `"-1" is not a number of replicas from 0 to 10000: usage: scale <project> <env> <replicas>`},
		{"scale api prod 100000", `"100000" is not a number of replicas from 0 to 10000: usage: scale <project> <env> <replicas>`},
		{"scale api prod 3 now", `unexpected "now": usage: scale <project> <env> <replicas>`},
		{"restart api", "restart needs an environment: usage: restart <project> <env>"},
		{"config api prod LOG_LEVEL=debug", `config needs "set KEY=VALUE": usage: config <project> <env> set <KEY>=<VALUE>`},
		{"config api prod set", "config set needs KEY=VALUE: usage: config <project> <env> set <KEY>=<VALUE>"},
		{"config api prod set LOG_LEVEL", `"LOG_LEVEL" is not KEY=VALUE (quote the pair when the value has spaces: "KEY=a value"): usage: config <project> <env> set <KEY>=<VALUE>`},
		{"config api prod set =x", `"=x" is not KEY=VALUE (quote the pair when the value has spaces: "KEY=a value"): usage: config <project> <env> set <KEY>=<VALUE>`},
		{"config api prod set A=hello world", `unexpected "world": usage: config <project> <env> set <KEY>=<VALUE>`},
		{"deploy demo " + strings.Repeat("r", 256) + " to prod", "the ref is 256 bytes; ferry takes a ref of at most 255 bytes: " + deployUsage},
		{"rollback demo prod to " + strings.Repeat("7", 256), "the release is 256 bytes; ferry takes a release of at most 255 bytes: " + rollbackUsage},
		{"reject 12 " + strings.Repeat("no ", 168), "the reason is 503 bytes; ferry takes a reason of at most 500 bytes: usage: reject <deploy> [reason...]"},
		{"lock demo prod " + strings.Repeat("x", 501), "the reason is 501 bytes; ferry takes a reason of at most 500 bytes: " + lockUsage},
		{"status " + strings.Repeat("x", 2000), "the command is 2007 bytes; ferry reads commands of at most 2000 bytes"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.text)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want a *ParseError", tt.text, err)
			continue
		}
		if pe.Error() != tt.want {
			t.Errorf("Parse(%q):\n got: %s\nwant: %s", tt.text, pe.Error(), tt.want)
		}
	}
}

func TestParsePRErrors(t *testing.T) {
	tests := []struct {
		text, want string
	}{
		{"/ferry deploy", "deploy needs an environment: usage: deploy <env>"},
		{"/ferry deploy demo to prod", `unexpected "to": usage: deploy <env>`},
		{"/ferry rollback", "rollback needs an environment: usage: rollback <env> [to <release>]"},
		{"/ferry deplyo prod", `unknown command "deplyo"; did you mean "deploy"? usage: deploy <env>`},
		{"/ferry deploy " + strings.Repeat("x", 2000) + "\nwhy", "the command is 2014 bytes; ferry reads commands of at most 2000 bytes"},
	}
	for _, tt := range tests {
		_, err := ParsePR(tt.text)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParsePR(%q):\n got: %v\nwant: %s", tt.text, err, tt.want)
		}
	}
}

func TestAddressed(t *testing.T) {
	for text, want := range map[string]bool{
		"/ferry deploy prod": true,
		"@Ferry status":      true,
		"ferry":              true,
		"  ferry help":       true,
		"ferryman, help":     false,
		"looks good to me":   false,
		"":                   false,
	} {
		if got := Addressed(text); got != want {
			t.Errorf("Addressed(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestCommandString(t *testing.T) {
	tests := []struct {
		cmd  Command
		want string
	}{
		{Command{Verb: VerbDeploy, Project: "demo", Ref: "main", Env: "prod", Force: true}, "deploy demo main to prod force"},
		{Command{Verb: VerbDeploy, Env: "staging"}, "deploy staging"},
		{Command{Verb: VerbRollback, Project: "demo", Env: "prod", Release: "41"}, "rollback demo prod to 41"},
		{Command{Verb: VerbRollback, Project: "demo", Env: "for"}, `rollback demo "for"`},
		{Command{Verb: VerbApprove, DeployID: 12}, "approve 12"},
		{Command{Verb: VerbReject, DeployID: 12, Reason: `say "no"`}, `reject 12 "say \"no\""`},
		{Command{Verb: VerbLock, Project: "*", Env: "prod", Duration: 26 * time.Hour, Reason: "freeze"}, `lock * prod for 1d2h "freeze"`},
		{Command{Verb: VerbPromote, Project: "demo", FromEnv: "staging", Env: "prod"}, "promote demo staging to prod"},
		{Command{Verb: VerbHistory, Project: "demo"}, "history demo"},
		{Command{Verb: VerbDigest, Scope: "project:demo"}, "digest preview project:demo"},
		{Command{Verb: VerbHelp, Topic: VerbLock}, "help lock"},
		{Command{Verb: VerbLink}, "link"},
		{Command{Verb: VerbScale, Project: "api", Env: "prod", Replicas: 3}, "scale api prod 3"},
		{Command{Verb: VerbConfig, Project: "api", Env: "prod", Key: "A", Value: "b c"}, `config api prod set "A=b c"`},
		{Command{Verb: VerbConfig, Project: "api", Env: "prod", Key: "A"}, "config api prod set A="},
	}
	for _, tt := range tests {
		if got := tt.cmd.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.cmd, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	good := map[string]time.Duration{
		"30m": 30 * time.Minute, "2h": 2 * time.Hour, "1h30m": 90 * time.Minute, "1d": 24 * time.Hour,
		"2d12h": 60 * time.Hour, "0.5d": 12 * time.Hour, "1500ms": 1500 * time.Millisecond,
	}
	for s, want := range good {
		got, ok := ParseDuration(s)
		if !ok || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, ok, want)
		}
		if back, ok := ParseDuration(formatDuration(got)); !ok || back != got {
			t.Errorf("formatDuration(%v) = %q reads back as %v", got, formatDuration(got), back)
		}
	}
	for _, s := range []string{"", "d", "0", "0d", "-1h", "1d-1h", "+1h", "1e3d", "1..5d", "2h1d", "forever", "999999999999d", "106751d24h"} {
		if d, ok := ParseDuration(s); ok {
			t.Errorf("ParseDuration(%q) = %v, want an error", s, d)
		}
	}
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 90 * time.Minute: "1h30m", 36 * time.Hour: "1d12h", 48 * time.Hour: "2d",
		time.Second + time.Nanosecond: "1.000000001s", 24*time.Hour + time.Second: "1d1s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, s := range verbs {
		if got := Usage(s.verb); !strings.HasPrefix(got, string(s.verb)) {
			t.Errorf("Usage(%s) = %q", s.verb, got)
		}
		if s.summary == "" || s.details == "" || len(s.examples) == 0 {
			t.Errorf("%s: help is missing a summary, details or examples", s.verb)
		}
		for _, e := range s.examples {
			parse := Parse
			if strings.HasPrefix(e, "/ferry") {
				parse = ParsePR
			}
			if _, err := parse(e); err != nil {
				t.Errorf("example %q of %s: %v", e, s.verb, err)
			}
		}
	}
	if got := Usage("frobnicate"); got != "" {
		t.Errorf("Usage(frobnicate) = %q, want none", got)
	}
}

func TestHelp(t *testing.T) {
	var b strings.Builder
	b.WriteString(Help(""))
	for _, s := range verbs {
		b.WriteString("\n==== help " + string(s.verb) + "\n")
		b.WriteString(Help(string(s.verb)))
	}
	b.WriteString("\n==== help deplyo\n")
	b.WriteString(Help("deplyo"))
	golden(t, "help.txt", b.String())
}

// roundTrip checks that cmd, written back, parses to itself.
func roundTrip(t *testing.T, parse func(string) (Command, error), cmd Command) {
	t.Helper()
	s := cmd.String()
	back, err := parse(s)
	if err != nil {
		t.Fatalf("%#v renders as %q, which does not parse: %v", cmd, s, err)
	}
	if !reflect.DeepEqual(back, cmd) {
		t.Fatalf("%#v renders as %q, which parses as %#v", cmd, s, back)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"deploy demo v1.2.0 to prod force", "/ferry deploy staging", "rollback demo prod to 41",
		"approve #12", `reject 12 "bad \"build\""`, "lock * prod for 1.5d freeze", "unlock demo prod",
		"promote demo staging to prod", "status", "history demo prod", "whoami", "help deploy",
		"deploy demo \"to\" to “force”", "reject 1 a\nb", "@ferry lock demo prod for 2d3h x y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, parse := range []func(string) (Command, error){Parse, ParsePR} {
			cmd, err := parse(text)
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Error() == "" {
					t.Fatalf("parse(%q): %v is not a *ParseError with a message", text, err)
				}
				continue
			}
			roundTrip(t, parse, cmd)
		}
	})
}
