package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ferrybot/ferry/targets/ssh"
)

// sshCommand runs `ferry ssh trust`: it shows a host's key fingerprint and,
// once a person (or --yes) agrees, records the key in known_hosts.
func sshCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "trust" {
		fmt.Fprintln(stderr, "usage: ferry ssh trust [--config ferry.yaml] [--known-hosts FILE] [--yes] HOST[:PORT]")
		return exitError(2)
	}
	fs, path := configFlags("ssh trust", stderr)
	knownHosts := fs.String("known-hosts", "", "known_hosts `file` (default: the known_hosts of the configuration's ssh targets)")
	yes := fs.Bool("yes", false, "trust the key without asking")
	if err := fs.Parse(args[1:]); err != nil {
		return exitError(2)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: ferry ssh trust [--config ferry.yaml] [--known-hosts FILE] [--yes] HOST[:PORT]")
		return exitError(2)
	}
	file := *knownHosts
	if file == "" {
		var err error
		if file, err = configKnownHosts(fs, *path, stderr); err != nil {
			return err
		}
	}
	in := bufio.NewReader(stdin)
	err := ssh.Trust(ctx, fs.Arg(0), file, func(keyType, fingerprint string) bool {
		fmt.Fprintf(stdout, "%s offers a %s key with fingerprint %s\n", fs.Arg(0), keyType, fingerprint)
		if *yes {
			return true
		}
		fmt.Fprintf(stdout, "Check it with the host's owner. Trust it and add it to %s? [y/N] ", file)
		answer, _ := in.ReadString('\n')
		return strings.EqualFold(strings.TrimSpace(answer), "y") || strings.EqualFold(strings.TrimSpace(answer), "yes")
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s knows the key of %s.\n", file, fs.Arg(0))
	return nil
}

// configKnownHosts finds the one known_hosts file the configuration's ssh
// targets use.
func configKnownHosts(fs *flag.FlagSet, path string, stderr io.Writer) (string, error) {
	cfg, err := loadConfig(path, stderr)
	if err != nil {
		return "", err
	}
	var files []string
	for _, p := range cfg.Projects {
		for _, env := range p.Envs {
			if env.Target.Type != "ssh" {
				continue
			}
			c, err := ssh.ParseConfig(env.Target.Params)
			if err == nil && !slices.Contains(files, c.KnownHosts) {
				files = append(files, c.KnownHosts)
			}
		}
	}
	switch len(files) {
	case 1:
		return files[0], nil
	case 0:
		return "", fmt.Errorf("%s has no ssh target with a known_hosts file; pass --known-hosts", path)
	}
	return "", fmt.Errorf("the ssh targets of %s use several known_hosts files (%s); pass --known-hosts", path, strings.Join(files, ", "))
}
