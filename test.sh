#!/usr/bin/env bash
# Runs every Gantry test. Installs what the tests need first (Debian packages
# via apt-get, Go modules via the module proxy), so a fresh Debian machine
# with Go needs nothing else.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests use: promtool (prometheus) for alert rules,
# Chromium for the UI's browser tests, a Docker Engine and a registry for the
# docker runtime's tests, containerd, runc and the CNI plugins for the
# Kubernetes node.
need=()
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
# The single-node cluster of hack/kube-cluster.sh.
command -v containerd >/dev/null 2>&1 || need+=(containerd)
command -v runc >/dev/null 2>&1 || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# nginx, HAProxy, wrk and jq for the edge benchmark's smoke test (bench/edge.sh).
for tool in nginx haproxy wrk jq; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if ((${#need[@]})); then
  echo "test.sh: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Tools found above are required from here on: a missing one fails its tests.
export GANTRY_REQUIRE_TOOLS=1

go mod download
# h2spec for the h2c conformance test, built once from the Go module proxy.
h2spec_dir="${XDG_CACHE_HOME:-$HOME/.cache}/gantry-tools/h2spec-v2.2.1"
if [ ! -x "$h2spec_dir/h2spec" ]; then
  GOFLAGS=-mod=mod GOBIN="$h2spec_dir" go install "github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible"
fi
export H2SPEC="$h2spec_dir/h2spec"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on: $unformatted" >&2
  exit 1
fi
go vet ./...

# A real kube-apiserver + etcd for controller/kube's integration tests, built once
# from the Go module proxy into ~/.cache/gantry-kube (about 7 minutes the first time).
KUBEBUILDER_ASSETS="$(hack/kube-env.sh)"
export KUBEBUILDER_ASSETS GANTRY_REQUIRE_KUBE=1

# A Docker Engine (the running one, else a private dockerd) and a registry
# on 127.0.0.1 for the docker runtime's tests; what this starts is stopped
# on exit.
docker_dir="${TMPDIR:-/tmp}/gantry-test-docker"
kube_dir="${TMPDIR:-/tmp}/gantry-test-kube"
trap 'hack/kube-cluster.sh down "$kube_dir" >/dev/null 2>&1 || true; hack/dockerd.sh down "$docker_dir"' EXIT
eval "$(hack/dockerd.sh up "$docker_dir")"
export DOCKER_HOST GANTRY_TEST_REGISTRY GANTRY_REQUIRE_DOCKER=1

# Build every test binary in parallel first, then run one package at a time:
# the end-to-end tests measure real processes, and two packages at once on two
# cores make their timing flaky.
go test -count=1 -run '^$' ./... >/dev/null
go test -p 1 -count=1 -timeout 25m "$@" $(go list ./... | grep -v /e2e/kubecluster)

# Then a real single-node cluster (etcd, kube-apiserver, controller-manager,
# scheduler, kube-proxy, a kubelet on containerd) with Gantry installed from
# deploy/, for e2e/kubecluster; it builds its binaries once into
# ~/.cache/gantry-kube (about 10 minutes the first time). If it cannot start,
# the tests fail with the reason. Its `down` fails the run if anything it
# made is left behind.
mkdir -p "$kube_dir"
if hack/kube-cluster.sh up "$kube_dir" 2>"$kube_dir.up.log"; then
  export GANTRY_KUBE_CLUSTER="$kube_dir"
else
  export GANTRY_KUBE_CLUSTER_ERROR="hack/kube-cluster.sh up failed: $(tail -c 2000 "$kube_dir.up.log")"
fi
go test -p 1 -count=1 -timeout 15m "$@" ./e2e/kubecluster
hack/kube-cluster.sh down "$kube_dir"
