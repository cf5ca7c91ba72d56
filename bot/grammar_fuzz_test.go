package bot

import (
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

// commandBytes is how much text a command holds in its fields.
func commandBytes(c Command) int {
	n := 0
	for _, s := range []string{c.Project, c.Ref, c.Env, c.FromEnv, c.Release, c.Reason, string(c.Topic), c.Key, c.Value, c.Scope} {
		n += len(s)
	}
	return n
}

// FuzzParsePR: a pull request comment is read as its command and nothing
// more. Whatever the comment, ParsePR ends with a command or a
// *ParseError; a command holds at most MaxCommand bytes of text, as one
// from a chat message does, even when a quote runs past the first line;
// and what follows the command's line never changes the command.
func FuzzParsePR(f *testing.F) {
	for _, s := range []string{
		"/ferry deploy staging", "/ferry deploy prod force\n\nThanks!", "\n\n/ferry rollback prod to 41\nmore",
		"/ferry reject 3 \"too\nlate\"\nbye", "/ferry approve #3", "ferry lock demo prod for 30m freeze",
		"/ferry config api prod set \"A=b\nc\"", "@ferry help deploy", "looks good to me",
		"/ferry reject 1 \"" + strings.Repeat("x", 480) + "\"",
		"/ferry config api prod set \"K=" + strings.Repeat("v", 1960) + "\"",
	} {
		f.Add(s, "rest of the comment")
	}
	f.Fuzz(func(t *testing.T, text, rest string) {
		cmd, err := ParsePR(text)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Error() == "" {
				t.Fatalf("ParsePR(%q): %v is not a *ParseError with a message", text, err)
			}
			return
		}
		if n := commandBytes(cmd); n > MaxCommand {
			t.Fatalf("ParsePR(%q) holds %d bytes of text; a command holds at most %d", text, n, MaxCommand)
		}
		if strings.Contains(text, "\n") || !utf8.ValidString(rest) {
			return
		}
		more, err := ParsePR(text + "\n" + rest)
		if err != nil || !reflect.DeepEqual(more, cmd) {
			t.Fatalf("ParsePR(%q) = %#v, but with the line %q after it: %#v, %v", text, cmd, rest, more, err)
		}
	})
}

// TestParseOverCapIsCheap: text over MaxCommand is refused before it is
// read, so a megabyte costs what a short command does: no allocation
// grows with it.
func TestParseOverCapIsCheap(t *testing.T) {
	long := strings.Repeat("x ", 1<<19)
	for name, c := range map[string]struct {
		parse func(string) (Command, error)
		text  string
	}{
		"a chat message":                   {Parse, "deploy demo " + long + " to prod"},
		"a comment's first line":           {ParsePR, "/ferry deploy " + long + "\nthanks"},
		"a quote that runs past the line":  {ParsePR, "/ferry config api prod set \"K=\n" + long + "\""},
		"a long comment after its command": {ParsePR, "/ferry deploy staging\n" + long},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range 10 {
			_, _ = c.parse(c.text)
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 64<<10 {
			t.Errorf("%s of %d bytes: %d bytes allocated a parse; want a few kilobytes at most", name, len(c.text), per)
		}
	}
}
