package workspace_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace"
)

func TestParams(t *testing.T) {
	p := workspace.NewParams("local", map[string]any{
		"s": "x", "list": []any{"a", "b"}, "one": "a", "n": 3.0, "b": true,
		"d": "1m30s", "secs": 2, "vars": map[string]any{"A": 1, "B": "b", "C": false},
	})
	if got := p.String("s"); got != "x" {
		t.Errorf("String = %q", got)
	}
	if got := p.Strings("list"); len(got) != 2 || got[1] != "b" {
		t.Errorf("Strings = %q", got)
	}
	if got := p.Strings("one"); len(got) != 1 || got[0] != "a" {
		t.Errorf("Strings of a string = %q", got)
	}
	if got := p.Int("n"); got != 3 {
		t.Errorf("Int = %d", got)
	}
	if !p.Bool("b") || p.Bool("missing") {
		t.Error("Bool")
	}
	if got := p.Duration("d"); got != 90*time.Second {
		t.Errorf("Duration = %s", got)
	}
	if got := p.Duration("secs"); got != 2*time.Second {
		t.Errorf("Duration of a number = %s", got)
	}
	if got := p.Vars("vars"); got["A"] != "1" || got["B"] != "b" || got["C"] != "false" {
		t.Errorf("Vars = %q", got)
	}
	if p.String("missing") != "" || p.Strings("missing") != nil || p.Vars("missing") != nil {
		t.Error("a missing key is not zero")
	}
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestParamsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		read func(p *workspace.Params)
		want string
	}{
		{"string", func(p *workspace.Params) { p.String("n") }, "ssh: invalid: n: want a string, got a number"},
		{"strings", func(p *workspace.Params) { p.Strings("mixed") }, "ssh: invalid: mixed[1]: want a string, got a number"},
		{"int", func(p *workspace.Params) { p.Int("half") }, "ssh: invalid: half: want a whole number, got a number"},
		{"bool", func(p *workspace.Params) { p.Bool("s") }, "ssh: invalid: s: want true or false, got a string"},
		{"duration", func(p *workspace.Params) { p.Duration("s") }, `ssh: invalid: s: "x" is not a duration like 10s`},
		{"vars", func(p *workspace.Params) { p.Vars("deep") }, "ssh: invalid: deep.A: want a string, number or boolean, got a list"},
		{"first error kept", func(p *workspace.Params) { p.Int("s"); p.String("n") }, "ssh: invalid: s: want a whole number, got a string"},
		{"nested", func(p *workspace.Params) { p.In(map[string]any{"k": []any{}}, "health.").String("k") }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := workspace.NewParams("ssh", map[string]any{
				"n": 1, "s": "x", "half": 1.5, "mixed": []any{"a", 2},
				"deep": map[string]any{"A": []any{}},
			})
			tc.read(p)
			if tc.want == "" {
				if p.Err() != nil {
					t.Errorf("a nested Params recorded %v in its parent", p.Err())
				}
				return
			}
			err := p.Err()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
			if !errors.Is(err, pipeline.ErrInvalid) {
				t.Errorf("%v does not wrap pipeline.ErrInvalid", err)
			}
		})
	}
}

func TestParamsKnown(t *testing.T) {
	p := workspace.NewParams("local", map[string]any{"hots": 1, "root": "r", "zz": 2})
	err := p.Known([]string{"hosts", "root"})
	if want := "local: invalid: unknown key hots, zz; allowed: hosts, root"; err == nil || err.Error() != want {
		t.Errorf("Known = %v, want %s", err, want)
	}
	if p.Err() != nil {
		t.Errorf("Known recorded %v", p.Err())
	}
	hp := p.In(map[string]any{"cmd": "x"}, "health.")
	err = hp.Known([]string{"command", "url"})
	if want := "local: invalid: unknown key health.cmd; allowed: health.command, health.url"; err == nil || err.Error() != want {
		t.Errorf("nested Known = %v, want %s", err, want)
	}
	if err := p.In(map[string]any{"url": "u"}, "health.").Known([]string{"command", "url"}); err != nil {
		t.Error(err)
	}
}
