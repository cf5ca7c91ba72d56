#!/usr/bin/env bash
# Copied unchanged (but for these two lines) from the shared test tooling, ../shared/k8s/ next to
# ferry's checkout; with-test-cluster.sh runs ferry's tests with it.
# start-test-cluster.sh - build (cached) and start a throw-away, REAL Kubernetes
# control plane bound to 127.0.0.1 only, for end-to-end tests of client-go code.
#
#   etcd (go.etcd.io/etcd/server/v3)          - real storage
#   kube-apiserver, kube-controller-manager,  - real control plane, built from the
#   kube-scheduler, kubectl (k8s.io/kubernetes)  Go module proxy (no GitHub, no images)
#   kwok (sigs.k8s.io/kwok)                   - fake kubelet: keeps fake Nodes Ready and
#                                               moves scheduled Pods to Running/Ready, and
#                                               removes Pods marked for deletion
#
# Deployments, ReplicaSets, rollouts, rollbacks (kubectl rollout undo), scheduling,
# garbage collection, service accounts and RBAC are all the real Kubernetes code.
# No container ever runs: a Pod is "Ready" because kwok writes its status.
#
# Usage:
#   start-test-cluster.sh            build if needed, then start; prints KUBECONFIG=...
#   start-test-cluster.sh build      only build (e.g. a CI step to warm the cache)
#   stop-test-cluster.sh             stop everything started here (by PID)
#
# Environment (all optional):
#   K8S_TEST_CACHE   cache dir: Go module cache, Go build cache, wrapper modules and
#                    built binaries.  Default ${XDG_CACHE_HOME:-$HOME/.cache}/k8s-test-cluster
#                    (~5 GiB after a build: ~1.1 GiB modules, ~3.7 GiB build cache,
#                    ~0.4 GiB binaries).  Keep it between CI runs to skip the build.
#   K8S_TEST_DIR     runtime dir: certs, tokens, etcd data, logs, pid files, kubeconfig.
#                    Default /tmp/k8s-test-cluster.  Wiped on start.
#   K8S_TEST_PORT_BASE  first port tried (default 16443); free ports on 127.0.0.1 are
#                    picked upward from it for apiserver, etcd (2), controller-manager,
#                    scheduler.
#   K8S_TEST_NODES   number of fake (kwok) nodes, default 1.
#   K8S_TEST_FAIL_MARKER  image substring that kwok treats as "cannot start": pods whose
#                    container image contains it stay Pending with ImagePullBackOff and
#                    never become Ready.  Default "kwok-fail" (e.g. image "nginx:kwok-fail").
#   K8S_TEST_POD_CIDR  pod IPs kwok assigns; default 127.1.0.0/16 (loopback, see the
#                    kwok section below for the EndpointSlice trade-off).
#   K8S_VERSION (v1.36.3)  ETCD_VERSION (v3.6.8)  KWOK_VERSION (v0.8.0)
#   K8S_TEST_ETCD_BIN  use this etcd binary instead of the built one.  NOT Debian
#                    bookworm's etcd-server 3.4.23: apiserver 1.36 starts on it, but it
#                    lacks RequestWatchProgress, and rollouts take ~90 s instead of <1 s.
#   K8S_TEST_KEEP_GOCACHE=0  delete the 3.7 GiB Go build cache after a successful build
#                    (binaries stay cached; only a version change then rebuilds cold).
#
# Output: $K8S_TEST_DIR/kubeconfig (admin, system:masters, token auth, CA-verified TLS)
#         $K8S_TEST_DIR/env        (export K8S_TEST_KUBECONFIG=... KUBECONFIG=...;
#                                   export PATH=<bin dir>:$PATH, for kubectl)
#         $K8S_TEST_DIR/logs/*.log
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.8}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
CACHE=${K8S_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/k8s-test-cluster}
STATE=${K8S_TEST_DIR:-/tmp/k8s-test-cluster}
PORT_BASE=${K8S_TEST_PORT_BASE:-16443}
NODES=${K8S_TEST_NODES:-1}
FAIL_MARKER=${K8S_TEST_FAIL_MARKER:-kwok-fail}
POD_CIDR=${K8S_TEST_POD_CIDR:-127.1.0.0/16}

# k8s.io/kubernetes v1.X.Y  <->  staging modules (k8s.io/api, client-go, ...) v0.X.Y
STAGING_VERSION=v0.${K8S_VERSION#v1.}
BIN=$CACHE/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION
BINARIES="etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok"

log() { printf '[k8s-test-cluster %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}'; }

# --------------------------------------------------------------------------- build
build() {
  local missing=0 b
  for b in $BINARIES; do [[ -x $BIN/$b ]] || missing=1; done
  [[ -f $BIN/kwok-stages.yaml ]] || missing=1
  if [[ $missing == 0 ]]; then log "binaries cached in $BIN"; return 0; fi

  command -v go >/dev/null || die "go not found in PATH"
  # Dedicated caches so that CI can save/restore one directory.  CGO off: static,
  # faster builds, same as the official Kubernetes server binaries.
  export GOMODCACHE=$CACHE/gomod GOCACHE=$CACHE/gobuild CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
  mkdir -p "$BIN.tmp" "$CACHE/src"
  local t0 t; t0=$(now)

  # ---- 1. kube-apiserver, kube-controller-manager, kube-scheduler, kubectl.
  # `go install k8s.io/kubernetes/cmd/...@v` is refused because k8s.io/kubernetes'
  # go.mod has replace directives (k8s.io/api => ./staging/src/k8s.io/api, ...) and
  # requires those modules at v0.0.0.  A wrapper module that requires
  # k8s.io/kubernetes and replaces every staging module with its published v0.X.Y
  # version builds the same code.
  local wk=$CACHE/src/k8s-$K8S_VERSION
  if [[ ! -f $wk/.ready ]]; then
    t=$(now); rm -rf "$wk"; mkdir -p "$wk"
    ( cd "$wk"
      printf 'module local/k8s-test-cluster/k8s\n\ngo 1.26.0\n' > go.mod
      local kmod
      kmod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
      [[ -f $kmod ]] || die "could not download k8s.io/kubernetes@$K8S_VERSION"
      go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
      # every "k8s.io/X => ./staging/src/k8s.io/X" becomes "k8s.io/X => k8s.io/X v0.X.Y"
      local m
      for m in $(sed -n 's#^\s*\(k8s\.io/[^ ]*\) => \./staging/src/.*#\1#p' "$kmod"); do
        go mod edit -replace="$m=$m@$STAGING_VERSION"
      done
      # "tool" directives (Go >= 1.24) pull in exactly the deps of these mains.
      go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" \
        "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION" \
        "k8s.io/kubernetes/cmd/kube-scheduler@$K8S_VERSION" \
        "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION" >go-get.log 2>&1 || { cat go-get.log >&2; exit 1; }
      touch .ready ) || die "resolving k8s.io/kubernetes@$K8S_VERSION failed"
    log "k8s wrapper module resolved + downloaded in $(since "$t")s"
  fi
  # Version stamps normally injected by Kubernetes' hack/lib/version.sh.
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local ldf="-s -w"
  local p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
  done
  t=$(now)
  ( cd "$wk" && go build -ldflags "$ldf" -o "$BIN.tmp/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl )
  log "built kube-apiserver, kube-controller-manager, kube-scheduler, kubectl in $(since "$t")s"

  # ---- 2. etcd.  go.etcd.io/etcd/server/v3 is package main, but its go.mod also has
  # replace directives (../api, ...), so the same wrapper trick is needed.
  local we=$CACHE/src/etcd-$ETCD_VERSION
  t=$(now)
  if [[ ! -f $we/.ready ]]; then
    rm -rf "$we"; mkdir -p "$we"
    ( cd "$we"
      printf 'module local/k8s-test-cluster/etcd\n\ngo 1.24.0\n' > go.mod
      go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >go-get.log 2>&1 || { cat go-get.log >&2; exit 1; }
      touch .ready ) || die "resolving go.etcd.io/etcd/server/v3@$ETCD_VERSION failed"
  fi
  ( cd "$we" && go build -ldflags "-s -w" -o "$BIN.tmp/etcd" go.etcd.io/etcd/server/v3 )
  log "built etcd in $(since "$t")s"

  # ---- 3. kwok: a plain `go install` works (no replace directives).
  t=$(now)
  GOBIN=$BIN.tmp go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >"$CACHE/src/kwok-install.log" 2>&1 ||
    { cat "$CACHE/src/kwok-install.log" >&2; die "building kwok@$KWOK_VERSION failed"; }
  # kwok's default Stage set ("fast" node + lease heartbeat + "fast" pod), shipped in
  # its module; copied next to the binaries so that a cleared module cache is fine.
  local kd=$GOMODCACHE/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage f
  for f in "$kd"/node/fast/node-initialize.yaml \
           "$kd"/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           "$kd"/pod/fast/pod-ready.yaml "$kd"/pod/fast/pod-complete.yaml \
           "$kd"/pod/fast/pod-delete.yaml; do
    [[ -f $f ]] || die "kwok stage file missing: $f"
    printf -- '---\n'; cat "$f"
  done > "$BIN.tmp/kwok-stages.yaml"
  log "built kwok in $(since "$t")s"

  rm -rf "$BIN"; mv "$BIN.tmp" "$BIN"
  if [[ ${K8S_TEST_KEEP_GOCACHE:-1} == 0 ]]; then rm -rf "$GOCACHE"; fi
  log "build done in $(since "$t0")s; cache size: $(du -sh "$CACHE" 2>/dev/null | cut -f1)"
}

# --------------------------------------------------------------------------- start
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
USED_PORTS=" "
# pick_port VAR START : first port >= START that nothing listens on and that was not
# handed out already (sets VAR; no $(...) subshell, so USED_PORTS is kept).
pick_port() {
  local p=$2
  while port_in_use "$p" || [[ $USED_PORTS == *" $p "* ]]; do p=$((p + 1)); done
  USED_PORTS+="$p "; printf -v "$1" '%s' "$p"
}
rand_hex() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

# start NAME BINARY ARGS... : background process, stdout+stderr to logs/NAME.log,
# PID to pids/NAME.pid (stop-test-cluster.sh kills by these PIDs).
start_proc() {
  local name=$1; shift
  nohup "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name.pid"
  echo "$name" >>"$STATE/pids/order"
}

# wait_for SECONDS DESCRIPTION COMMAND... : poll every 0.2s
wait_for() {
  local timeout=$1 what=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then die "timed out after ${timeout}s waiting for $what (see $STATE/logs/)"; fi
    sleep 0.2
  done
}

alive() { local n; for n in "$@"; do kill -0 "$(cat "$STATE/pids/$n.pid")" 2>/dev/null || { log "$n exited:"; tail -20 "$STATE/logs/$n.log" >&2; return 1; }; done; }

kubeconfig() { # kubeconfig FILE TOKEN
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: k8s-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 <"$STATE/pki/ca.crt")
users:
- name: user
  user:
    token: $2
contexts:
- name: k8s-test
  context: {cluster: k8s-test, user: user, namespace: default}
current-context: k8s-test
EOF
  chmod 600 "$1"
}

start() {
  build
  local t0; t0=$(now)
  if [[ -d $STATE/pids ]] && ls "$STATE"/pids/*.pid >/dev/null 2>&1; then
    die "$STATE/pids exists: a cluster may be running; run stop-test-cluster.sh first"
  fi
  rm -rf "$STATE"; mkdir -p "$STATE"/{pki,logs,pids,etcd,kcm-certs,sched-certs}
  # On any failure below, stop whatever was already started.
  STARTED_OK=0
  trap 'if [[ $STARTED_OK == 0 ]]; then log "start failed; stopping what was started"; K8S_TEST_DIR=$STATE "$SCRIPT_DIR/stop-test-cluster.sh" >&2 || true; fi' EXIT

  pick_port API_PORT "$PORT_BASE"
  pick_port ETCD_PORT "$((PORT_BASE + 1))"
  pick_port ETCD_PEER_PORT "$((PORT_BASE + 2))"
  pick_port KCM_PORT "$((PORT_BASE + 3))"
  pick_port SCHED_PORT "$((PORT_BASE + 4))"

  # ---- PKI: one CA, an apiserver serving cert for 127.0.0.1/localhost, and a
  # service-account signing key pair.  Clients authenticate with static bearer tokens.
  local pki=$STATE/pki
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=k8s-test-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=kube-apiserver" \
    -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc" \
    "extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature,keyEncipherment" >"$pki/apiserver.ext"
  openssl x509 -req -sha256 -days 3650 -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -CAcreateserial -extfile "$pki/apiserver.ext" -out "$pki/apiserver.crt" 2>/dev/null
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

  # token,user,uid,"groups".  The controller-manager and scheduler users are the ones
  # the built-in RBAC bootstrap policy already binds (as kubeadm sets them up).
  ADMIN_TOKEN=$(rand_hex); KCM_TOKEN=$(rand_hex); SCHED_TOKEN=$(rand_hex); KWOK_TOKEN=$(rand_hex)
  cat >"$pki/tokens.csv" <<EOF
$ADMIN_TOKEN,admin,uid-admin,"system:masters"
$KCM_TOKEN,system:kube-controller-manager,uid-kcm
$SCHED_TOKEN,system:kube-scheduler,uid-scheduler
$KWOK_TOKEN,kwok-controller,uid-kwok,"system:masters"
EOF
  chmod 600 "$pki"/*.key "$pki/tokens.csv"
  kubeconfig "$STATE/kubeconfig" "$ADMIN_TOKEN"
  kubeconfig "$STATE/kcm.kubeconfig" "$KCM_TOKEN"
  kubeconfig "$STATE/scheduler.kubeconfig" "$SCHED_TOKEN"
  kubeconfig "$STATE/kwok.kubeconfig" "$KWOK_TOKEN"
  local t; t=$(now)

  # ---- etcd, loopback only; no fsync: test data is disposable, and fsync dominates
  # latency on slow CI disks.
  local etcd_bin=${K8S_TEST_ETCD_BIN:-$BIN/etcd} etcd_extra=()
  # --unsafe-no-fsync exists from etcd 3.5 on (not in Debian bookworm's 3.4.23)
  if "$etcd_bin" --help 2>&1 | grep -q -- --unsafe-no-fsync; then etcd_extra+=(--unsafe-no-fsync); fi
  start_proc etcd "$etcd_bin" --name test --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "test=http://127.0.0.1:$ETCD_PEER_PORT" --log-level warn "${etcd_extra[@]}"
  wait_for 30 "etcd" port_in_use "$ETCD_PORT"
  alive etcd

  # ---- kube-apiserver.  --endpoint-reconciler-type=none: the "kubernetes" Service
  # would otherwise get an Endpoints object with 127.0.0.1, which validation rejects.
  # Service IPs are only allocated (stored in etcd), never bound or routed.
  start_proc kube-apiserver "$BIN/kube-apiserver" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" --token-auth-file "$pki/tokens.csv" \
    --authorization-mode RBAC --allow-privileged \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --endpoint-reconciler-type none \
    --cert-dir "$STATE/pki/apiserver-generated" --profiling=false --v 1
  wait_for 90 "kube-apiserver /readyz" "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" get --raw /readyz
  alive kube-apiserver
  log "etcd + kube-apiserver ready in $(since "$t")s (https://127.0.0.1:$API_PORT)"

  # ---- controller-manager (deployment, replicaset, GC, serviceaccount, ... controllers)
  start_proc kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$STATE/kcm.kubeconfig" --bind-address 127.0.0.1 --secure-port "$KCM_PORT" \
    --cert-dir "$STATE/kcm-certs" --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-name k8s-test --profiling=false --v 1
  # ---- scheduler (kwok does not schedule; Deployments' pods need nodeName set)
  start_proc kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$STATE/scheduler.kubeconfig" --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" \
    --cert-dir "$STATE/sched-certs" --leader-elect=false --profiling=false --v 1

  # ---- kwok.  No serverAddress/nodePort: kwok opens no listening socket at all.
  # Node IP is 127.0.0.1, so even a `kubectl logs/exec` (apiserver -> "kubelet") can
  # only ever dial loopback.  Pod IPs come from a loopback /16 for the same reason
  # (the apiserver's pods/proxy and services/proxy would dial pod IPs).  Trade-off:
  # EndpointSlice validation rejects loopback IPs, so Services get no endpoints;
  # set K8S_TEST_POD_CIDR (e.g. 10.244.0.0/16) if a test needs them, and then never
  # use the proxy subresources, which would send traffic to that range.
  # Extra Stage: pods whose image contains $FAIL_MARKER look like ImagePullBackOff
  # (stay Pending, never Ready) to test failed rollouts / progress deadlines.
  {
    cat <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  cidr: $POD_CIDR
  nodeIP: 127.0.0.1
  manageAllNodes: false
  manageNodesWithAnnotationSelector: kwok.x-k8s.io/node=fake
  nodeLeaseDurationSeconds: 40
  # a --config file is not defaulted: these must be spelled out (values as kwokctl's)
  nodeLeaseParallelism: 4
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  podsOnNodeSyncParallelism: 1
  enablePodsOnNodeSyncListPager: true
  enablePodsOnNodeSyncStreamWatch: false
  enableDebuggingHandlers: false
  enableContentionProfiling: false
  enableProfilingHandler: false
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-image-pull-backoff
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist
    - key: '.spec.containers | any(.image | contains("$FAIL_MARKER"))'
      operator: In
      values: ["true"]
    - key: '.status.containerStatuses.[].state.waiting.reason'
      operator: NotIn
      values: ["ImagePullBackOff"]
  weight: 100
  next:
    statusTemplate: |
      {{ \$now := Now }}
      phase: Pending
      startTime: {{ \$now | Quote }}
      {{ with NodeIPsWith .spec.nodeName }}
      hostIP: {{ index . 0 | Quote }}
      {{ end }}
      conditions:
      - {type: PodScheduled, status: "True", lastTransitionTime: {{ \$now | Quote }}}
      - {type: Initialized, status: "True", lastTransitionTime: {{ \$now | Quote }}}
      - {type: Ready, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ \$now | Quote }}}
      - {type: ContainersReady, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ \$now | Quote }}}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          waiting:
            reason: ImagePullBackOff
            message: {{ printf "Back-off pulling image %q (simulated by kwok)" .image | Quote }}
      {{ end }}
EOF
    # the stock pod-ready stage must not pick up the "failing" pods: add a
    # NotIn requirement to its selector (and only to that stage's).
    awk -v m="$FAIL_MARKER" '
      /^kind: Stage/ {name = ""}
      /^  name: / {name = $2}
      {print}
      name == "pod-ready" && /^    matchExpressions:/ {
        print "    - key: '"'"'.spec.containers | any(.image | contains(\"" m "\"))'"'"'"
        print "      operator: NotIn"
        print "      values: [\"true\"]"
      }' "$BIN/kwok-stages.yaml"
  } >"$STATE/kwok.yaml"
  start_proc kwok "$BIN/kwok" --kubeconfig "$STATE/kwok.kubeconfig" --config "$STATE/kwok.yaml"

  # ---- fake nodes
  local i nodes=""
  for ((i = 0; i < NODES; i++)); do
    nodes+="---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: \"0\"}
  labels: {kubernetes.io/hostname: kwok-node-$i, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
status:
  allocatable: {cpu: \"32\", memory: 256Gi, pods: \"110\"}
  capacity: {cpu: \"32\", memory: 256Gi, pods: \"110\"}
"
  done
  local kc=("$BIN/kubectl" --kubeconfig "$STATE/kubeconfig")
  printf '%s' "$nodes" | "${kc[@]}" apply -f - >/dev/null
  wait_for 60 "fake nodes Ready" "${kc[@]}" wait --for=condition=Ready node --all --timeout=1s
  # the ServiceAccount admission plugin rejects pods until "default" SA exists
  wait_for 60 "default service account" "${kc[@]}" -n default get serviceaccount default
  alive etcd kube-apiserver kube-controller-manager kube-scheduler kwok

  # K8S_TEST_KUBECONFIG: a dedicated variable for tests to opt in on, so that a
  # developer's own KUBECONFIG (a real cluster) is never picked up by accident.
  printf 'export K8S_TEST_KUBECONFIG=%q\nexport KUBECONFIG=%q\nexport PATH=%q:"$PATH"\n' \
    "$STATE/kubeconfig" "$STATE/kubeconfig" "$BIN" >"$STATE/env"
  STARTED_OK=1
  log "cluster ready in $(since "$t0")s (after build); $NODES fake node(s); logs in $STATE/logs"
  echo "KUBECONFIG=$STATE/kubeconfig"
}

case ${1:-start} in
  build) build ;;
  start) start ;;
  *) die "usage: $0 [build|start]" ;;
esac
