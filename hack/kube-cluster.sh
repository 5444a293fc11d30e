#!/usr/bin/env bash
# hack/kube-cluster.sh up DIR | down DIR | build
#
# A real single-node Kubernetes cluster on this machine for Gantry's tests:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy
# and a kubelet on containerd + runc with the bridge CNI plugin, then Gantry
# installed from deploy/kustomize/base. Everything it starts runs with its own
# config, sockets and state under DIR, so it never touches a containerd or
# dockerd the user runs.
#
#   up DIR    build what is missing, start the cluster, install Gantry; writes
#             DIR/kubeconfig, DIR/bin/kubectl, DIR/gateway-addr (host:port on
#             127.0.0.1 where the gateway answers) and DIR/sample-app-image
#   down DIR  stop everything up started and remove the pods' containers,
#             mounts, network namespaces, interfaces and iptables rules; exits
#             non-zero if anything is left behind
#   reload DIR  rebuild the gantry images from this tree and reinstall them
#             into the running cluster
#   build     only build the binaries (cached in ${GANTRY_KUBE_CACHE:-~/.cache/gantry-kube})
#
# Binaries come from the Go module proxy (k8s.io/kubernetes v1.37.2 as in
# hack/kube-env.sh, cri-tools' crictl for teardown); the pause, gantry and
# sample-app images are built FROM scratch from static Go binaries, because
# no image can be pulled here. Progress goes to stderr.
set -euo pipefail

KUBE_VERSION=v1.37.2
STAGING_VERSION=v0.37.2
CRICTL_VERSION=v1.37.0
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
GATEWAY_NODEPORT=${GANTRY_KUBE_GATEWAY_NODEPORT:-30080}
NODE=gantry-node
BRIDGE=gantry-cni0

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${GANTRY_KUBE_CACHE:-$HOME/.cache/gantry-kube}
src="$cache/src"
bin="$cache/$KUBE_VERSION-cluster/bin"

log() { echo "kube-cluster: $*" >&2; }
die() { log "$*"; exit 1; }
gobuild() { GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 go "$@"; }

build_kube() { # the node's binaries, from one throwaway module
  local dir="$src/cluster-$KUBE_VERSION" missing=()
  for c in kubelet kube-controller-manager kube-scheduler kube-proxy kubectl; do
    [ -x "$bin/$c" ] || missing+=("$c")
  done
  ((${#missing[@]})) || return 0
  mkdir -p "$dir" "$bin"
  {
    printf 'module gantry.local/kubeenv/cluster\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n\n' "$KUBE_VERSION"
    # As in kube-env.sh: k8s.io/kubernetes' staging modules are pinned one
    # by one; the kubelet needs cri-streaming besides.
    for m in api apiextensions-apiserver apimachinery apiserver cli-runtime \
      client-go cloud-provider cluster-bootstrap code-generator component-base \
      component-helpers controller-manager cri-api cri-client cri-streaming \
      csi-translation-lib dynamic-resource-allocation endpointslice externaljwt \
      kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler \
      kubectl kubelet metrics mount-utils pod-security-admission \
      sample-apiserver sample-cli-plugin sample-controller streaming; do
      echo "replace k8s.io/$m => k8s.io/$m $STAGING_VERSION"
    done
  } >"$dir/go.mod"
  log "building ${missing[*]} $KUBE_VERSION (about 10 minutes from an empty cache)"
  (cd "$dir" && gobuild mod download k8s.io/kubernetes >&2)
  for c in "${missing[@]}"; do
    (cd "$dir" && gobuild build -trimpath \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${KUBE_VERSION#v1.}" \
      -o "$bin/$c.tmp" "k8s.io/kubernetes/cmd/$c" >&2)
    mv "$bin/$c.tmp" "$bin/$c"
  done
}

build_crictl() {
  [ -x "$bin/crictl" ] && return 0
  log "building crictl $CRICTL_VERSION"
  mkdir -p "$bin"
  GOBIN="$bin" GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 \
    go install -trimpath -ldflags "-s -w" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION" >&2
}

build_all() {
  local envbin
  envbin=$("$repo/hack/kube-env.sh") # etcd and kube-apiserver
  build_kube
  build_crictl
  ln -sf "$envbin/etcd" "$bin/etcd"
  ln -sf "$envbin/kube-apiserver" "$bin/kube-apiserver"
}

host_ip() { # the address pods reach the API server on (kube-proxy's endpoint)
  ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -1
}

wait_for() { # seconds description command...
  local n=$1 what=$2; shift 2
  for _ in $(seq 1 $((n * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  log "timed out after ${n}s waiting for $what"
  return 1
}

start() { # name command... (logs in DIR/logs, pid in DIR/pids)
  local name=$1; shift
  "$@" >"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/pids/$name"
}

pki() {
  local p="$dir/pki" ip=$1
  mkdir -p "$p"
  (
    cd "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 7 -subj /CN=gantry-test-ca 2>/dev/null
    cert() { # name subject extensions
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
        -out "$1.crt" -extfile <(printf '%s\n' "$3") 2>/dev/null
    }
    cert apiserver /CN=kube-apiserver "subjectAltName=IP:127.0.0.1,IP:$ip,IP:$API_SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth"
    # One administrator identity for the control plane and the node: this
    # cluster lives for one test run on one machine.
    cert admin "/O=system:masters/CN=gantry-admin" "extendedKeyUsage=clientAuth"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: gantry, cluster: {server: "https://$ip:6443", certificate-authority: $p/ca.crt}}]
users: [{name: admin, user: {client-certificate: $p/admin.crt, client-key: $p/admin.key}}]
contexts: [{name: gantry, context: {cluster: gantry, user: admin}}]
current-context: gantry
EOF
}

images() { # builds the three images and imports them into containerd
  local out="$dir/images" gantry_bin sum ctr=(ctr -a "$dir/containerd/containerd.sock" -n k8s.io)
  mkdir -p "$out"
  log "building the gantry binary (static) and the images"
  (cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$out/gantry" ./cmd/gantry &&
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/pause" ./hack/pause &&
    go build -o "$out/ociimage" ./hack/ociimage)
  sum=$(sha256sum "$out/gantry" | cut -c1-12)
  gantry_image="ghcr.io/gantry-dev/gantry:dev-$sum"
  sample_image="docker.io/gantry/sample-app:dev-$sum"
  "$out/ociimage" -o "$out/pause.tar" -ref gantry.local/pause:dev -entrypoint /pause "$out/pause=/pause"
  "$out/ociimage" -o "$out/gantry.tar" -ref "$gantry_image" -entrypoint /gantry "$out/gantry=/gantry"
  "$out/ociimage" -o "$out/sample-app.tar" -ref "$sample_image" -entrypoint /gantry,sample-app "$out/gantry=/gantry"
  for t in pause gantry sample-app; do
    "${ctr[@]}" images import "$out/$t.tar" >&2
  done
  echo "$sample_image" >"$dir/sample-app-image"
  echo "$gantry_image" >"$dir/gantry-image"
}

forward_rules() { # -I to add, -D to delete
  local r
  for r in "-s $POD_CIDR" "-d $POD_CIDR"; do
    # shellcheck disable=SC2086
    if [ "$1" = -I ] || iptables -C FORWARD $r -m comment --comment gantry-kube-cluster -j ACCEPT 2>/dev/null; then
      iptables "$1" FORWARD $r -m comment --comment gantry-kube-cluster -j ACCEPT
    fi
  done
}

containerd_up() {
  local c="$dir/containerd"
  mkdir -p "$c" "$dir/cni/net.d" "$dir/cni/ipam"
  cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[debug]
  level = "warn"
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
[plugins."io.containerd.grpc.v1.cri"]
  # The pause image cannot be pulled here; this one is built locally.
  sandbox_image = "gantry.local/pause:dev"
  # Processes here lack CAP_SYS_RESOURCE: without this every sandbox fails
  # with runc's "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$c/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
EOF
  # No masquerading and no portmap: the pods need no way out, and so the
  # plugin writes no iptables rules.
  cat >"$dir/cni/net.d/10-gantry.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "gantry", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$dir/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "loopback"}
]}
EOF
  # Bridged pod-to-pod traffic passes the FORWARD chain (br_netfilter),
  # whose policy a dockerd on this machine sets to DROP.
  forward_rules -I
  start containerd containerd --config "$c/config.toml"
  wait_for 30 containerd ctr -a "$c/containerd.sock" version || { tail -20 "$dir/logs/containerd.log" >&2; exit 1; }
  # The kubelet's cAdvisor asks containerd for the pod and container names
  # of each cgroup at a fixed path; without them /metrics/cadvisor has no
  # pod labels. The link is made only where no other containerd listens.
  if [ ! -e /run/containerd/containerd.sock ]; then
    mkdir -p /run/containerd
    ln -s "$c/containerd.sock" /run/containerd/containerd.sock
    touch "$dir/cadvisor-link"
  else
    log "/run/containerd/containerd.sock is another containerd's: cAdvisor's metrics will lack pod labels"
  fi
}

control_plane_up() {
  local ip=$1 k="$bin"
  start etcd "$k/etcd" --data-dir "$dir/etcd" --listen-client-urls http://127.0.0.1:12379 \
    --advertise-client-urls http://127.0.0.1:12379 --listen-peer-urls http://127.0.0.1:12380 \
    --initial-advertise-peer-urls http://127.0.0.1:12380 --initial-cluster default=http://127.0.0.1:12380 \
    --listen-metrics-urls http://127.0.0.1:12381 --log-level warn
  start kube-apiserver "$k/kube-apiserver" --etcd-servers http://127.0.0.1:12379 \
    --bind-address "$ip" --advertise-address "$ip" --secure-port 6443 \
    --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
    --client-ca-file "$dir/pki/ca.crt" --authorization-mode Node,RBAC \
    --service-cluster-ip-range "$SERVICE_CIDR" --allow-privileged=true \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$dir/pki/sa.pub" --service-account-signing-key-file "$dir/pki/sa.key" \
    --kubelet-preferred-address-types InternalIP --profiling=false
  wait_for 60 kube-apiserver "$dir/bin/kubectl" get --raw /readyz || { tail -20 "$dir/logs/kube-apiserver.log" >&2; exit 1; }
  start kube-controller-manager "$k/kube-controller-manager" --kubeconfig "$dir/kubeconfig" \
    --service-account-private-key-file "$dir/pki/sa.key" --root-ca-file "$dir/pki/ca.crt" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 10257 --profiling=false \
    --node-monitor-grace-period 20s
  start kube-scheduler "$k/kube-scheduler" --kubeconfig "$dir/kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 10259 --profiling=false
}

node_up() {
  local ip=$1
  mkdir -p "$dir/kubelet" "$dir/pod-logs"
  # This machine has cgroup v1 (hybrid). Kubelet 1.35+ refuses v1 unless
  # told; cgroupfs because no systemd runs here; no QoS cgroup tree and no
  # node-allocatable enforcement, so pods' limits are set on each
  # container's own cgroup only (see docs/kubernetes.md).
  cat >"$dir/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
containerRuntimeEndpoint: unix://$dir/containerd/containerd.sock
podLogsDir: $dir/pod-logs
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}, x509: {clientCAFile: $dir/pki/ca.crt}}
authorization: {mode: AlwaysAllow}
address: $ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
hairpinMode: hairpin-veth
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
  start kubelet "$bin/kubelet" --kubeconfig "$dir/kubeconfig" --config "$dir/kubelet-config.yaml" \
    --root-dir "$dir/kubelet" --hostname-override "$NODE" --node-ip "$ip" --v 1
  start kube-proxy "$bin/kube-proxy" --kubeconfig "$dir/kubeconfig" --hostname-override "$NODE" \
    --proxy-mode iptables --cluster-cidr "$POD_CIDR" --conntrack-max-per-core 0 \
    --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 \
    --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256 \
    --nodeport-addresses 127.0.0.0/8,"$ip"/32
  wait_for 90 "node $NODE to be Ready" "$dir/bin/kubectl" wait --for condition=Ready "node/$NODE" --timeout 1s ||
    { tail -30 "$dir/logs/kubelet.log" >&2; exit 1; }
}

install_gantry() {
  local k="$dir/bin/kubectl" gantry_image sample_image
  gantry_image=$(cat "$dir/gantry-image")
  mkdir -p "$dir/install"
  # The base a user applies, with the locally built image (its tag names the
  # binary, so IfNotPresent finds it without a registry) and the gateway's
  # Service on a node port, which kube-proxy opens on 127.0.0.1.
  cp -r "$repo/deploy" "$dir/install/"
  cat >"$dir/install/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deploy/kustomize/base]
images:
  - {name: ghcr.io/gantry-dev/gantry, newName: ${gantry_image%:*}, newTag: ${gantry_image##*:}}
patches:
  - target: {kind: Deployment, namespace: gantry-system}
    patch: |
      - op: replace
        path: /spec/template/spec/containers/0/args/2
        value: --queue-proxy-image=$gantry_image
  - target: {kind: Deployment, name: gantry-gateway}
    patch: |
      - {op: replace, path: /spec/replicas, value: 1}
  - target: {kind: Service, name: gantry-gateway}
    patch: |
      - {op: add, path: /spec/type, value: NodePort}
      - {op: add, path: /spec/ports/1/nodePort, value: $GATEWAY_NODEPORT}
EOF
  log "installing Gantry from deploy/kustomize/base ($gantry_image)"
  "$k" apply --server-side -k "$dir/install" >&2
  for d in gantry-controller gantry-autoscaler gantry-gateway; do
    "$k" -n gantry-system rollout status "deploy/$d" --timeout 180s >&2 ||
      { "$k" -n gantry-system get pods -o wide >&2
        "$k" -n gantry-system logs --all-containers --prefix --tail 20 -l app.kubernetes.io/part-of=gantry >&2 || true
        exit 1; }
  done
  echo "127.0.0.1:$GATEWAY_NODEPORT" >"$dir/gateway-addr"
  wait_for 30 "the gateway on 127.0.0.1:$GATEWAY_NODEPORT" curl -s -o /dev/null "http://127.0.0.1:$GATEWAY_NODEPORT/" ||
    exit 1
}

snapshot() { # what the host has that the cluster could leave behind
  {
    echo "# links"; ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
    echo "# netns"; { ls /var/run/netns 2>/dev/null || true; } | sort  # none on a fresh machine
    echo "# files"; ls -d /run/containerd/containerd.sock 2>/dev/null || true
    echo "# mounts"; awk '{print $2}' /proc/mounts | grep -F "$dir" | sort || true
    echo "# iptables"; { iptables-save 2>/dev/null; ip6tables-save 2>/dev/null; } | grep -E 'KUBE-|CNI-|'"${POD_CIDR%/*}"'|gantry' | sort -u || true
    echo "# processes"; pgrep -af -- "$dir" | grep -v -e "kube-cluster.sh" -e pgrep | sed 's/^[0-9]* //' | sort || true
  }
}

stop_pid() { # name
  local f="$dir/pids/$1" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

iptables_cleanup() { # what kube-proxy and the kubelet wrote, in every table
  local t cmd
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for t in filter nat mangle; do
      "$cmd" -t "$t" -S 2>/dev/null | grep -E -- '^-A [A-Z]+ .*-j KUBE-' | sed 's/^-A /-D /' |
        while read -r rule; do eval "$cmd -t $t $rule" 2>/dev/null || true; done || true
      for c in $("$cmd" -t "$t" -S 2>/dev/null | awk '/^-N KUBE-/{print $2}'); do "$cmd" -t "$t" -F "$c" 2>/dev/null || true; done
      for c in $("$cmd" -t "$t" -S 2>/dev/null | awk '/^-N KUBE-/{print $2}'); do "$cmd" -t "$t" -X "$c" 2>/dev/null || true; done
    done
  done
}

down() {
  [ -d "$dir/pids" ] || { log "nothing to stop in $dir"; return 0; }
  log "stopping the cluster in $dir"
  local crictl=("$bin/crictl" --runtime-endpoint "unix://$dir/containerd/containerd.sock" --timeout 20s)
  # The kubelet first, so it restarts nothing; then every pod sandbox is
  # stopped and removed through the CRI, which tears down its network
  # (CNI DEL) and namespace.
  stop_pid kubelet
  if [ -S "$dir/containerd/containerd.sock" ]; then
    "${crictl[@]}" stopp $("${crictl[@]}" pods -q 2>/dev/null) >/dev/null 2>&1 || true
    "${crictl[@]}" rmp -fa >/dev/null 2>&1 || true
  fi
  stop_pid kube-proxy
  [ -x "$bin/kube-proxy" ] && "$bin/kube-proxy" --cleanup >/dev/null 2>&1 || true
  iptables_cleanup
  forward_rules -D
  stop_pid containerd
  if [ -f "$dir/cadvisor-link" ] && [ -L /run/containerd/containerd.sock ]; then
    rm -f /run/containerd/containerd.sock
  fi
  # Shims outlive containerd by design; theirs are told apart by its socket.
  pkill -f -- "containerd-shim-runc-v2 .*-address $dir/containerd/containerd.sock" 2>/dev/null || true
  for n in kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_pid "$n"; done
  # Mounts under DIR (the kubelet's volumes, containerd's snapshots and
  # sandbox files), deepest first.
  awk '{print $2}' /proc/mounts | grep -F "$dir/" | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done || true
  ip link del "$BRIDGE" 2>/dev/null || true
  local left
  left=$(diff <(cat "$dir/host-before") <(snapshot) | grep '^>' || true)
  # The pods' logs stay, with the daemons', for a failed run's reader.
  [ -d "$dir/pod-logs" ] && cp -r "$dir/pod-logs" "$dir/logs/pods" 2>/dev/null || true
  find "$dir" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} + 2>/dev/null || true
  if [ -n "$left" ]; then
    log "left behind after down:"; echo "$left" >&2
    return 1
  fi
  log "down: nothing left behind"
}

up() {
  command -v containerd >/dev/null && command -v runc >/dev/null && [ -x /usr/lib/cni/bridge ] ||
    die "needs Debian's containerd, runc and containernetworking-plugins"
  build_all
  local ip; ip=$(host_ip)
  [ -n "$ip" ] || die "no IPv4 address with a route: the pods reach the API server on it"
  if [ -d "$dir/pids" ]; then down || true; fi
  # A failed up leaves nothing running either.
  trap 'status=$?; if [ $status -ne 0 ]; then log "up failed; stopping what it started"; down || true; fi' EXIT
  mkdir -p "$dir/logs" "$dir/pids" "$dir/bin"
  snapshot >"$dir/host-before"
  ln -sf "$bin/kubectl" "$dir/bin/kubectl"
  ln -sf "$bin/crictl" "$dir/bin/crictl"
  log "starting a single-node cluster in $dir (API server https://$ip:6443)"
  pki "$ip"
  containerd_up
  images &
  local images_pid=$!
  control_plane_up "$ip"
  node_up "$ip"
  wait "$images_pid" || die "building the images failed"
  install_gantry
  log "up: KUBECONFIG=$dir/kubeconfig, gateway on $(cat "$dir/gateway-addr")"
}

reload() { # a new gantry build into a running cluster
  [ -S "$dir/containerd/containerd.sock" ] || die "no cluster runs in $dir"
  images
  install_gantry
}

cmd=${1:?usage: kube-cluster.sh up DIR | down DIR | reload DIR | build}
case "$cmd" in
build) build_all ;;
up | down | reload)
  dir=$(mkdir -p "${2:?usage: kube-cluster.sh $cmd DIR}" && cd "$2" && pwd)
  export KUBECONFIG="$dir/kubeconfig"
  "$cmd"
  ;;
*) die "usage: kube-cluster.sh up DIR | down DIR | reload DIR | build" ;;
esac
