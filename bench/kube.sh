#!/usr/bin/env bash
# bench/kube.sh: cold starts from zero in a pod on a real single-node cluster
# (hack/kube-cluster.sh), N=10 by default. Uses the cluster in
# $GANTRY_KUBE_CLUSTER if one runs, else starts one and stops it after.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10}
dir=${GANTRY_KUBE_CLUSTER:-}
if [ -z "$dir" ]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/gantry-bench-kube.XXXXXX")
  trap 'hack/kube-cluster.sh down "$dir"' EXIT
  hack/kube-cluster.sh up "$dir"
fi
echo "kube: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
GANTRY_KUBE_CLUSTER="$dir" GANTRY_KUBE_COLDSTARTS="$N" \
  go test ./e2e/kubecluster -run '^$' -bench '^BenchmarkColdStartsInPod$' -benchtime 1x -count=1 -v -timeout 30m |
  grep -E '^kube cold start|cold start [0-9]+:|FAIL|ok'
