#!/usr/bin/env bash
# Builds a real kube-apiserver and etcd from the Go module proxy into a cache
# directory, for the integration tests of controller/kube (controller-runtime's
# envtest runs them). Nothing is downloaded but Go modules.
#
#   hack/kube-env.sh            build the binaries if missing; print the folder
#                               (use it as KUBEBUILDER_ASSETS)
#   hack/kube-env.sh test [ARGS] build, then run the integration tests with
#                               KUBEBUILDER_ASSETS set and GANTRY_REQUIRE_KUBE=1
#
# The cache is ${GANTRY_KUBE_CACHE:-$HOME/.cache/gantry-kube}. From an empty cache
# the build takes about 7 minutes on 2 cores; after that it is instant.
# Progress goes to stderr; the only line on stdout is the assets folder.
set -euo pipefail

KUBE_VERSION=v1.37.2     # k8s.io/kubernetes
STAGING_VERSION=v0.37.2  # every k8s.io/* staging module
ETCD_VERSION=v3.6.13     # go.etcd.io/etcd/server/v3

cache=${GANTRY_KUBE_CACHE:-$HOME/.cache/gantry-kube}
bin="$cache/$KUBE_VERSION-etcd-$ETCD_VERSION/bin"
src="$cache/src"
mkdir -p "$bin" "$src"

log() { echo "kube-env: $*" >&2; }

# The throwaway modules are built outside the repository's go.mod and GOFLAGS.
gobuild() { GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 go "$@"; }

build_apiserver() {
  local dir="$src/apiserver-$KUBE_VERSION"
  rm -rf "$dir" && mkdir -p "$dir"
  {
    echo "module gantry.local/kubeenv/apiserver"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    # k8s.io/kubernetes points its staging modules at v0.0.0 with replace
    # directives that do not apply to a module depending on it; pin each one.
    for m in api apiextensions-apiserver apimachinery apiserver cli-runtime \
      client-go cloud-provider cluster-bootstrap code-generator component-base \
      component-helpers controller-manager cri-api cri-client csi-translation-lib \
      dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator \
      kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics \
      mount-utils pod-security-admission sample-apiserver sample-cli-plugin \
      sample-controller streaming; do
      echo "replace k8s.io/$m => k8s.io/$m $STAGING_VERSION"
    done
  } >"$dir/go.mod"
  log "building kube-apiserver $KUBE_VERSION (about 6 minutes from an empty cache)"
  (cd "$dir" && gobuild mod download k8s.io/kubernetes >&2 &&
    gobuild build -trimpath \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${KUBE_VERSION#v1.}" \
      -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2)
  mv "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
}

build_etcd() {
  local dir="$src/etcd-$ETCD_VERSION"
  rm -rf "$dir" && mkdir -p "$dir"
  cat >"$dir/go.mod" <<GOMOD
module gantry.local/kubeenv/etcd

go 1.26

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  cat >"$dir/main.go" <<'GO'
// Command etcd is etcd's own main, built from the Go module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  log "building etcd $ETCD_VERSION (under a minute)"
  (cd "$dir" && gobuild build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" . >&2)
  mv "$bin/etcd.tmp" "$bin/etcd"
}

[ -x "$bin/etcd" ] || build_etcd
[ -x "$bin/kube-apiserver" ] || build_apiserver

if [ "${1:-}" = test ]; then
  shift
  cd "$(dirname "$0")/.."
  log "running the integration tests against $bin"
  KUBEBUILDER_ASSETS="$bin" GANTRY_REQUIRE_KUBE=1 \
    go test -count=1 -timeout 20m "$@" ./controller/kube/...
  exit
fi
echo "$bin"
