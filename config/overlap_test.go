package config

import (
	"regexp"
	"testing"
)

func TestWitness(t *testing.T) {
	tests := []struct {
		a, b string
		want string // "" when the rules should be found disjoint
	}{
		// Disjoint pairs.
		{`^feature(-[a-z0-9]+)+$`, `^main$`, ""},
		{`^main$`, `^master$`, ""},
		{`^v[0-9]+\.[0-9]+\.[0-9]+$`, `^v.*-rc[0-9]*$`, ""},
		{`^release/.+$`, `^hotfix/.+$`, ""},
		{`^(dev|qa)$`, `^(staging|prod)$`, ""},
		{`^[0-9]+$`, `^[a-z]+$`, ""},
		// Overlapping pairs, with the shortest example found.
		{`^release-.*`, `^release-1$`, "release-1"},
		{`^main$`, `^ma.*$`, "main"},
		{`^v.*`, `^.*-rc$`, "v-rc"},
		{`main`, `^x`, "xmain"},
		{`^feature/.*$`, `^.*/login$`, "feature/login"},
		{`^(dev|qa)$`, `^q[a-z]$`, "qa"},
		{`^(?i)MAIN$`, `^main$`, "main"},
		{`^[a-z]{3}$`, `^ab.$`, "aba"},
		{`^.+$`, `^\d+\.x$`, "0.x"},
		// Overlaps only through names git refuses are not reported.
		{`^a[ ~]b$`, `^a.b$`, ""},
		{`^\.x$`, `^.x$`, ""},
	}
	for _, tt := range tests {
		a, b := regexp.MustCompile(tt.a), regexp.MustCompile(tt.b)
		for _, pair := range [][2]*regexp.Regexp{{a, b}, {b, a}} {
			got, ok := witness(pair[0], pair[1])
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("witness(%s, %s) = %q, %v; want %q", pair[0], pair[1], got, ok, tt.want)
			}
		}
	}
}

// TestExamplesMatch checks that generated examples match their rule: the
// generator follows the syntax, so a reported overlap is never a mistake of
// its own.
func TestExamplesMatch(t *testing.T) {
	for _, expr := range []string{
		`^feature(-[a-z0-9]+)+$`, `^v\d{1,3}\.\d+(\.\d+)?(-rc\d+)?$`, `^(?:release|hotfix)/[^/]+$`,
		`^[A-Z]{2,}-\d+`, `(?i)^wip`, `^\w+$`, `x*`, `^a.?b$`, `^[a-z]{2}-.{3,}$`,
	} {
		re := regexp.MustCompile(expr)
		alphabet, words := hints(re)
		ex := examples(re, alphabet, words)
		if len(ex) == 0 {
			t.Errorf("%s: no examples", expr)
		}
		for _, s := range ex {
			if !re.MatchString(s) {
				t.Errorf("%s: example %q does not match", expr, s)
			}
		}
	}
}

func TestLiteralBranch(t *testing.T) {
	tests := []struct {
		rules []string
		want  string
	}{
		{[]string{`^main$`}, "main"},
		{[]string{`^release-1\.2$`}, "release-1.2"},
		{[]string{`\Adevelop\z`}, "develop"},
		{[]string{`^main`}, ""},
		{[]string{`^ma.n$`}, ""},
		{[]string{`^(?i)main$`}, ""},
		{[]string{`^main$`, `^master$`}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		var rules []rule
		for _, r := range tt.rules {
			rules = append(rules, rule{re: regexp.MustCompile(r)})
		}
		if got := literalBranch(rules); got != tt.want {
			t.Errorf("literalBranch(%q) = %q, want %q", tt.rules, got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"brnches", "branches"},
		{"Branches", "branches"},
		{"lcoal", "local"},
		{"deployer", "deployers"},
		{"approval", "approvals"},
		{"colour", ""},
		{"x", ""},
	}
	candidates := append(append([]string(nil), envKeys...), targetTypes...)
	for _, tt := range tests {
		got, ok := suggest(tt.in, candidates)
		if !ok {
			got = ""
		}
		if got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
