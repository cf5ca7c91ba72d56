package main

import (
	"context"
	"fmt"
	"slices"

	dingtalkbot "github.com/ferrybot/ferry/bot/dingtalk"
	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/dashboards"
	"github.com/ferrybot/ferry/pipeline"
)

// dingtalkEnabled reports whether ferry.yaml has DingTalk: an app, or
// custom robots.
func dingtalkEnabled(cfg *config.Config) bool {
	return cfg.DingTalk.Enabled() || len(cfg.DingTalk.Robots) > 0
}

// dingtalkRobots are the custom robots of ferry.yaml, each taking the
// cards of the deploys in its scope (none with cards: false), whose teams
// are those loaded now.
func dingtalkRobots(cfg *config.Config, teams teams) ([]dingtalkbot.Robot, error) {
	var robots []dingtalkbot.Robot
	for _, r := range cfg.DingTalk.Robots {
		robot := dingtalkbot.Robot{Name: r.Name, Webhook: r.Webhook, Secret: r.Secret}
		if r.Cards {
			scope, err := cfg.Directory().ParseScope(r.Scope)
			if err != nil {
				return nil, fmt.Errorf("dingtalk robot %s: %w", r.Name, err)
			}
			robot.Cards = inScope(teams, scope)
		}
		robots = append(robots, robot)
	}
	return robots, nil
}

// teams are ferry's teams; *config.Live has them.
type teams interface {
	Team(name string) (pipeline.Team, bool)
}

// inScope tells the deploys a dashboards scope covers.
func inScope(teams teams, s dashboards.Scope) func(pipeline.Deploy) bool {
	return func(d pipeline.Deploy) bool {
		switch s.Kind {
		case dashboards.ScopeProject:
			return d.Project == s.Name
		case dashboards.ScopeEnv:
			return d.Env == s.Name
		case dashboards.ScopePerson:
			return d.Requester == s.Name
		case dashboards.ScopeTeam:
			t, ok := teams.Team(s.Name)
			return ok && slices.Contains(t.Members, d.Requester)
		}
		return true
	}
}

// digestRouter posts each digest through the chat its channel names
// (config.DigestPlatform): Slack, or DingTalk's app or robots.
type digestRouter struct {
	slack, dingtalk dashboards.Poster // nil: not configured
}

func (r digestRouter) PostDigest(ctx context.Context, channel string, g dashboards.Digest, chart []byte) error {
	p := r.slack
	if platform, _ := config.DigestPlatform(channel); platform != config.DigestSlack {
		p = r.dingtalk
	}
	if p == nil {
		return fmt.Errorf("digest for %s: that chat is not configured", channel)
	}
	return p.PostDigest(ctx, channel, g, chart)
}
