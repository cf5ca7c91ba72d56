package workspace

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
)

// Invalid is a configuration error of a target driver:
// "<driver>: invalid: <message>", wrapping pipeline.ErrInvalid.
func Invalid(driver, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", driver, pipeline.ErrInvalid, fmt.Sprintf(format, args...))
}

// Params reads typed values out of a target's parameters, as YAML or JSON
// decode them, keeping the first error. Its errors are Invalid errors of
// the driver it was made for, naming the key with the prefix of the map
// it reads ("health.timeout: want a duration like 10s, got a list").
type Params struct {
	driver string
	m      map[string]any
	prefix string
	err    error
}

// NewParams returns a Params reading m for driver, the prefix of its
// errors ("local", "ssh").
func NewParams(driver string, m map[string]any) *Params {
	return &Params{driver: driver, m: m}
}

// In returns a Params, with no error yet, reading m nested in p's map;
// prefix is put before its keys in errors, e.g. "health." or "hosts[0].".
func (p *Params) In(m map[string]any, prefix string) *Params {
	return &Params{driver: p.driver, m: m, prefix: prefix}
}

// Err is the first error recorded.
func (p *Params) Err() error { return p.err }

// Keep records err unless an error is already recorded; a nil err is
// ignored.
func (p *Params) Keep(err error) {
	if p.err == nil {
		p.err = err
	}
}

// Invalid is an Invalid error of p's driver.
func (p *Params) Invalid(format string, args ...any) error {
	return Invalid(p.driver, format, args...)
}

// Known returns an error naming the keys of the map that are not in
// allowed, and what is allowed, so a typo is not silently ignored. It
// records nothing.
func (p *Params) Known(allowed []string) error {
	var unknown []string
	for k := range p.m {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, p.prefix+k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return p.Invalid("unknown key %s; allowed: %s", strings.Join(unknown, ", "), p.prefix+strings.Join(allowed, ", "+p.prefix))
}

// Want is the error that the value v of key is not what was wanted, a
// phrase like "a string". It records nothing.
func (p *Params) Want(key, want string, v any) error {
	return p.Invalid("%s%s: want %s, got %s", p.prefix, key, want, kind(v))
}

// Fail records the error Want returns.
func (p *Params) Fail(key, want string, v any) {
	p.Keep(p.Want(key, want, v))
}

// String reads a string; missing or null: "".
func (p *Params) String(key string) string {
	v, ok := p.m[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.Fail(key, "a string", v)
	}
	return s
}

// Strings reads a list of strings; a single string is a list of one.
func (p *Params) Strings(key string) []string {
	switch v := p.m[key].(type) {
	case nil:
		return nil
	case string:
		return []string{v}
	case []string:
		return v
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				p.Fail(fmt.Sprintf("%s[%d]", key, i), "a string", e)
				return nil
			}
			out[i] = s
		}
		return out
	default:
		p.Fail(key, "a list of strings", v)
		return nil
	}
}

// Int reads a whole number.
func (p *Params) Int(key string) int {
	switch v := p.m[key].(type) {
	case nil:
		return 0
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		if v == float64(int(v)) {
			return int(v)
		}
	}
	p.Fail(key, "a whole number", p.m[key])
	return 0
}

// Bool reads true or false.
func (p *Params) Bool(key string) bool {
	switch v := p.m[key].(type) {
	case nil:
		return false
	case bool:
		return v
	}
	p.Fail(key, "true or false", p.m[key])
	return false
}

// Duration reads a Go duration ("10s", "1m30s") or a number of seconds.
func (p *Params) Duration(key string) time.Duration {
	switch v := p.m[key].(type) {
	case nil:
		return 0
	case string:
		d, err := time.ParseDuration(v)
		if err != nil {
			p.Keep(p.Invalid("%s%s: %q is not a duration like 10s", p.prefix, key, v))
		}
		return d
	case int:
		return time.Duration(v) * time.Second
	case float64:
		return time.Duration(v * float64(time.Second))
	}
	p.Fail(key, "a duration like 10s", p.m[key])
	return 0
}

// Vars reads a map of names to strings; numbers and booleans are written
// as strings.
func (p *Params) Vars(key string) map[string]string {
	v, ok := p.m[key]
	if !ok || v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.Fail(key, "a map of names to values", v)
		return nil
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		switch e.(type) {
		case string, int, float64, bool:
			out[k] = fmt.Sprint(e)
		default:
			p.Fail(key+"."+k, "a string, number or boolean", e)
		}
	}
	return out
}

// kind names the type of a decoded value in an error.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return "a string"
	case int, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}
