package config

import (
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"HOST": "db", "PORT": "5432", "EMPTY": ""}
	lookup := loader(vars).LookupEnv
	tests := []struct {
		in, want string
		expanded bool
		problems string
	}{
		{"plain", "plain", false, ""},
		{"${HOST}", "db", true, ""},
		{"${HOST}:${PORT}/x", "db:5432/x", true, ""},
		{"${NOPE:-fallback}", "fallback", true, ""},
		{"${EMPTY:-fallback}", "fallback", true, ""},
		{"${EMPTY}", "", true, ""},
		{"${HOST:-other}", "db", true, ""},
		{"${NOPE:-}", "", true, ""},
		{"$2a$10$abc", "$2a$10$abc", false, ""},
		{"cost $5", "cost $5", false, ""},
		{"$${HOST}", "${HOST}", false, ""},
		{"${NOPE}", "", true, "${NOPE} is not set: export it or use ${NOPE:-default}"},
		{"${A} and ${B}", " and ", true, "${A} is not set: export it or use ${A:-default}\n${B} is not set: export it or use ${B:-default}"},
		{"${HOST", "", false, `unterminated "${": close it with "}", or write "$${" for a literal "${"`},
		{"${}", "", false, `"${}" is not a variable reference: a name is letters, digits and _, not starting with a digit; write "$${" for a literal "${"`},
		{"${9X}", "", false, `"${9X}" is not a variable reference: a name is letters, digits and _, not starting with a digit; write "$${" for a literal "${"`},
	}
	for _, tt := range tests {
		got, expanded, problems := expand(tt.in, lookup)
		if got != tt.want || expanded != tt.expanded || strings.Join(problems, "\n") != tt.problems {
			t.Errorf("expand(%q) = %q, %v, %q; want %q, %v, %q", tt.in, got, expanded, problems, tt.want, tt.expanded, tt.problems)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"30s", "30s", true},
		{"1h30m", "1h30m0s", true},
		{"7d", "168h0m0s", true},
		{"1d12h", "36h0m0s", true},
		{"0", "0s", true},
		{"1d12", "", false},
		{"d", "", false},
		{"30", "", false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err == nil) != tt.ok || tt.ok && got.String() != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %s (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestSecretsNotInErrors puts a secret behind a variable in every place
// that can be wrong and checks that no message shows it, or hints at it.
func TestSecretsNotInErrors(t *testing.T) {
	const secret = "s3cr3t-Value-XYZ"
	vars := map[string]string{
		"SECRET":   secret,
		"BAD_RE":   "(" + secret,
		"RE":       "^main-" + secret + "$",
		"HASH":     secret,
		"SHORT":    secret[:8],
		"TOKEN":    secret + "-0123456789",
		"CHAT":     secret,
		"MEMBER":   secret,
		"DEFAULT":  secret,
		"LISTEN":   secret,
		"BASE_URL": secret,
	}
	problems := problemsOf(t, "secrets_env.yaml", vars)
	if len(problems) < 20 {
		t.Errorf("only %d problems; the test file should have a problem in every line:\n%s", len(problems), strings.Join(problems, "\n"))
	}
	if !strings.Contains(strings.Join(problems, "\n"), "39: a branch matches both staging (${RE}) and prod (^main-.*$)") {
		t.Errorf("the overlap of a rule from a variable is not reported without its example:\n%s", strings.Join(problems, "\n"))
	}
	for _, p := range problems {
		for _, leak := range []string{secret, secret[:8], "s3cr3t"} {
			if strings.Contains(p, leak) {
				t.Errorf("problem shows a secret: %s", p)
			}
		}
	}
}
