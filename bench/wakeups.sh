#!/usr/bin/env bash
# What one request through the gateway costs each process of `gantry up`
# (the gantry process with its gateway, the queue-proxy, the sample app) in
# context switches and CPU, per 1,000 requests: GET at a fixed RATE and
# saturated (wrk -t2 -cCONNS). With BASELINE=<commit> that commit's gantry
# runs too, in turns with this tree's (each leading every other round),
# ROUNDS times each; a fresh `gantry up` per run.
#
#   BASELINE=568b567 bench/wakeups.sh   # ROUNDS=3 RATE=2000 DUR=5 CONNS=50 MODES="rate saturated"
set -euo pipefail

ROUNDS=${ROUNDS:-3}
RATE=${RATE:-2000}
DUR=${DUR:-5}
CONNS=${CONNS:-50}
MODES=${MODES:-rate saturated}
host=hello.default.localhost

cd "$(dirname "$0")/.."
missing=()
for tool in wrk curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
tmp=$(mktemp -d)
up_pid=
cleanup() {
	[ -n "$up_pid" ] && kill "$up_pid" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/gantry-this" ./cmd/gantry
go build -o "$tmp/qpbench" ./queueproxy/internal/qpbench
builds=(this)
if [ -n "${BASELINE:-}" ]; then
	git worktree add -q --detach "$tmp/base" "$BASELINE"
	(cd "$tmp/base" && go build -o "$tmp/gantry-base" ./cmd/gantry)
	git worktree remove --force "$tmp/base"
	builds+=(base)
fi

# snap PID: context switches of all its threads, and its CPU in clock ticks.
snap() {
	local cs=0 s
	for s in /proc/"$1"/task/*/status; do
		cs=$((cs + $(awk '/ctxt_switches/ { n += $2 } END { print n + 0 }' "$s" 2>/dev/null || echo 0)))
	done
	echo "$cs $(awk '{ print $14 + $15 }' /proc/"$1"/stat)"
}
hz=$(getconf CLK_TCK)

# run BUILD MODE: one fresh gantry up, one measurement; prints a line of
# "build mode requests gantry_cs gantry_ticks qp_cs qp_ticks app_cs app_ticks".
run() {
	local b=$1 mode=$2 base gw ui
	base=$((20000 + RANDOM % 12000)) # below the ephemeral range
	gw=$base ui=$((base + 2))
	rm -rf "$tmp/state"
	"$tmp/gantry-$b" up --state-dir "$tmp/state" --gateway-addr 127.0.0.1:$gw \
		--gateway-tls-addr 127.0.0.1:$((base + 1)) --ui-addr 127.0.0.1:$ui 2>"$tmp/up.log" &
	up_pid=$!
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ui/healthz" >/dev/null && break; sleep 0.2; done
	GANTRY_SERVER=http://127.0.0.1:$ui "$tmp/gantry-$b" apply -f examples/hello.yaml >/dev/null
	for _ in $(seq 100); do curl -sf -H "Host: $host" "http://127.0.0.1:$gw/" >/dev/null && break; sleep 0.2; done
	local qp="" app="" k
	for k in $(pgrep -P "$up_pid"); do
		if grep -qa queue-proxy /proc/"$k"/cmdline; then qp=$k; else app=$k; fi
	done
	[ -n "$qp" ] && [ -n "$app" ] || { echo "no queue-proxy or app under gantry up:" >&2; cat "$tmp/up.log" >&2; exit 1; }
	wrk -t2 -c"$CONNS" -d2s -H "Host: $host" "http://127.0.0.1:$gw/" >/dev/null # warm
	local s0 s1 n out
	s0="$(snap "$up_pid") $(snap "$qp") $(snap "$app")"
	if [ "$mode" = rate ]; then
		out=$("$tmp/qpbench" rate -url "http://127.0.0.1:$gw/" -host "$host" -rps "$RATE" -d "${DUR}s" -c "$CONNS")
		n=$(echo "$out" | sed -n 's/.* ok=\([0-9]*\).*/\1/p')
	else
		out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" -H "Host: $host" "http://127.0.0.1:$gw/")
		n=$(echo "$out" | awk '/requests in/ { print $1 }')
	fi
	s1="$(snap "$up_pid") $(snap "$qp") $(snap "$app")"
	kill "$up_pid"; wait "$up_pid" 2>/dev/null || true; up_pid=
	echo "$b $mode $n $(paste -d' ' <(tr ' ' '\n' <<<"$s0") <(tr ' ' '\n' <<<"$s1") | awk '{ printf "%d ", $2 - $1 }')"
}

: >"$tmp/runs"
for r in $(seq "$ROUNDS"); do
	order=("${builds[@]}")
	[ $((r % 2)) = 0 ] && [ ${#builds[@]} = 2 ] && order=(base this) # each build leads every other round
	for mode in $MODES; do
		for b in "${order[@]}"; do
			line=$(run "$b" "$mode")
			echo "round $r $line" >&2
			echo "$line" >>"$tmp/runs"
		done
	done
done

echo
echo "per 1,000 requests, sum of $ROUNDS runs each; rate = $RATE req/s for ${DUR}s, saturated = wrk -t2 -c$CONNS -d${DUR}s"
printf '%-5s %-9s %8s %10s %10s %10s %10s %10s %10s\n' build mode req/s gantry-cs gantry-ms qp-cs qp-ms app-cs app-ms
awk -v hz="$hz" -v dur="$DUR" -v rounds="$ROUNDS" '
{ k = $1 " " $2; n[k] += $3; for (i = 4; i <= 9; i++) v[k, i] += $i; order[k] = NR }
END {
	for (k in n) keys[order[k]] = k
	for (j = 1; j <= NR; j++) {
		if (!(j in keys)) continue
		k = keys[j]; split(k, p, " ")
		printf "%-5s %-9s %8.0f", p[1], p[2], n[k] / (dur * rounds)
		for (i = 4; i <= 9; i++) printf " %10.1f", (i % 2 == 0 ? v[k, i] : v[k, i] * 1000 / hz) * 1000 / n[k]
		printf "\n"
	}
}' "$tmp/runs"
