package github

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	gh "github.com/google/go-github/v88/github"

	"github.com/ferrybot/ferry/bot"
	"github.com/ferrybot/ferry/forge"
	"github.com/ferrybot/ferry/pipeline"
)

// commentOf normalizes a comment event; ok is false unless it is a new
// comment on a pull request.
func commentOf(e *gh.IssueCommentEvent) (forge.Comment, bool) {
	if e.GetAction() != "created" || !e.GetIssue().IsPullRequest() {
		return forge.Comment{}, false
	}
	return forge.Comment{
		Repo: repoOf(e.GetRepo()), Number: e.GetIssue().GetNumber(), ID: e.GetComment().GetID(),
		Body: e.GetComment().GetBody(), Author: e.GetComment().GetUser().GetLogin(),
		Open: e.GetIssue().GetState() == "open",
	}, true
}

// comment runs the command of a pull request comment addressed to ferry,
// as its author, and answers on the pull request. Its author's permission
// is checked first (and kept a while): a comment from someone without write
// permission gets one reaction and nothing else, so that anyone who may
// comment can neither make ferry repeat their text on the pull request nor
// spend more than a call or two of its API quota.
func (a *Adapter) comment(ctx context.Context, delivery string, installation int64, c forge.Comment) {
	if !bot.Addressed(c.Body) {
		return
	}
	log := a.log.With("platform", platform, "delivery", delivery, "repo", c.Repo.FullName, "pr", c.Number, "actor", c.Author)
	api, err := a.client(installation)
	if err != nil || a.bot == nil {
		log.InfoContext(ctx, "github: a command in a comment, but ferry cannot call GitHub to answer it; ignored", "err", err)
		return
	}
	projects := a.projectsOf(c.Repo)
	if len(projects) == 0 {
		log.InfoContext(ctx, "github: a command on a repository no project deploys; ignored")
		return
	}
	owner, repo, _ := strings.Cut(c.Repo.FullName, "/")
	perm, err := a.permission(ctx, api, owner, repo, c.Author)
	if err != nil || !canWrite(perm) {
		if err != nil {
			log.ErrorContext(ctx, "github: permission of a commenter; not answering", "err", err)
		} else {
			log.InfoContext(ctx, "github: a command from someone without write permission; not answering", "permission", perm)
		}
		a.react(ctx, api, log, owner, repo, c.ID, "confused")
		return
	}
	a.react(ctx, api, log, owner, repo, c.ID, "eyes")
	text, ok := a.commentReply(ctx, api, log, c, projects)
	defer func() {
		if ok {
			a.react(ctx, api, log, owner, repo, c.ID, "rocket")
		} else {
			a.react(ctx, api, log, owner, repo, c.ID, "confused")
		}
	}()
	a.answer(ctx, api, log, c.Repo.FullName, c.Number, c.Author, text)
}

// react adds a reaction to a comment; a failure is logged and changes
// nothing else.
func (a *Adapter) react(ctx context.Context, api *gh.Client, log *slog.Logger, owner, repo string, id int64, content string) {
	if err := a.call(ctx, "reactions", func() error {
		_, _, err := api.Reactions.CreateIssueCommentReaction(ctx, owner, repo, id, content)
		return err
	}); err != nil {
		log.WarnContext(ctx, "github: react to a comment", "reaction", content, "err", err)
	}
}

// commentReply decides and does what a comment asks, and says what
// happened, in Markdown; ok is false when nothing was done.
func (a *Adapter) commentReply(ctx context.Context, api *gh.Client, log *slog.Logger, c forge.Comment, projects []pipeline.Project) (text string, ok bool) {
	text, err := a.runComment(ctx, api, log, c, projects)
	if err != nil {
		return err.Error(), false
	}
	return text, true
}

// refusal is a reason nothing was done, said to the commenter.
type refusal string

func (r refusal) Error() string { return string(r) }

func (a *Adapter) runComment(ctx context.Context, api *gh.Client, log *slog.Logger, c forge.Comment, projects []pipeline.Project) (string, error) {
	if !c.Open {
		return "", refusal("this pull request is closed; ferry takes commands on open pull requests only. Nothing was done.")
	}
	cmd, err := bot.ParsePR(c.Body)
	if err != nil {
		return "", refusal(err.Error())
	}
	actor := pipeline.Actor{}
	if cmd.Verb != bot.VerbHelp {
		if actor, err = a.authorize(ctx, api, log, c.Repo.FullName, c.Author); err != nil {
			return "", err
		}
	}
	if cmd.Verb == bot.VerbDeploy || cmd.Verb == bot.VerbRollback {
		if len(projects) > 1 {
			return "", refusal(fmt.Sprintf("%s is deployed by several projects (%s); ferry cannot tell which one you mean here. Nothing was done.", c.Repo.FullName, projectNames(projects)))
		}
		cmd.Project = projects[0].Name
	}
	at := prRef{repo: c.Repo.FullName, number: c.Number, login: c.Author}
	var r bot.Reply
	if cmd.Verb == bot.VerbDeploy {
		req, err := a.deployRequest(ctx, api, log, c, projects[0], cmd)
		if err != nil {
			return "", err
		}
		r = a.request(ctx, actor, req, at)
	} else {
		r = a.do(ctx, actor, cmd, at)
	}
	if r.Error {
		return "", refusal(markdown(r))
	}
	return markdown(r), nil
}

// deployRequest is the deploy a /ferry deploy comment asks for: of the
// pull request's head commit, as GitHub names it once when the comment is
// handled, unless it names a ref, to the environment as the .ferry.yaml at
// the pull request's head makes it.
func (a *Adapter) deployRequest(ctx context.Context, api *gh.Client, log *slog.Logger, c forge.Comment, p pipeline.Project, cmd bot.Command) (pipeline.Request, error) {
	owner, repo, _ := strings.Cut(c.Repo.FullName, "/")
	var pr *gh.PullRequest
	err := a.call(ctx, "pulls.get", func() (err error) {
		pr, _, err = api.PullRequests.Get(ctx, owner, repo, c.Number)
		return err
	})
	if err != nil {
		log.ErrorContext(ctx, "github: read a pull request", "err", err)
		return pipeline.Request{}, refusal("ferry could not read this pull request because of an error; it is in ferry's log. Nothing was done.")
	}
	commit := ""
	if cmd.Ref == "" {
		if !strings.EqualFold(pr.GetHead().GetRepo().GetFullName(), c.Repo.FullName) {
			return pipeline.Request{}, refusal(fmt.Sprintf("this pull request's branch is in %s, a fork; ferry deploys branches of %s only. Nothing was done.", pr.GetHead().GetRepo().GetFullName(), c.Repo.FullName))
		}
		cmd.Ref, commit = pr.GetHead().GetRef(), pr.GetHead().GetSHA()
	}
	override, err := a.envAt(ctx, api, log, p, c.Repo.FullName, pr.GetHead().GetSHA(), cmd.Env)
	if err != nil {
		return pipeline.Request{}, err
	}
	return pipeline.Request{Project: p.Name, Env: cmd.Env, Ref: cmd.Ref, Commit: commit, Force: cmd.Force, Override: override}, nil
}

// authorize returns the ferry user a GitHub login acts as, when it has
// write permission on the repository (owner/name) and is linked in
// ferry.yaml; otherwise a refusal that says why.
func (a *Adapter) authorize(ctx context.Context, api *gh.Client, log *slog.Logger, fullName, login string) (pipeline.Actor, error) {
	owner, repo, _ := strings.Cut(fullName, "/")
	p, err := a.permission(ctx, api, owner, repo, login)
	if err != nil {
		log.ErrorContext(ctx, "github: permission of a user", "err", err)
		return pipeline.Actor{}, refusal("ferry could not check your permission on this repository because of an error; it is in ferry's log. Nothing was done.")
	}
	if !canWrite(p) {
		return pipeline.Actor{}, refusal(fmt.Sprintf("ferry takes commands from people with write permission on %s; you have %s. Nothing was done.", fullName, p))
	}
	u, ok := a.users.UserByForge(platform, login)
	if !ok {
		return pipeline.Actor{}, refusal(fmt.Sprintf("ferry does not know your GitHub login %s: ask an admin to add forge: {github: %s} to your user in ferry.yaml. Nothing was done.", login, login))
	}
	return a.users.Actor(u.Name), nil
}

// canWrite reports whether a permission lets its holder give ferry
// commands.
func canWrite(permission string) bool { return permission == "admin" || permission == "write" }

// maxPerms is how many permissions the adapter keeps at most: when it is
// full, the expired ones go, then the one that expires first.
const maxPerms = 1024

// permission is a login's permission on a repository (admin, write, read,
// none), asked of the API and kept for permTTL.
func (a *Adapter) permission(ctx context.Context, api *gh.Client, owner, repo, login string) (string, error) {
	key := strings.ToLower(owner + "/" + repo + "/" + login)
	now := a.clock.Now()
	a.permMu.Lock()
	e, ok := a.perms[key]
	a.permMu.Unlock()
	if ok && now.Before(e.expires) {
		return e.permission, nil
	}
	var perm *gh.RepositoryPermissionLevel
	err := a.call(ctx, "repos.get_permission", func() (err error) {
		perm, _, err = api.Repositories.GetPermissionLevel(ctx, owner, repo, login)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("permission of %s on %s/%s: %w", login, owner, repo, err)
	}
	a.permMu.Lock()
	a.keepPermission(key, permEntry{permission: perm.GetPermission(), expires: now.Add(permTTL)}, now)
	a.permMu.Unlock()
	return perm.GetPermission(), nil
}

// keepPermission keeps e under key, making room first when maxPerms are
// kept. The caller holds permMu.
func (a *Adapter) keepPermission(key string, e permEntry, now time.Time) {
	if _, ok := a.perms[key]; !ok && len(a.perms) >= maxPerms {
		for k, old := range a.perms {
			if !now.Before(old.expires) {
				delete(a.perms, k)
			}
		}
		for len(a.perms) >= maxPerms {
			first := ""
			for k, old := range a.perms {
				if first == "" || old.expires.Before(a.perms[first].expires) {
					first = k
				}
			}
			delete(a.perms, first)
		}
	}
	a.perms[key] = e
}

// permEntry is a cached permission.
type permEntry struct {
	permission string
	expires    time.Time
}

// markdown renders a reply for a comment: a one-line text as it is, and
// anything longer (cards, tables, help), which is aligned plain text, in a
// code block.
func markdown(r bot.Reply) string {
	text := strings.TrimRight(bot.RenderReply(r), "\n")
	if !strings.Contains(text, "\n") {
		return text
	}
	return "```\n" + text + "\n```"
}

func projectNames(ps []pipeline.Project) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}
