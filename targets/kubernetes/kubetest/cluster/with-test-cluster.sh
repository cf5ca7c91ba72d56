#!/usr/bin/env bash
# with-test-cluster.sh CMD [ARGS...] - start a throw-away Kubernetes control plane
# (start-test-cluster.sh: etcd, kube-apiserver, controller-manager, scheduler and kwok on
# 127.0.0.1), run CMD with K8S_TEST_KUBECONFIG exported, and stop the cluster when CMD
# ends, whether it passed, failed or was interrupted. Exits with CMD's status.
#
#   K8S_TEST_CACHE  build cache; default ~/.cache/k8s-test-cluster (a cold build takes
#                   ~5-15 minutes and 5 GiB, a cached start ~10 s)
#   K8S_TEST_DIR    runtime dir; default a new /tmp/ferry-k8s.XXXXXX, removed at the end,
#                   so a cluster a developer runs in /tmp/k8s-test-cluster is left alone
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
(($# > 0)) || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
export K8S_TEST_CACHE=${K8S_TEST_CACHE:-$HOME/.cache/k8s-test-cluster}
export K8S_TEST_DIR=${K8S_TEST_DIR:-$(mktemp -d /tmp/ferry-k8s.XXXXXX)}
trap '"$HERE/stop-test-cluster.sh" --purge >/dev/null' EXIT
"$HERE/start-test-cluster.sh" >&2
# shellcheck disable=SC1091
source "$K8S_TEST_DIR/env"
"$@"
