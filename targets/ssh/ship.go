package ssh

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/workspace"
)

// tarball builds release r once and packs it, returning the tarball's
// path: <build>.<commit>.tar (.tar.gz with compress) beside the build in
// the workspace.
func (d *Driver) tarball(ctx context.Context, r pipeline.Release, log pipeline.StepLog) (string, error) {
	if err := checkRelease(r); err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	commands := slices.Concat(d.cfg.PreDeploy, d.cfg.Build, d.cfg.PostDeploy)
	dir, err := d.ws.Build(ctx, r, commands, d.buildEnv(r), log)
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, d.cfg.Path)
	if info, err := os.Stat(src); err != nil || !info.IsDir() {
		return "", fmt.Errorf("build: path %q is not a directory of the build", d.cfg.Path)
	}
	file := dir + "." + strings.ToLower(r.Commit) + ".tar"
	if d.cfg.Compress {
		file += ".gz"
	}
	d.packMu.Lock()
	defer d.packMu.Unlock()
	if _, err := os.Stat(file); err == nil {
		return file, nil
	}
	log.Step("pack")
	start := time.Now()
	n, err := pack(ctx, src, file, d.cfg.Exclude, d.cfg.Compress)
	if err != nil {
		return "", fmt.Errorf("pack: %w", err)
	}
	info, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("pack: %w", err)
	}
	fmt.Fprintf(log, "packed %d files into %s (%s) in %s\n", n, filepath.Base(file), size(info.Size()), time.Since(start).Round(time.Millisecond))
	return file, nil
}

// complete is the last member of every tarball: tar accepts a stream cut
// between two members as whole, so a release is complete only when this
// file arrived. The hosts delete it.
const complete = ".ferry-complete"

// pack writes the tree src, less what x excludes, to file as a tar (gzipped
// with compress) that ends with the file complete, through a temporary
// file renamed when complete.
func pack(ctx context.Context, src, file string, x workspace.Exclude, compress bool) (files int, err error) {
	tmp := file + ".tmp-" + rand.Text()[:8]
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	var zw io.WriteCloser = nopCloser{bw}
	if compress {
		if zw, err = gzip.NewWriterLevel(bw, gzip.BestSpeed); err != nil {
			return 0, err
		}
	}
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
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
		rel = filepath.ToSlash(rel)
		if x.Match(rel) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		h := &tar.Header{Name: rel, Mode: int64(info.Mode().Perm()), ModTime: info.ModTime().Truncate(time.Second), Format: tar.FormatPAX}
		switch {
		case e.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, rel+"/"
		case e.Type()&fs.ModeSymlink != 0:
			if h.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
			h.Typeflag = tar.TypeSymlink
		case e.Type().IsRegular():
			h.Typeflag, h.Size = tar.TypeReg, info.Size()
		default:
			return nil // sockets, devices: not shipped
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		files++
		if h.Typeflag == tar.TypeReg {
			return copyFile(tw, p)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: complete, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: time.Now().Truncate(time.Second), Format: tar.FormatPAX}); err != nil {
		return 0, err
	}
	if err := errors.Join(tw.Close(), zw.Close(), bw.Flush(), f.Sync(), f.Close()); err != nil {
		return 0, err
	}
	return files, os.Rename(tmp, file)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func copyFile(w io.Writer, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// upload puts the tarball file into releases/<dir> on h unless a complete
// copy is there, in one session. It returns the record of the release —
// written the first time, with the release current then as its previous
// one, and read back by a repeated install — and the directory current
// pointed to.
func (d *Driver) upload(ctx context.Context, h host, r pipeline.Release, dir, file string, log io.Writer) (m meta, was string, err error) {
	ses, err := d.open(ctx, h, log)
	if err != nil {
		return m, "", err
	}
	stdin, err := ses.s.StdinPipe()
	if err != nil {
		return m, "", ses.end(err)
	}
	stdout, err := ses.s.StdoutPipe()
	if err != nil {
		return m, "", ses.end(err)
	}
	script := strings.ReplaceAll(uploadScript, "@TAR@", "tar -xf -")
	if d.cfg.Compress {
		script = strings.ReplaceAll(uploadScript, "@TAR@", "tar -xzf -")
	}
	if err := ses.start(expand(script, "ROOT", h.root, "DIR", dir, "COMPLETE", complete)); err != nil {
		return m, "", err
	}
	out := bufio.NewReader(stdout)
	drained := make(chan struct{})
	drain := func() {
		go func() {
			io.Copy(ses.out, out)
			close(drained)
		}()
	}
	st, err := readState(out)
	if err == nil {
		was, err = st.current(h)
	}
	if err != nil { // the script failed, and says why on stderr, or current is odd
		stdin.Close()
		drain()
		if werr := ses.wait(); werr != nil {
			err = werr
		}
		<-drained
		return m, "", err
	}
	m, record := st.meta, ""
	if !st.hasMeta {
		m = meta{Release: r.ID, Version: r.Version, Commit: r.Commit, Deploy: r.DeployID, Previous: pipeline.ReleaseOfDir(was)}
		b, _ := json.Marshal(m)
		record = string(b)
	}
	drain()
	start := time.Now()
	sent, serr := send(stdin, record, st.ready == "upload", file)
	err = ses.wait()
	<-drained
	if err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		return m, was, err
	}
	if st.ready == "upload" {
		fmt.Fprintf(log, "uploaded %s to releases/%s in %s\n", size(sent), dir, time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Fprintf(log, "releases/%s is already in place\n", dir)
	}
	return m, was, nil
}

// readState reads the upload script's ferry: lines up to the one that
// says whether to send the tarball.
func readState(out *bufio.Reader) (state, error) {
	var lines strings.Builder
	for {
		line, err := out.ReadString('\n')
		lines.WriteString(line)
		if l := strings.TrimSpace(line); l == "ferry:present" || l == "ferry:upload" {
			return parseState(lines.String())
		}
		if err != nil {
			return state{}, errors.New("the host ended the upload before it began")
		}
	}
}

// send writes the record line, then the tarball if asked, and closes stdin.
func send(stdin io.WriteCloser, record string, upload bool, file string) (int64, error) {
	defer stdin.Close()
	if _, err := io.WriteString(stdin, record+"\n"); err != nil || !upload {
		return 0, err
	}
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.CopyBuffer(stdin, struct{ io.Reader }{f}, make([]byte, 256<<10))
}

// size formats a byte count for people.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
