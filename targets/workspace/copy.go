package workspace

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Exclude lists glob patterns (path.Match syntax) of files that are not
// shipped. A pattern without a slash matches a name at any depth ("*.log",
// ".git", "node_modules"); a pattern with a slash matches a path from the
// top of the tree ("docs/*", "/config/local.yml"). A trailing slash is
// ignored. An excluded directory is left out with everything in it.
type Exclude []string

// Check reports the first malformed pattern.
func (x Exclude) Check() error {
	for _, p := range x {
		if strings.Trim(p, "/") == "" {
			return fmt.Errorf("exclude: empty pattern %q", p)
		}
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("exclude: pattern %q: %w", p, err)
		}
	}
	return nil
}

// Match reports whether rel, a slash-separated path from the top of the
// tree, is excluded. It does not look at rel's parents: a walk skips an
// excluded directory before it reaches what is inside.
func (x Exclude) Match(rel string) bool {
	for _, p := range x {
		p = strings.TrimSuffix(p, "/")
		target := rel
		if anchored := strings.Contains(p, "/"); anchored {
			p = strings.TrimPrefix(p, "/")
		} else {
			target = path.Base(rel)
		}
		if ok, _ := path.Match(p, target); ok {
			return true
		}
	}
	return false
}

// Copy copies the tree src into dst, which it creates, leaving out what x
// excludes. Files keep their permission bits and symbolic links are copied
// as links; other special files are skipped.
func Copy(ctx context.Context, src, dst string, x Exclude) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, info.Mode().Perm()|0o700); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		if x.Match(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Mkdir(to, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.Type().IsRegular():
			return copyFile(p, to, info.Mode().Perm())
		}
		return nil
	})
}

func copyFile(from, to string, perm fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
