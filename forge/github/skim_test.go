package github

import (
	"encoding/json"
	"testing"
)

var skimNames = []string{"full_name", "clone_url", "ssh_url", "html_url"}

// decoded is what encoding/json makes of the same keys: the top-level
// string values, the last of a key written twice.
func decoded(b []byte) ([]string, bool) {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || m == nil {
		return nil, false
	}
	out := make([]string, len(skimNames))
	for k, name := range skimNames {
		out[k], _ = m[name].(string)
	}
	return out, true
}

func TestSkimStrings(t *testing.T) {
	for _, c := range []struct{ name, body string }{
		{"flat", `{"full_name": "a/b", "clone_url": "https://x/a/b.git", "private": false, "id": 12}`},
		{"nested keys are not its own", `{"owner": {"full_name": "not/this", "x": [1, {"ssh_url": "no"}]}, "full_name": "a/b"}`},
		{"escapes", `{"full_\u006eame": "a\/b", "html_url": "https://x/\"q\"", "d": "\\"}`},
		{"a key twice", `{"full_name": "first", "full_name": "last"}`},
		{"not a string", `{"full_name": 7, "clone_url": null, "ssh_url": ["a"]}`},
		{"empty", ` { } `},
		{"space everywhere", "{\n\t\"full_name\" :\r\n \"a/b\" ,\"id\":1e3 }"},
	} {
		want, _ := decoded([]byte(c.body))
		got := make([]string, len(skimNames))
		if !skimStrings([]byte(c.body), skimNames, got) {
			t.Errorf("%s: not skimmed", c.name)
			continue
		}
		for k := range got {
			if got[k] != want[k] {
				t.Errorf("%s: %s = %q; encoding/json reads %q", c.name, skimNames[k], got[k], want[k])
			}
		}
	}
	for _, body := range []string{``, `[]`, `{`, `{"full_name"}`, `{"full_name": "a/b"`, `{"a": {"b": 1}`, `{"full_name": "a/b" "x": 1}`, `{"s": "unterminated}`, `{"a": ,}`} {
		if skimStrings([]byte(body), skimNames, make([]string, len(skimNames))) {
			t.Errorf("%q skimmed; want not ok", body)
		}
	}
}

// FuzzSkimStrings: whatever the input, skimming ends without panicking,
// and of an object encoding/json reads, it reads the same strings.
func FuzzSkimStrings(f *testing.F) {
	f.Add([]byte(`{"full_name": "a/b", "owner": {"full_name": "c"}, "clone_url": "\u0041"}`))
	for _, file := range []string{"push.branch.json", "pull_request.opened.json", "issue_comment.created.on-pr.json"} {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(payload(f, file), &top); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(top["repository"]))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := make([]string, len(skimNames))
		ok := skimStrings(b, skimNames, got)
		want, valid := decoded(b)
		if !valid {
			return
		}
		if !ok {
			t.Fatalf("%q: not skimmed; encoding/json reads it", b)
		}
		for k := range got {
			if got[k] != want[k] {
				t.Fatalf("%q: %s = %q; encoding/json reads %q", b, skimNames[k], got[k], want[k])
			}
		}
	})
}
