#!/usr/bin/env bash
# End-to-end request rate on loopback: the sample app directly, through its
# queue-proxy, and through the gateway and the queue-proxy (`gantry up`),
# measured interleaved with wrk. Prints requests/s, the ratio to direct and
# p50/p99 on one connection.
#
#   bench/gateway.sh            # ROUNDS=3 DUR=8 CONNS=50 by default
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DUR=${DUR:-8}
CONNS=${CONNS:-50}

cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/gantry" ./cmd/gantry
base=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-), where a listen can collide
app=$base gw=$((base + 1)) tlsp=$((base + 2)) ui=$((base + 3))

PORT=$app "$tmp/gantry" sample-app 2>"$tmp/app.log" &
pids+=($!)
"$tmp/gantry" up --state-dir "$tmp/state" --gateway-addr 127.0.0.1:$gw --gateway-tls-addr 127.0.0.1:$tlsp \
	--ui-addr 127.0.0.1:$ui 2>"$tmp/up.log" &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$ui/healthz" >/dev/null && break; sleep 0.2; done
GANTRY_SERVER=http://127.0.0.1:$ui "$tmp/gantry" apply -f examples/hello.yaml >/dev/null
for _ in $(seq 100); do
	curl -sf -H 'Host: hello.default.localhost' "http://127.0.0.1:$gw/" >/dev/null && break
	sleep 0.2
done
qp=$(curl -sf "http://127.0.0.1:$ui/api/v1/revisions/default/hello-00001/instances" | jq -r '.items[0].ports.http')

rps() { wrk -t2 -c"$CONNS" -d"${DUR}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
lat() { wrk -t1 -c1 -d5s --latency "$@" | awk '$1=="50%" {p50=$2} $1=="99%" {p99=$2} END {print p50, p99}'; }

declare -A sum
for r in $(seq "$ROUNDS"); do
	d=$(rps "http://127.0.0.1:$app/")
	q=$(rps "http://127.0.0.1:$qp/")
	g=$(rps -H 'Host: hello.default.localhost' "http://127.0.0.1:$gw/")
	echo "round $r: direct $d  queue-proxy $q  gateway+queue-proxy $g"
	sum[d]=$(echo "${sum[d]:-0} + $d" | bc -l)
	sum[q]=$(echo "${sum[q]:-0} + $q" | bc -l)
	sum[g]=$(echo "${sum[g]:-0} + $g" | bc -l)
done
printf '\n%-22s %12s %8s %22s\n' target 'req/s' ratio 'p50 / p99 (1 conn)'
for k in d q g; do
	case $k in
	d) name=direct url="http://127.0.0.1:$app/" hdr=() ;;
	q) name=queue-proxy url="http://127.0.0.1:$qp/" hdr=() ;;
	g) name=gateway+queue-proxy url="http://127.0.0.1:$gw/" hdr=(-H 'Host: hello.default.localhost') ;;
	esac
	mean=$(echo "${sum[$k]} / $ROUNDS" | bc -l)
	ratio=$(echo "$mean / (${sum[d]} / $ROUNDS)" | bc -l)
	printf '%-22s %12.0f %8.3f %22s\n' "$name" "$mean" "$ratio" "$(lat "${hdr[@]}" "$url")"
done
