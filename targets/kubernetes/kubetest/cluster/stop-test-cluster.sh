#!/usr/bin/env bash
# Copied unchanged (but for these two lines) from the shared test tooling, ../shared/k8s/ next to
# ferry's checkout; with-test-cluster.sh runs ferry's tests with it.
# stop-test-cluster.sh - stop the processes started by start-test-cluster.sh, using
# the PIDs it recorded in $K8S_TEST_DIR/pids.  Never kills by name.
#
#   stop-test-cluster.sh           stop, keep $K8S_TEST_DIR (logs) for inspection
#   stop-test-cluster.sh --purge   stop and delete $K8S_TEST_DIR
#
# kwok, scheduler, controller-manager and apiserver get SIGTERM at once (~2 s instead
# of ~10 s one after the other), then etcd; whatever is still alive after 10 s gets
# SIGKILL.
set -uo pipefail
STATE=${K8S_TEST_DIR:-/tmp/k8s-test-cluster}
PIDS=$STATE/pids

[[ -f $PIDS/order ]] || { echo "no cluster recorded in $STATE" >&2; exit 0; }

# Only signal a PID whose command line still names this cluster's state dir or the
# cached binaries (guards against PID reuse after a crash or reboot).
ours() {
  [[ -r /proc/$1/cmdline ]] || return 1
  local cmd; cmd=$(tr '\0' ' ' <"/proc/$1/cmdline")
  [[ $cmd == *"$STATE"* || $cmd == */bin/k8s-v*/* ]]
}

# stop_group NAME... : SIGTERM all of them at once, wait up to 10 s, then SIGKILL.
stop_group() {
  local name pid f
  declare -A running=()
  for name in "$@"; do
    f=$PIDS/$name.pid; [[ -f $f ]] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null && ours "$pid"; then
      kill -TERM "$pid" 2>/dev/null && running[$name]=$pid
    fi
  done
  for _ in $(seq 50); do
    for name in "${!running[@]}"; do
      if ! kill -0 "${running[$name]}" 2>/dev/null; then echo "stopped $name (${running[$name]})" >&2; unset "running[$name]"; fi
    done
    ((${#running[@]} == 0)) && return 0
    sleep 0.2
  done
  for name in "${!running[@]}"; do
    echo "$name (${running[$name]}) ignored SIGTERM for 10s; SIGKILL" >&2
    kill -KILL "${running[$name]}" 2>/dev/null
  done
}

# etcd last: kube-apiserver's graceful shutdown hangs (10 s+) if etcd is gone first.
# shellcheck disable=SC2046  # names are single words
stop_group $(tac "$PIDS/order" | grep -vx etcd)
stop_group etcd

rm -f "$PIDS"/*.pid "$PIDS/order"
if [[ ${1:-} == --purge ]]; then rm -rf "$STATE"; fi
