package config

import (
	"fmt"
	"os"
	"strings"
)

// expand replaces ${NAME} and ${NAME:-default} in s with the values lookup
// gives; as in the shell, the default is used when NAME is unset or empty.
// "$${" stands for a literal "${". Any other "$" is kept as it is, so bcrypt
// hashes ($2a$10$...) need no escaping.
//
// It reports whether anything was substituted, so that callers never show
// the expanded text, and returns one message per reference it cannot
// resolve; the messages name variables but never carry their values.
func expand(s string, lookup func(string) (string, bool)) (string, bool, []string) {
	if !strings.Contains(s, "${") {
		return s, false, nil
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var (
		b        strings.Builder
		expanded bool
		problems []string
	)
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' {
			// "$${": the escape for a literal "${".
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			problems = append(problems, `unterminated "${": close it with "}", or write "$${" for a literal "${"`)
			break
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDefault := strings.Cut(ref, ":-")
		if !validVar(name) {
			problems = append(problems, fmt.Sprintf(`"${%s}" is not a variable reference: a name is letters, digits and _, not starting with a digit; write "$${" for a literal "${"`, ref))
			continue
		}
		expanded = true
		v, ok := lookup(name)
		switch {
		case hasDefault && v == "":
			b.WriteString(def)
		case ok:
			b.WriteString(v)
		default:
			problems = append(problems, fmt.Sprintf("${%s} is not set: export it or use ${%s:-default}", name, name))
		}
	}
	return b.String(), expanded, problems
}

func validVar(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
