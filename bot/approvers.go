package bot

import (
	"slices"

	"github.com/ferrybot/ferry/pipeline"
)

// Directory is what WaitingFor needs of ferry's configuration;
// *config.Config has it.
type Directory interface {
	User(name string) (pipeline.User, bool)
	Team(name string) (pipeline.Team, bool)
}

// WaitingFor says who a card awaiting approval waits for, for chats to
// mention: the users its environment's approvals.from names (users, and
// teams' members), in order, each once, but the requester and those who
// approved already. anyone is true when the environment names nobody:
// anyone but the requester may approve. Both are empty for a card not
// awaiting approval, or of a project not in projects.
func WaitingFor(projects []pipeline.Project, dir Directory, c Card) (users []string, anyone bool) {
	if c.State != pipeline.StateAwaitingApproval {
		return nil, false
	}
	i := slices.IndexFunc(projects, func(p pipeline.Project) bool { return p.Name == c.Project })
	if i < 0 {
		return nil, false
	}
	env, ok := projects[i].Env(c.Env)
	if !ok {
		return nil, false
	}
	if len(env.Approvals.From) == 0 {
		return nil, true
	}
	add := func(n string) {
		if n != c.Requester && !slices.Contains(c.Approvals.By, n) && !slices.Contains(users, n) {
			users = append(users, n)
		}
	}
	for _, n := range env.Approvals.From {
		if _, ok := dir.User(n); ok {
			add(n)
			continue
		}
		if t, ok := dir.Team(n); ok {
			for _, m := range t.Members {
				add(m)
			}
		}
	}
	return users, false
}
