// Command ferry is the ChatOps deploy bot: `ferry serve` runs the server,
// `ferry check` and `ferry route` read a configuration, `ferry migrate`
// prepares the database, and the other subcommands talk to a running
// server the way a chat does.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ex exitError
		if !errors.As(err, &ex) {
			fmt.Fprintln(os.Stderr, "ferry:", err)
			os.Exit(1)
		}
		os.Exit(int(ex))
	}
}

// exitError ends ferry with a status after the command printed its own
// explanation.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

const usage = `ferry — deploys from where your team talks

Server:
  ferry serve   [--config ferry.yaml] [--listen addr]   run the server (FERRY_LISTEN overrides the address)
  ferry check   [--config ferry.yaml]                   validate a configuration; every problem as file:line
  ferry route   [--config ferry.yaml] --project P --ref refs/heads/X   which environment a ref deploys to, and why
  ferry migrate [--config ferry.yaml]                   apply database migrations and say which
  ferry migrate --to postgres://… [--config ferry.yaml] copy the SQLite database into PostgreSQL (again: skips what it copied)
  ferry hash-password                                   read a password on stdin, print its bcrypt hash
  ferry ssh trust [--known-hosts F] [--yes] HOST[:PORT]  show a host's key fingerprint and record it in known_hosts
  ferry digest --send [--config ferry.yaml]             post every configured digest now
  ferry freezes [--config ferry.yaml]                   the freeze windows open now and the next of each
  ferry gen-deploys --db F [--deploys N] [--end DATE]   fill a new database with made-up deploys, to measure the dashboards

Client (talks to a running server; --server or FERRY_SERVER, --token or FERRY_TOKEN, --json):
  ferry deploy <project> [<ref>] to <env> [force]
  ferry rollback <project> <env> [to <release>]
  ferry approve <deploy> | reject <deploy> [reason]
  ferry continue|pause|cancel|resume <deploy>
  ferry lock <project|*> <env> [for <duration>] [reason] | unlock <project|*> <env>
  ferry promote <project> <from-env> to <to-env>
  ferry scale <project> <env> <replicas> | restart <project> <env> | config <project> <env> set KEY=VALUE
  ferry status [<project>] | history <project> [<env>] | whoami
  ferry digest preview [<scope>]                        the digest of the last seven days, now
  ferry show <deploy>                                   one deploy with its units, approvals and log
  ferry audit [--project P] [--env E] [--actor A] [--action X] [--since 7d] [--until T] [--limit N] [--before ID]
                                                        the audit log, newest first: who did what, and what was refused
  ferry outbox [--dead] [--platform P] [--limit N]      what ferry owes the platforms and has not delivered, oldest first (admins)
  ferry outbox retry <id>                               owe a dead notice again: ferry delivers it now (admins; audited)
  ferry reload                                          the server reads its ferry.yaml again, or says why it refused it (admins; audited)

ferry help <command> explains one command.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError(2)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "check":
		return check(rest, stdout, stderr)
	case "route":
		return route(rest, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, stdout, stderr)
	case "ssh":
		return sshCommand(ctx, rest, stdin, stdout, stderr)
	case "hash-password":
		return hashPassword(stdin, stdout)
	case "digest":
		return digest(ctx, rest, stdout, stderr)
	case "audit":
		return auditCommand(ctx, rest, stdout, stderr)
	case "outbox":
		return outboxCommand(ctx, rest, stdout, stderr)
	case "reload":
		return reloadCommand(ctx, rest, stdout, stderr)
	case "freezes":
		return freezesCommand(ctx, rest, stdout, stderr)
	case "gen-deploys":
		return genDeploys(ctx, rest, stdout, stderr)
	case "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "help":
		if len(rest) == 0 {
			fmt.Fprint(stdout, usage)
			return nil
		}
		if rest[0] == "outbox" {
			fmt.Fprint(stdout, outboxUsage)
			return nil
		}
	case "version", "--version":
		fmt.Fprintln(stdout, "ferry", version)
		return nil
	}
	return client(ctx, args, stdout, stderr)
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"
