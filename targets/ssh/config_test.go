package ssh_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/ssh"
)

func TestParseConfig(t *testing.T) {
	cfg, err := ssh.ParseConfig(map[string]any{
		"hosts": []any{
			"web1",
			"web2.example.com:2222",
			"deploy@10.0.0.3",
			"ops@10.0.0.4:2200",
			map[string]any{"name": "db1", "address": "10.0.1.1", "port": 2201, "user": "root", "root": "/srv/db"},
		},
		"user":            "deploy",
		"port":            22,
		"key":             "keys/id_ed25519",
		"agent":           true,
		"known_hosts":     "known_hosts",
		"root":            "/srv/{{host}}/app",
		"build":           "make",
		"path":            "dist",
		"exclude":         []any{"*.log"},
		"compress":        true,
		"pre_deploy":      "echo pre",
		"post_deploy":     []any{"echo post"},
		"pre_release":     "./migrate",
		"post_release":    "systemctl restart app",
		"health":          map[string]any{"url": "http://{{host}}:8080/health", "timeout": "3s"},
		"keep":            3,
		"vars":            map[string]any{"PORT": 8080, "DEBUG": false},
		"connect_timeout": "5s",
		"step_timeout":    600,
		"keepalive":       "30s",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := ssh.Config{
		Hosts: []ssh.Host{
			{Name: "web1", Address: "web1"},
			{Name: "web2.example.com:2222", Address: "web2.example.com", Port: 2222},
			{Name: "10.0.0.3", Address: "10.0.0.3", User: "deploy"},
			{Name: "10.0.0.4:2200", Address: "10.0.0.4", Port: 2200, User: "ops"},
			{Name: "db1", Address: "10.0.1.1", Port: 2201, User: "root", Root: "/srv/db"},
		},
		User: "deploy", Port: 22, Key: "keys/id_ed25519", Agent: true, KnownHosts: "known_hosts",
		Root: "/srv/{{host}}/app", Build: []string{"make"}, Path: "dist", Exclude: []string{"*.log"}, Compress: true,
		PreDeploy: []string{"echo pre"}, PostDeploy: []string{"echo post"},
		PreRelease: []string{"./migrate"}, PostRelease: []string{"systemctl restart app"},
		Health: ssh.Health{URL: "http://{{host}}:8080/health", Timeout: 3 * time.Second},
		Keep:   3, Vars: map[string]string{"PORT": "8080", "DEBUG": "false"},
		ConnectTimeout: 5 * time.Second, StepTimeout: 10 * time.Minute, KeepAlive: 30 * time.Second,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config =\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestParseConfigErrors(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"hosts": []any{"web1"}, "key": "id", "known_hosts": "kh", "root": "/srv/app"}
	}
	for _, tc := range []struct {
		edit func(map[string]any)
		want string
	}{
		{func(m map[string]any) { m["hots"] = 1 }, "unknown key hots; allowed: agent, build, compress, connect_timeout, exclude, health, hosts, keep, keepalive, key, known_hosts, path, port, post_deploy, post_release, pre_deploy, pre_release, root, step_timeout, user, vars"},
		{func(m map[string]any) { delete(m, "hosts") }, "hosts: name at least one host"},
		{func(m map[string]any) { m["hosts"] = []any{"web1", "web1"} }, "hosts: web1 is listed twice; give the hosts distinct names"},
		{func(m map[string]any) { m["hosts"] = []any{map[string]any{"name": "a", "adress": "x"}} }, "unknown key hosts[0].adress; allowed: hosts[0].address, hosts[0].name, hosts[0].port, hosts[0].root, hosts[0].user"},
		{func(m map[string]any) { m["hosts"] = []any{"web1:99999"} }, `hosts[0]: "web1:99999": "99999" is not a TCP port`},
		{func(m map[string]any) { m["hosts"] = []any{"a b"} }, `hosts: "a b" cannot name a unit`},
		{func(m map[string]any) { m["hosts"] = []any{7} }, "hosts[0]: want user@host:port or {name, address, port, user, root}, got a number"},
		{func(m map[string]any) { delete(m, "root") }, "root: say where releases live on the hosts (web1 has no root of its own)"},
		{func(m map[string]any) { m["root"] = "srv/app" }, `root: "srv/app" must be an absolute directory on the hosts, not /`},
		{func(m map[string]any) { delete(m, "key") }, "key: give a private key file, or agent: true to use ssh-agent"},
		{func(m map[string]any) { delete(m, "known_hosts") }, "known_hosts: name the known_hosts file the hosts' keys are checked against"},
		{func(m map[string]any) { m["agent"] = "yes" }, "agent: want true or false, got a string"},
		{func(m map[string]any) { m["path"] = "../x" }, `path: "../x" must be a subdirectory of the checkout`},
		{func(m map[string]any) { m["keep"] = -1 }, "keep: -1 is negative"},
		{func(m map[string]any) { m["vars"] = map[string]any{"FERRY_X": "1"} }, "vars: FERRY_X: FERRY_* variables are set by ferry"},
		{func(m map[string]any) { m["step_timeout"] = "soon" }, `step_timeout: "soon" is not a duration like 10s`},
		{func(m map[string]any) { m["health"] = map[string]any{"command": "x", "url": "http://h"} }, "health: give a command or a url, not both"},
		{func(m map[string]any) { m["health"] = map[string]any{"url": "ftp://h"} }, `health.url: "ftp://h" is not an http(s) URL`},
		{func(m map[string]any) { m["health"] = map[string]any{"timeout": "1s"} }, "health: give a command or a url"},
	} {
		params := base()
		tc.edit(params)
		_, err := ssh.ParseConfig(params)
		if err == nil || !strings.HasPrefix(err.Error(), "ssh: invalid") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error = %v\nwant %s", err, tc.want)
		}
		if err != nil && !errors.Is(err, pipeline.ErrInvalid) {
			t.Errorf("%v is no ErrInvalid", err)
		}
	}
}
