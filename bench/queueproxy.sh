#!/usr/bin/env bash
# Queue-proxy overhead on loopback: the sample app directly, through the
# queue-proxy (every feature on: breaker, timers, stats, request metrics),
# and through a bare httputil.ReverseProxy, measured interleaved.
#
#   bench/queueproxy.sh            # ROUNDS=3 DUR=8 RATE=5000 RATE_DUR=10 by default
#   QP_GOMAXPROCS= QP_GODEBUG= bench/queueproxy.sh   # without gantry's runtime settings
#   QP_BASELINE=3f04b5c bench/queueproxy.sh   # adds that commit's queue-proxy, same run
#   BODY=65536 bench/queueproxy.sh   # POSTs of that many bytes instead of GETs
#
# Prints saturated requests/s (wrk -t2 -c50) and the ratio to direct,
# CPU-seconds per 1000 requests of the proxy process at a fixed rate
# (from /proc/PID/stat), and p50/p99 latency on one connection (wrk -c1).
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DUR=${DUR:-8}
RATE=${RATE:-5000}
RATE_DUR=${RATE_DUR:-10}
LAT_DUR=${LAT_DUR:-5}
CONNS=${CONNS:-50}

cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
	apt-get install -y wrk >/dev/null
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/qpbench" ./queueproxy/internal/qpbench
if [ -n "${QP_BASELINE:-}" ]; then
	git worktree add -q --detach "$tmp/base" "$QP_BASELINE"
	(cd "$tmp/base" && go build -o "$tmp/qpbench-base" ./queueproxy/internal/qpbench)
	git worktree remove --force "$tmp/base"
fi

base=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-), where a listen can collide
app_port=$base
rp_port=$((base + 1))

PORT=$app_port K_REVISION=bench "$tmp/qpbench" app 2>"$tmp/app.log" &
app_pid=$!; pids+=("$app_pid")

# The queue-proxy runs with the Go runtime settings gantry's launchers give it
# (controller/local, controller/kube): GOMAXPROCS=1 and queueproxy.GoDebug.
# QP_GOMAXPROCS= (empty) leaves GOMAXPROCS to the runtime (both cores);
# QP_GODEBUG= (empty) runs without the sysmon setting, for comparison.
QP_GOMAXPROCS=${QP_GOMAXPROCS-1}
QP_GODEBUG=${QP_GODEBUG-$("$tmp/qpbench" godebug)}
echo "queue-proxy runtime: GOMAXPROCS=${QP_GOMAXPROCS:-default} GODEBUG=${QP_GODEBUG:-}" >&2
start_qp() { # binary ports-file log
	env ${QP_GOMAXPROCS:+GOMAXPROCS=$QP_GOMAXPROCS} ${QP_GODEBUG:+GODEBUG=$QP_GODEBUG} USER_PORT=$app_port SERVING_NAMESPACE=default SERVING_SERVICE=bench SERVING_CONFIGURATION=bench \
		SERVING_REVISION=bench-00001 SERVING_POD=bench-00001-pod CONTAINER_CONCURRENCY=1000 \
		REVISION_TIMEOUT_SECONDS=300 REVISION_RESPONSE_START_TIMEOUT_SECONDS=120 REVISION_IDLE_TIMEOUT_SECONDS=120 \
		GANTRY_APP_PID=$app_pid \
		"$1" queue-proxy --http-port=0 --h2c-port=0 --admin-port=0 --stats-port=0 --metrics-port=0 \
		--ports-file="$2" --drain-quiet-period=0s 2>"$3" &
}
start_qp "$tmp/qpbench" "$tmp/ports.json" "$tmp/qp.log"
qp_pid=$!; pids+=("$qp_pid")
if [ -n "${QP_BASELINE:-}" ]; then
	start_qp "$tmp/qpbench-base" "$tmp/ports-base.json" "$tmp/qp-base.log"
	base_pid=$!; pids+=("$base_pid")
fi

"$tmp/qpbench" revproxy --listen=127.0.0.1:$rp_port --target=http://127.0.0.1:$app_port 2>"$tmp/rp.log" &
rp_pid=$!; pids+=("$rp_pid")

for _ in $(seq 100); do [ -s "$tmp/ports.json" ] && break; sleep 0.1; done
qp_port=$(sed -E 's/.*"http":([0-9]+).*/\1/' "$tmp/ports.json")

declare -A url=(
	[direct]=http://127.0.0.1:$app_port/
	[queue-proxy]=http://127.0.0.1:$qp_port/
	[revproxy]=http://127.0.0.1:$rp_port/
)
declare -A proc=([direct]=$app_pid [queue-proxy]=$qp_pid [revproxy]=$rp_pid)
targets=(direct queue-proxy revproxy)
if [ -n "${QP_BASELINE:-}" ]; then
	for _ in $(seq 100); do [ -s "$tmp/ports-base.json" ] && break; sleep 0.1; done
	url[qp@base]=http://127.0.0.1:$(sed -E 's/.*"http":([0-9]+).*/\1/' "$tmp/ports-base.json")/
	proc[qp@base]=$base_pid
	targets=(direct queue-proxy qp@base revproxy)
fi

for t in queue-proxy ${QP_BASELINE:+qp@base}; do
	for _ in $(seq 100); do
		curl -sf -o /dev/null -H 'K-Network-Probe: queue' "${url[$t]}" && break
		sleep 0.1
	done
done
BODY=${BODY:-0}
script=()
if [ "$BODY" -gt 0 ]; then
	printf 'wrk.method = "POST"\nwrk.body = string.rep("b", %d)\nwrk.headers["Content-Type"] = "application/octet-stream"\n' "$BODY" >"$tmp/post.lua"
	script=(-s "$tmp/post.lua")
fi
for t in "${targets[@]}"; do curl -sf -o /dev/null "${url[$t]}"; wrk -t2 -c"$CONNS" -d2s "${script[@]}" "${url[$t]}" >/dev/null; done

cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

declare -A rps_sum cpu_sum p50_sum p99_sum
for t in "${targets[@]}"; do rps_sum[$t]=0; cpu_sum[$t]=0; p50_sum[$t]=0; p99_sum[$t]=0; done

to_us() { # wrk latency like 95.00us, 1.20ms, 2.00s -> microseconds
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else print n * 1000000 }'
}

for r in $(seq "$ROUNDS"); do
	for t in "${targets[@]}"; do
		rps=$(wrk -t2 -c"$CONNS" -d"${DUR}s" "${script[@]}" "${url[$t]}" | awk '/Requests\/sec/ { print $2 }')
		rps_sum[$t]=$(awk -v a="${rps_sum[$t]}" -v b="$rps" 'BEGIN { print a + b }')
		echo "round $r saturated $t: $rps req/s" >&2
	done
	for t in "${targets[@]}"; do
		c0=$(cpu_ticks "${proc[$t]}")
		out=$("$tmp/qpbench" rate -url "${url[$t]}" -body "$BODY" -rps "$RATE" -d "${RATE_DUR}s" -c "$CONNS")
		c1=$(cpu_ticks "${proc[$t]}")
		ok=$(echo "$out" | sed -E 's/.* ok=([0-9]+).*/\1/')
		cpu=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v ok="$ok" 'BEGIN { printf "%.4f", c / hz / ok * 1000 }')
		cpu_sum[$t]=$(awk -v a="${cpu_sum[$t]}" -v b="$cpu" 'BEGIN { print a + b }')
		echo "round $r fixed-rate $t: $out cpu_s_per_1000=$cpu" >&2
	done
	for t in "${targets[@]}"; do
		lat=$(wrk -t1 -c1 -d"${LAT_DUR}s" --latency "${script[@]}" "${url[$t]}")
		p50=$(to_us "$(echo "$lat" | awk '$1 == "50%" { print $2 }')")
		p99=$(to_us "$(echo "$lat" | awk '$1 == "99%" { print $2 }')")
		p50_sum[$t]=$(awk -v a="${p50_sum[$t]}" -v b="$p50" 'BEGIN { print a + b }')
		p99_sum[$t]=$(awk -v a="${p99_sum[$t]}" -v b="$p99" 'BEGIN { print a + b }')
		echo "round $r one-connection $t: p50=${p50}us p99=${p99}us" >&2
	done
done

direct_rps=$(awk -v s="${rps_sum[direct]}" -v n="$ROUNDS" 'BEGIN { print s / n }')
direct_p50=$(awk -v s="${p50_sum[direct]}" -v n="$ROUNDS" 'BEGIN { print s / n }')
echo
[ "$BODY" -gt 0 ] && echo "POST of $BODY bytes"
echo "mean of $ROUNDS interleaved rounds; wrk -t2 -c$CONNS -d${DUR}s; fixed rate $RATE rps for ${RATE_DUR}s; one connection wrk -t1 -c1 -d${LAT_DUR}s"
printf '%-12s %12s %8s %16s %10s %10s %12s\n' target "req/s" ratio "cpu-s/1000req" "p50(us)" "p99(us)" "+p50(us)"
for t in "${targets[@]}"; do
	awk -v t="$t" -v rs="${rps_sum[$t]}" -v cs="${cpu_sum[$t]}" -v ps="${p50_sum[$t]}" -v qs="${p99_sum[$t]}" \
		-v n="$ROUNDS" -v d="$direct_rps" -v dp="$direct_p50" 'BEGIN {
		printf "%-12s %12.0f %8.3f %16.4f %10.0f %10.0f %12.0f\n", t, rs/n, rs/n/d, cs/n, ps/n, qs/n, ps/n - dp }'
done
echo "(direct's cpu-s/1000req is the app's own; the others are the proxy process only)"
