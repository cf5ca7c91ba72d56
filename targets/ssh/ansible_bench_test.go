package ssh_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrybot/ferry/pipeline"
	"github.com/ferrybot/ferry/targets/ssh"
	"github.com/ferrybot/ferry/targets/ssh/sshtest"
	"github.com/ferrybot/ferry/targets/workspace"
	"github.com/ferrybot/ferry/targets/workspace/gittest"
)

// BenchmarkVsAnsible deploys the same 20 MB build to 1, 10 and 50 loopback
// sshd hosts with ferry's ssh driver and with Ansible (a playbook that
// unarchives the tarball into a release directory and switches a symlink,
// forks = hosts), in one batch and in batches [1, 10%, 100%], and prints a
// table. Hosts' roots are in memory (see below). Each ferry run uses a new driver, so it dials every host as
// Ansible does, and includes ferry's build of the tarball; Ansible gets the
// tarball ready-made and pipelining on. Run it with make bench-ssh.
func BenchmarkVsAnsible(b *testing.B) {
	playbook, err := exec.LookPath("ansible-playbook")
	if err != nil {
		b.Fatal("ansible-playbook is missing: apt-get install ansible-core")
	}
	// Fifty machines do not share one disk: keep every host's root (and
	// the workspace) in memory when the machine has /dev/shm, so the hosts
	// do not queue on one disk as no real fleet would.
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		b.Setenv("TMPDIR", "/dev/shm")
	}
	fleet := sshtest.Start(b, 50)
	repo := gittest.NewRepo(b)
	hash := repo.Commit(b, build20MB(), "20 MB")
	tarball := filepath.Join(b.TempDir(), "build.tar")
	repo.Git(b, "archive", "--format=tar", "-o", tarball, "HEAD")
	ws, err := workspace.New(workspace.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// The checkout is made once, before any timing, as Ansible gets its
	// tarball ready-made; each timed ferry run still packs its release.
	ferryDeploy(ctx, b, fleet, fleet.Hosts[:1], nil, ws, repo.Path(), hash, 1000)

	type row struct {
		hosts           int
		batches         string
		ferry, ansible  time.Duration
		openssh         time.Duration
		ferryPeakRSSKiB int
	}
	var rows []row
	release := 0
	for _, n := range []int{1, 10, 50} {
		hosts := fleet.Hosts[:n]
		for _, batches := range []string{"one batch", `[1, "10%", "100%"]`} {
			plan := [][]*sshtest.Host{hosts}
			serial := "100%"
			if batches != "one batch" {
				plan = split(hosts)
				serial = `[1, "10%", "100%"]`
			}
			release++
			f := ferryDeploy(ctx, b, fleet, hosts, plan, ws, repo.Path(), hash, release)
			release++
			a := ansibleDeploy(ctx, b, playbook, fleet, hosts, serial, tarball, release)
			release++
			o := opensshDeploy(ctx, b, fleet, plan, tarball, release)
			rows = append(rows, row{n, batches, f, a, o, peakRSS(b)})
		}
	}
	fmt.Printf("\n%-6s %-20s %10s %10s %8s %10s %12s\n", "hosts", "batches", "ferry", "ansible", "ratio", "openssh", "ferry/openssh")
	for _, r := range rows {
		fmt.Printf("%-6d %-20s %9.2fs %9.2fs %7.1fx %9.2fs %11.2fx\n", r.hosts, r.batches, r.ferry.Seconds(), r.ansible.Seconds(),
			r.ansible.Seconds()/r.ferry.Seconds(), r.openssh.Seconds(), r.ferry.Seconds()/r.openssh.Seconds())
	}
	fmt.Println("openssh: the floor of this machine for the same bytes: one ssh client per host piping the ready-made tarball into tar and switching the link")
	fmt.Printf("peak RSS of the process running ferry's driver after the 50-host deploys: %.1f MB\n", float64(rows[len(rows)-1].ferryPeakRSSKiB)/1024)
}

// split is the plan of batches [1, 10%, 100%].
func split(hosts []*sshtest.Host) [][]*sshtest.Host {
	plan := pipeline.Strategy{Batches: []pipeline.BatchSize{{Count: 1}, {Percent: 10}, {Percent: 100}}}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	var out [][]*sshtest.Host
	i := 0
	for _, batch := range plan.Plan(names) {
		out = append(out, hosts[i:i+len(batch)])
		i += len(batch)
	}
	return out
}

func ferryDeploy(ctx context.Context, b *testing.B, fleet *sshtest.Fleet, hosts []*sshtest.Host, plan [][]*sshtest.Host, ws *workspace.Workspace, repo, hash string, id int) time.Duration {
	var list []any
	for _, h := range hosts {
		list = append(list, map[string]any{"name": h.Name, "address": "127.0.0.1", "port": h.Port})
	}
	cfg, err := ssh.ParseConfig(map[string]any{
		"hosts": list, "user": fleet.User, "key": fleet.Key, "known_hosts": fleet.KnownHosts,
		"root": fleet.Dir + "/{{host}}", "keep": 100, // no cleanup: Ansible's playbook does none
	})
	if err != nil {
		b.Fatal(err)
	}
	d, err := ssh.New(cfg, workspace.Setup{Project: "demo", Env: "prod", Workspace: ws})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	r := pipeline.Release{ID: strconv.Itoa(id), DeployID: int64(id), Project: "demo", Env: "prod", Repo: repo, Commit: hash, Version: "bench"}
	log := &stepLog{}
	start := time.Now()
	if err := d.Build(ctx, r, log); err != nil {
		b.Fatal(err)
	}
	for _, batch := range plan {
		var wg sync.WaitGroup
		for _, h := range batch {
			wg.Go(func() {
				if _, err := d.Install(ctx, h.Name, r, log); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	return time.Since(start)
}

func ansibleDeploy(ctx context.Context, b *testing.B, playbook string, fleet *sshtest.Fleet, hosts []*sshtest.Host, serial, tarball string, id int) time.Duration {
	dir := b.TempDir()
	var inv strings.Builder
	inv.WriteString("[fleet]\n")
	for _, h := range hosts {
		fmt.Fprintf(&inv, "%s ansible_host=127.0.0.1 ansible_port=%d root=%s\n", h.Name, h.Port, filepath.Join(fleet.Dir, h.Name))
	}
	fmt.Fprintf(&inv, "[fleet:vars]\nansible_user=%s\nansible_ssh_private_key_file=%s\nansible_python_interpreter=/usr/bin/python3\n", fleet.User, fleet.Key)
	fmt.Fprintf(&inv, "ansible_ssh_common_args='-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes'\n", fleet.KnownHosts)
	play := fmt.Sprintf(`- hosts: fleet
  gather_facts: false
  serial: %s
  tasks:
    - ansible.builtin.file: {path: "{{ root }}/releases/a%d", state: directory}
    - ansible.builtin.unarchive: {src: %q, dest: "{{ root }}/releases/a%d"}
    - ansible.builtin.file: {src: "releases/a%d", dest: "{{ root }}/current", state: link, force: true}
`, serial, id, tarball, id, id)
	os.WriteFile(filepath.Join(dir, "inventory.ini"), []byte(inv.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "deploy.yml"), []byte(play), 0o644)
	cmd := exec.CommandContext(ctx, playbook, "-i", "inventory.ini", "-f", strconv.Itoa(len(hosts)), "deploy.yml")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "ANSIBLE_PIPELINING=True", "ANSIBLE_HOST_KEY_CHECKING=True",
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"), "ANSIBLE_SSH_CONTROL_PATH_DIR="+filepath.Join(dir, "cp"))
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ansible-playbook: %v\n%s", err, out)
	}
	return time.Since(start)
}

// opensshDeploy does the least work that puts the tarball on every host with
// OpenSSH's own client: a new connection per host, the tarball piped into
// tar in a new release directory, and the link switched. No hooks, no
// checks, no build: what no deploy tool can go below on this machine.
func opensshDeploy(ctx context.Context, b *testing.B, fleet *sshtest.Fleet, plan [][]*sshtest.Host, tarball string, id int) time.Duration {
	start := time.Now()
	for _, batch := range plan {
		var wg sync.WaitGroup
		for _, h := range batch {
			wg.Go(func() {
				root := filepath.Join(fleet.Dir, h.Name)
				script := fmt.Sprintf("mkdir -p %[1]s/releases/o%[2]d && tar -xf - -C %[1]s/releases/o%[2]d && ln -sfn releases/o%[2]d %[1]s/current", root, id)
				cmd := exec.CommandContext(ctx, "ssh", "-F", "/dev/null", "-i", fleet.Key, "-p", strconv.Itoa(h.Port),
					"-o", "UserKnownHostsFile="+fleet.KnownHosts, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
					fleet.User+"@127.0.0.1", script)
				in, err := os.Open(tarball)
				if err != nil {
					b.Error(err)
					return
				}
				defer in.Close()
				cmd.Stdin = in
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Errorf("ssh %s: %v\n%s", h.Name, err, out)
				}
			})
		}
		wg.Wait()
	}
	return time.Since(start)
}

// peakRSS is the peak resident memory of this process, in KiB.
func peakRSS(b *testing.B) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}
