package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/storage"
	"github.com/ferrybot/ferry/targets/kubernetes"
	"github.com/ferrybot/ferry/targets/local"
	"github.com/ferrybot/ferry/targets/ssh"
)

// check validates a configuration: config's own rules, then each target's
// parameters as its driver reads them.
func check(args []string, stdout, stderr io.Writer) error {
	fs, path := configFlags("check", stderr)
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	if problems := targetProblems(*path, cfg); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return exitError(1)
	}
	fmt.Fprintf(stdout, "%s: ok (%d project(s), %d environment(s), %d user(s))\n", *path, len(cfg.Projects), environments(cfg), len(cfg.Users))
	return nil
}

// targetProblems are the problems of each environment's target
// parameters, as its driver reads them, at their lines in the file at
// path.
func targetProblems(path string, cfg *config.Config) config.Problems {
	var problems config.Problems
	for _, p := range cfg.Projects {
		for _, env := range p.Envs {
			if err := checkTarget(env.Target); err != nil {
				problems = append(problems, targetProblem(path, cfg, p, env, err))
			}
		}
	}
	return problems
}

// targetProblem is err of the target of env, at its line.
func targetProblem(path string, cfg *config.Config, p pipeline.Project, env pipeline.Environment, err error) config.Problem {
	return config.Problem{File: path, Line: cfg.TargetLine(p.Name, env.Name, paramOf(err)),
		Msg: fmt.Sprintf("project %s, environment %s: target: %v", p.Name, env.Name, err)}
}

// environments counts the environments of every project.
func environments(cfg *config.Config) int {
	n := 0
	for _, p := range cfg.Projects {
		n += len(p.Envs)
	}
	return n
}

func checkTarget(t pipeline.TargetSpec) error {
	switch t.Type {
	case "local":
		_, err := local.ParseConfig(t.Params)
		return err
	case "ssh":
		_, err := ssh.ParseConfig(t.Params)
		return err
	case "kubernetes":
		_, err := kubernetes.ParseConfig(t.Params)
		return err
	}
	return fmt.Errorf("type %s is not built into this ferry; use type: local, ssh or kubernetes", t.Type)
}

// paramOf is the target parameter a driver's "<driver>: invalid: <key>:
// ..." or "...: unknown key <key>; ..." error is about; "" when it names
// none, and the target's own line is shown.
func paramOf(err error) string {
	_, msg, ok := strings.Cut(err.Error(), ": "+pipeline.ErrInvalid.Error()+": ")
	if !ok {
		return ""
	}
	if rest, ok := strings.CutPrefix(msg, "unknown key "); ok {
		msg = rest
	}
	key, _, _ := strings.Cut(msg, ":")
	key, _, _ = strings.Cut(key, ";")
	key, _, _ = strings.Cut(key, ",")
	if f := strings.FieldsFunc(key, func(r rune) bool { return r == '.' || r == '[' || r == ' ' }); len(f) > 0 {
		return f[0]
	}
	return ""
}

// route prints which environment a ref deploys to, and why.
func route(args []string, stdout, stderr io.Writer) error {
	fs, path := configFlags("route", stderr)
	project := fs.String("project", "", "project `name`")
	ref := fs.String("ref", "", "full `ref`, like refs/heads/main or refs/tags/v1.0.0")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	if *project == "" || *ref == "" {
		fmt.Fprintln(stderr, "usage: ferry route --config ferry.yaml --project demo --ref refs/heads/main")
		return exitError(2)
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	p, ok := cfg.Project(*project)
	if !ok {
		names := make([]string, len(cfg.Projects))
		for i, p := range cfg.Projects {
			names[i] = p.Name
		}
		fmt.Fprintf(stderr, "project %q is not in %s; projects: %s\n", *project, *path, strings.Join(names, ", "))
		return exitError(1)
	}
	r, err := pipeline.RouteRef(p, *ref)
	if err != nil {
		fmt.Fprintf(stdout, "%s deploys nowhere: %s\n", *ref, strings.TrimPrefix(err.Error(), pipeline.ErrNotFound.Error()+": "))
		return exitError(1)
	}
	fmt.Fprintf(stdout, "%s → %s\n  why: %s\n", *ref, r.Env.Name, r.Why)
	if r.Env.Auto {
		fmt.Fprintf(stdout, "  auto: yes, a push deploys it to %s\n", r.Env.Name)
	} else {
		fmt.Fprintf(stdout, "  auto: no, deploy it with: deploy %s %s to %s\n", p.Name, firstOf(r.Tag, r.Branch), r.Env.Name)
	}
	if n := r.Env.Approvals.Required; n > 0 {
		fmt.Fprintf(stdout, "  approvals: %d required\n", n)
	}
	return nil
}

// migrate applies the database migrations and says which.
func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := configFlags("migrate", stderr)
	to := fs.String("to", "", "copy the database into this empty (or earlier copied) PostgreSQL `database`, postgres://…")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	if *to != "" {
		return copyStore(ctx, cfg.Storage, *to, stdout)
	}
	st, err := storage.OpenUnmigrated(ctx, cfg.Storage)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "%s is up to date (schema version %d)\n", config.RedactURL(cfg.Storage), v)
		return nil
	}
	nums := make([]string, len(applied))
	for i, n := range applied {
		nums[i] = strconv.Itoa(n)
	}
	fmt.Fprintf(stdout, "%s: applied migration(s) %s; schema version %d\n", config.RedactURL(cfg.Storage), strings.Join(nums, ", "), v)
	return nil
}

// copyStore runs `ferry migrate --to`: it copies the configured store
// into a PostgreSQL database, which it migrates first, and prints the
// rows of each table, counted on both sides. It may be run again: rows
// copied before are skipped.
func copyStore(ctx context.Context, from, to string, stdout io.Writer) error {
	if !storage.IsPostgres(to) {
		return fmt.Errorf("--to must be a PostgreSQL database, postgres://user@host/db, not %s", config.RedactURL(to))
	}
	if storage.IsPostgres(from) {
		return fmt.Errorf("storage is PostgreSQL already; --to copies a SQLite database into PostgreSQL")
	}
	src, err := storage.Open(ctx, from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := storage.Open(ctx, to)
	if err != nil {
		return fmt.Errorf("%s: %w", config.RedactURL(to), err)
	}
	defer dst.Close()
	counts, err := src.CopyTo(ctx, dst)
	if err != nil {
		return err
	}
	for _, table := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(stdout, "%-18s %d rows\n", table, counts[table])
	}
	fmt.Fprintf(stdout, "copied %s into %s; the counts match. Set storage: to it (and session_secret:) and start ferry there.\n", from, config.RedactURL(to))
	return nil
}

// hashPassword reads a password from r and prints its bcrypt hash for
// password_hash in ferry.yaml.
func hashPassword(r io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 8 {
		return errors.New("hash-password: the password must have at least 8 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash-password: %w", err)
	}
	fmt.Fprintln(stdout, string(h))
	return nil
}
