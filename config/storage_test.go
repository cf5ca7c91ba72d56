package config

import (
	"strings"
	"testing"
	"time"
)

func TestStorageRetention(t *testing.T) {
	base := "users: {alice: {tokens: [alice-token-0123456789]}}\n" +
		"projects: {demo: {repo: /srv/demo.git, environments: {dev: {branches: ['^main$'], target: {type: local, hosts: [h1], root: hosts}}}}}\n"
	cases := []struct {
		name, storage string
		path          string
		r             Retention
		problem       string
	}{
		{"a path", "storage: var/ferry.db\n", "/etc/ferry/var/ferry.db", Retention{24 * time.Hour, 7 * 24 * time.Hour}, ""},
		{"none", "", "/etc/ferry/ferry.db", Retention{24 * time.Hour, 7 * 24 * time.Hour}, ""},
		{"a mapping", "storage:\n  path: db/f.db\n  retention: {bodies: 2h, deliveries: 3d}\n", "/etc/ferry/db/f.db", Retention{2 * time.Hour, 72 * time.Hour}, ""},
		{"bodies only", "storage: {retention: {bodies: 36h}}\n", "/etc/ferry/ferry.db", Retention{36 * time.Hour, 7 * 24 * time.Hour}, ""},
		{"ids shorter than bodies", "storage: {retention: {bodies: 3d, deliveries: 1d}}\n", "", Retention{}, "storage.retention.deliveries (24h0m0s) must be at least storage.retention.bodies (72h0m0s)"},
		{"a typo", "storage: {retention: {body: 3d}}\n", "", Retention{}, `"body"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := loader(nil).Parse("ferry.yaml", []byte(c.storage+base), "/etc/ferry")
			if c.problem != "" {
				if err == nil || !strings.Contains(err.Error(), c.problem) {
					t.Fatalf("Parse = %v; want a problem containing %q", err, c.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Storage != c.path || cfg.Retention != c.r {
				t.Errorf("storage %s, retention %+v; want %s, %+v", cfg.Storage, cfg.Retention, c.path, c.r)
			}
		})
	}
}

// TestDurations: outbox.give_up and storage.lease, their defaults and
// their problems.
func TestDurations(t *testing.T) {
	base := "users: {alice: {tokens: [alice-token-0123456789]}}\n" +
		"projects: {demo: {repo: /srv/demo.git, environments: {dev: {branches: ['^main$'], target: {type: local, hosts: [h1], root: hosts}}}}}\n"
	giveUp := func(c *Config) time.Duration { return c.GiveUp }
	lease := func(c *Config) time.Duration { return c.Lease }
	for _, c := range []struct {
		yaml    string
		of      func(*Config) time.Duration
		want    time.Duration
		problem string
	}{
		{"", giveUp, DefaultGiveUp, ""},
		{"outbox: {give_up: 6h}\n", giveUp, 6 * time.Hour, ""},
		{"outbox: {give_up: soon}\n", giveUp, 0, "outbox.give_up"},
		{"outbox: {giveup: 6h}\n", giveUp, 0, `"giveup"`},
		{"", lease, 15 * time.Second, ""},
		{"storage: {path: f.db, lease: 40s}\n", lease, 40 * time.Second, ""},
		{"storage: {lease: 200ms}\n", lease, 0, "storage.lease is 200ms: give at least 1s"},
		{"storage: {lease: soon}\n", lease, 0, "storage.lease"},
	} {
		cfg, err := loader(nil).Parse("ferry.yaml", []byte(c.yaml+base), "/etc/ferry")
		if c.problem != "" {
			if err == nil || !strings.Contains(err.Error(), c.problem) {
				t.Errorf("%q: Parse = %v; want a problem naming %s", c.yaml, err, c.problem)
			}
			continue
		}
		if err != nil || c.of(cfg) != c.want {
			t.Errorf("%q: %v, %v; want %v", c.yaml, c.of(cfg), err, c.want)
		}
	}
}

func TestMetrics(t *testing.T) {
	base := "users: {alice: {tokens: [alice-token-0123456789]}}\n" +
		"projects: {demo: {repo: /srv/demo.git, environments: {dev: {branches: ['^main$'], target: {type: local, hosts: [h1], root: hosts}}}}}\n"
	for _, c := range []struct {
		yaml    string
		want    Metrics
		problem string
	}{
		{"", Metrics{}, ""},
		{"metrics: {listen: '127.0.0.1:9090'}\n", Metrics{Listen: "127.0.0.1:9090"}, ""},
		{"metrics: {token: scrape-token-0123456789}\n", Metrics{Token: "scrape-token-0123456789"}, ""},
		{"metrics: {listen: '127.0.0.1:9090', token: scrape-token-0123456789}\n", Metrics{Listen: "127.0.0.1:9090", Token: "scrape-token-0123456789"}, ""},
		{"metrics: {listen: 9090}\n", Metrics{}, "metrics.listen must be host:port"},
		{"metrics: {listen: '127.0.0.1:8080'}\n", Metrics{}, "metrics.listen is listen's address"},
		{"metrics: {token: short}\n", Metrics{}, "metrics.token is shorter than 16"},
		{"metrics: {port: 9090}\n", Metrics{}, `"port"`},
	} {
		cfg, err := loader(nil).Parse("ferry.yaml", []byte(c.yaml+base), "/etc/ferry")
		if c.problem != "" {
			if err == nil || !strings.Contains(err.Error(), c.problem) {
				t.Errorf("%q: Parse = %v; want a problem containing %s", c.yaml, err, c.problem)
			}
			continue
		}
		if err != nil || cfg.Metrics != c.want {
			t.Errorf("%q: metrics %+v, %v; want %+v", c.yaml, cfg.Metrics, err, c.want)
		}
	}
}
