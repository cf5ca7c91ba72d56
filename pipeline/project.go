package pipeline

import (
	"fmt"
	"math"
	"regexp"
	"time"
)

// Project is a deployable thing: a repository and the environments it goes to.
type Project struct {
	Name    string
	Repo    string // git URL or local path
	Channel string // chat channel for its deploy cards
	Envs    []Environment
	// Promotions move what succeeded in one environment to the next.
	Promotions []Promotion
}

// Env returns the named environment of the project.
func (p Project) Env(name string) (Environment, bool) {
	for _, e := range p.Envs {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// EnvNames lists the project's environments in configuration order.
func (p Project) EnvNames() []string {
	names := make([]string, len(p.Envs))
	for i, e := range p.Envs {
		names[i] = e.Name
	}
	return names
}

// Environment is one place a project deploys to, and its rules.
type Environment struct {
	Name     string
	Branches []*regexp.Regexp // branches that deploy here
	Tags     []*regexp.Regexp // tags that deploy here
	// DefaultRef is deployed when a request names no ref; "" means a ref is required.
	DefaultRef string
	Auto       bool // deploy on push of a matching ref
	Target     TargetSpec
	// Deployers may request deploys (user or team names); empty: every known user.
	Deployers []string
	Approvals ApprovalPolicy
	Strategy  Strategy
	LockTTL   time.Duration // default TTL of a lock; 0: until unlocked
	// URL is where people reach what the environment runs: a text/template
	// over URLData, such as https://{{.Env}}.example.com or
	// https://pr-{{.Ref}}.preview.example.com; "": none. See URLFor.
	URL string
	// Optional environments are left out of the routing of a repository's
	// forge events (pushes, labels, pull request commands) until the
	// repository's own .ferry.yaml adds them. Commands in chat reach them
	// as any other.
	Optional bool
}

// TargetSpec names a target driver and carries its parameters, which the
// driver itself decodes.
type TargetSpec struct {
	Type   string
	Params map[string]any
}

// ApprovalPolicy says how many people must approve a deploy and who may.
type ApprovalPolicy struct {
	Required int
	From     []string      // user or team names; empty: any known user but the requester
	Expire   time.Duration // 0: approvals are awaited forever
}

// Continue modes of a strategy.
const (
	ContinueAuto   = "auto"
	ContinueManual = "manual"
)

// Strategy is how a deploy rolls out across units.
type Strategy struct {
	Batches        []BatchSize   // cumulative sizes; empty: every unit at once
	Bake           time.Duration // wait between batches, then check health
	Continue       string        // ContinueAuto or ContinueManual
	MaxFailedUnits int           // failures tolerated before the rollout brakes
	AutoRollback   bool          // roll back instead of braking
	Parallel       int           // units installed at once within a batch; 0: all of the batch
}

// BatchSize is a cumulative batch size: a count of units or a percentage of all.
type BatchSize struct {
	Count   int
	Percent float64
}

func (b BatchSize) String() string {
	if b.Percent > 0 {
		return fmt.Sprintf("%g%%", b.Percent)
	}
	return fmt.Sprint(b.Count)
}

// Plan splits units into batches. Sizes are cumulative: [1, 50%, 100%] over
// four units gives batches of 1, 1 and 2. Empty batches are dropped and the
// last batch always reaches every unit.
func (s Strategy) Plan(units []string) [][]string {
	n := len(units)
	var plan [][]string
	done := 0
	for _, b := range s.Batches {
		upto := b.Count
		if b.Percent > 0 {
			upto = int(math.Ceil(b.Percent * float64(n) / 100))
		}
		upto = min(upto, n)
		if upto > done {
			plan = append(plan, units[done:upto])
			done = upto
		}
	}
	if done < n {
		plan = append(plan, units[done:])
	}
	return plan
}

// User is a person ferry knows, with their identities on each platform.
type User struct {
	Name         string
	Admin        bool
	Teams        []string
	PasswordHash string            // bcrypt, for the web console
	OIDC         string            // who the identity provider says they are (auth.oidc.user_claim); "": Name
	Tokens       []string          // API tokens
	Chat         map[string]string // platform → chat user ID
	Forge        map[string]string // platform → forge login
}

// Team is a named group of users.
type Team struct {
	Name    string
	Members []string
}

// Actor is the verified identity a command acts as.
type Actor struct {
	Name  string
	Admin bool
	Teams []string
}

// Is reports whether the actor is one of names, directly or through a team.
func (a Actor) Is(names []string) bool {
	for _, n := range names {
		if n == a.Name {
			return true
		}
		for _, t := range a.Teams {
			if n == t {
				return true
			}
		}
	}
	return false
}

// ChatLink links an account on a chat platform to a ferry user, for people
// whose account the configuration does not name (the link command).
type ChatLink struct {
	Platform string // "slack", …
	ChatID   string // the account's ID on the platform
	User     string // the ferry user
	Created  time.Time
}
