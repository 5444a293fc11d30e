#!/usr/bin/env bash
# The edge hop, side by side: nginx, HAProxy and Gantry's gateway, each a
# plain keep-alive reverse proxy in front of the same queue-proxy and
# sample app (the instance `gantry up` runs), measured interleaved on
# loopback, for GET and for a 4 KiB POST:
#   - saturated requests/s (wrk -t2 -cCONNS; DUR seconds a target, in
#     one-second slices that take turns: see SLICE),
#   - CPU-seconds per 1,000 requests of the proxy's processes at RATE req/s,
#   - p50/p99 on one connection, and what the hop adds to direct's.
# "direct" is the queue-proxy itself. The gateway reaches it over its Unix
# socket (as `gantry up` always does on one machine), nginx and HAProxy
# over TCP; with UNIX_PEERS=1 (the default) a second nginx and HAProxy on
# that same socket are measured too, and compared on the line before the
# last. Each round starts one target further down the list, and the
# saturated ratio of every round is printed before the last line. The last
# line compares the gateway with the TCP ones, taking the worse of GET and
# POST:
#   edge: gateway/haproxy rps=R1 cpu=C1 gateway/nginx rps=R2 cpu=C2
#
#   bench/edge.sh      # ROUNDS=3 DUR=5 SLICE=1 CONNS=50 RATE=2000 RATE_DUR=5 LAT_DUR=3 WARM=2 UNIX_PEERS=1 PEER_WORKERS=2
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5}
CONNS=${CONNS:-50}
RATE=${RATE:-2000}
RATE_DUR=${RATE_DUR:-5}
LAT_DUR=${LAT_DUR:-3}
WARM=${WARM:-2} # seconds of wrk per target before measuring; 0: none
SLICE=${SLICE:-1} # the saturated DUR seconds run as slices of this many that take turns; SLICE=$DUR: one block each
slices=$(((DUR + SLICE - 1) / SLICE))
PEER_WORKERS=${PEER_WORKERS:-2} # nginx's worker_processes, HAProxy's nbthread

cd "$(dirname "$0")/.."
load0=$(cut -d' ' -f1-3 /proc/loadavg)
missing=()
for tool in wrk nginx haproxy jq curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
nginx=$(command -v nginx) haproxy=$(command -v haproxy)

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/gantry" ./cmd/gantry
go build -o "$tmp/qpbench" ./queueproxy/internal/qpbench
base=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-), where a listen can collide
gw=$base tlsp=$((base + 1)) ui=$((base + 2)) ngx=$((base + 3)) hap=$((base + 4))
host=hello.default.localhost

# GW_GOMAXPROCS=1 / GW_GODEBUG=... run gantry up (the gateway) with those
# runtime settings; its queue-proxy keeps its own (GOMAXPROCS=1).
env ${GW_GOMAXPROCS:+GOMAXPROCS=$GW_GOMAXPROCS} ${GW_GODEBUG:+GODEBUG=$GW_GODEBUG} \
	"$tmp/gantry" up --state-dir "$tmp/state" --gateway-addr 127.0.0.1:$gw --gateway-tls-addr 127.0.0.1:$tlsp \
	--ui-addr 127.0.0.1:$ui 2>"$tmp/up.log" &
gw_pid=$!; pids+=("$gw_pid")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ui/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$ui/healthz" >/dev/null || { echo "gantry up did not answer:" >&2; cat "$tmp/up.log" >&2; exit 1; }
GANTRY_SERVER=http://127.0.0.1:$ui "$tmp/gantry" apply -f examples/hello.yaml >/dev/null
for _ in $(seq 100); do
	curl -sf -H "Host: $host" "http://127.0.0.1:$gw/" >/dev/null && break
	sleep 0.2
done
inst=$(curl -sf "http://127.0.0.1:$ui/api/v1/revisions/default/hello-00001/instances")
qp=$(echo "$inst" | jq -r '.items[0].ports.http')
# The gateway reaches this queue-proxy over its Unix socket. UNIX_PEERS=1
# (the default) also measures nginx and HAProxy over that same socket, so
# the transport is not all the difference; UNIX_PEERS=0 skips them.
qpsock=$(echo "$inst" | jq -r '.items[0].ports.unix // empty')
UNIX_PEERS=${UNIX_PEERS:-1}
[ -n "$qpsock" ] || UNIX_PEERS=0
ngxu=$((base + 5)) hapu=$((base + 6))

# Both as they ship, but for keep-alive to the upstream and no access log
# (the gateway writes none either); two workers/threads for two cores.
cat >"$tmp/nginx.conf" <<NGX
worker_processes $PEER_WORKERS;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx.err warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx-body;
	proxy_temp_path $tmp/nginx-proxy;
	upstream qp { server 127.0.0.1:$qp; keepalive 64; }
	server {
		listen 127.0.0.1:$ngx;
		location / {
			proxy_pass http://qp;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
		}
	}
}
NGX
"$nginx" -p "$tmp" -c "$tmp/nginx.conf" 2>"$tmp/nginx.log" &
ngx_pid=$!; pids+=("$ngx_pid")
if [ "$UNIX_PEERS" = 1 ]; then
	# The socket is the queue-proxy user's alone: nginx's workers run as it.
	sed -e "s#server 127.0.0.1:$qp;#server unix:$qpsock;#" -e "s#listen 127.0.0.1:$ngx;#listen 127.0.0.1:$ngxu;#" \
		-e "s#pid $tmp/nginx.pid;#pid $tmp/nginx-unix.pid;\nuser $(id -un);#" \
		-e "s#nginx-body#nginx-unix-body#; s#nginx-proxy#nginx-unix-proxy#; s#nginx.err#nginx-unix.err#" "$tmp/nginx.conf" >"$tmp/nginx-unix.conf"
	"$nginx" -p "$tmp" -c "$tmp/nginx-unix.conf" 2>"$tmp/nginx-unix.log" &
	ngxu_pid=$!; pids+=("$ngxu_pid")
fi
cat >"$tmp/haproxy.cfg" <<HAP
global
	nbthread $PEER_WORKERS
	maxconn 4000
defaults
	mode http
	option forwardfor
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend edge
	bind 127.0.0.1:$hap
	default_backend qp
backend qp
	server qp 127.0.0.1:$qp maxconn 1000
HAP
"$haproxy" -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
hap_pid=$!; pids+=("$hap_pid")
if [ "$UNIX_PEERS" = 1 ]; then
	sed -e "s#bind 127.0.0.1:$hap#bind 127.0.0.1:$hapu#" -e "s#server qp 127.0.0.1:$qp #server qp $qpsock #" "$tmp/haproxy.cfg" >"$tmp/haproxy-unix.cfg"
	"$haproxy" -db -f "$tmp/haproxy-unix.cfg" >"$tmp/haproxy-unix.log" 2>&1 &
	hapu_pid=$!; pids+=("$hapu_pid")
fi

declare -A url=([direct]=http://127.0.0.1:$qp/ [nginx]=http://127.0.0.1:$ngx/ [haproxy]=http://127.0.0.1:$hap/ [gateway]=http://127.0.0.1:$gw/
	[nginx-unix]=http://127.0.0.1:$ngxu/ [haproxy-unix]=http://127.0.0.1:$hapu/)
targets=(direct nginx haproxy gateway)
[ "$UNIX_PEERS" = 1 ] && targets+=(nginx-unix haproxy-unix)
for t in "${targets[@]}"; do
	for _ in $(seq 50); do curl -sf -o /dev/null -H "Host: $host" "${url[$t]}" && break; sleep 0.1; done
	curl -sf -o /dev/null -H "Host: $host" "${url[$t]}" || { echo "$t does not answer" >&2; cat "$tmp"/*.log >&2; exit 1; }
done

cat >"$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = string.rep("b", 4096)
wrk.headers["Content-Type"] = "application/octet-stream"
LUA

# CPU ticks of a target's processes (nginx: the master and its workers).
# For the gateway that is `gantry up` itself, control plane included; the
# queue-proxy and the app are processes of their own.
ticks() {
	local t=$1 pid all
	case $t in
	direct) echo 0; return ;;
	nginx) all="$ngx_pid $(ps -o pid= --ppid "$ngx_pid" | tr '\n' ' ')" ;;
	haproxy) all=$hap_pid ;;
	nginx-unix) all="$ngxu_pid $(ps -o pid= --ppid "$ngxu_pid" | tr '\n' ' ')" ;;
	haproxy-unix) all=$hapu_pid ;;
	gateway) all=$gw_pid ;;
	esac
	local sum=0
	for pid in $all; do
		sum=$((sum + $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat")))
	done
	echo $sum
}
hz=$(getconf CLK_TCK)
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else print n * 1000000 }'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { print a + b }'; }

declare -A rps cpu p50 p99
for w in get post; do for t in "${targets[@]}"; do rps[$w,$t]=0 cpu[$w,$t]=0 p50[$w,$t]=0 p99[$w,$t]=0; done; done
if [ "$WARM" -gt 0 ]; then
	for t in "${targets[@]}"; do wrk -t2 -c"$CONNS" -d"${WARM}s" -H "Host: $host" "${url[$t]}" >/dev/null; done
fi

# Each round starts one target further down the list, so that no target
# always runs right after the same other one (a carry-over from the one
# before, such as the app's heap or a peer's idle connections, then falls on
# all alike).
declare -A round_rps
for r in $(seq "$ROUNDS"); do
	k=$(((r - 1) % ${#targets[@]}))
	order=("${targets[@]:k}" "${targets[@]:0:k}")
	for w in get post; do
		script=() body=0
		[ $w = post ] && script=(-s "$tmp/post.lua") body=4096
		# DUR seconds per target, run as slices of SLICE seconds that take
		# turns, so that the machine's drift over the seconds falls on all
		# targets alike.
		declare -A sat=() satc=()
		for t in "${order[@]}"; do sat[$t]=0 satc[$t]=0; done
		for _ in $(seq "$slices"); do
			for t in "${order[@]}"; do
				c0=$(ticks "$t")
				v=$(wrk -t2 -c"$CONNS" -d"${SLICE}s" -H "Host: $host" "${script[@]}" "${url[$t]}" | awk '/Requests\/sec/ { print $2 }')
				c1=$(ticks "$t")
				sat[$t]=$(add "${sat[$t]}" "$v") satc[$t]=$((satc[$t] + c1 - c0))
			done
		done
		for t in "${order[@]}"; do
			v=$(awk -v s="${sat[$t]}" -v n="$slices" 'BEGIN { printf "%.2f", s / n }')
			rps[$w,$t]=$(add "${rps[$w,$t]}" "$v") round_rps[$r,$w,$t]=$v
			cores=$(awk -v c="${satc[$t]}" -v hz="$hz" -v d=$((slices * SLICE)) 'BEGIN { printf "%.2f", c / hz / d }')
			echo "round $r $w saturated $t: $v req/s, proxy cores=$cores" >&2
		done
		for t in "${order[@]}"; do
			c0=$(ticks "$t")
			out=$("$tmp/qpbench" rate -url "${url[$t]}" -host "$host" -body "$body" -rps "$RATE" -d "${RATE_DUR}s" -c "$CONNS")
			c1=$(ticks "$t")
			ok=$(echo "$out" | sed -E 's/.* ok=([0-9]+).*/\1/')
			v=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v ok="$ok" 'BEGIN { printf "%.4f", (ok > 0 ? c / hz / ok * 1000 : 0) }')
			cpu[$w,$t]=$(add "${cpu[$w,$t]}" "$v")
			echo "round $r $w fixed-rate $t: $out cpu_s_per_1000=$v" >&2
		done
		for t in "${order[@]}"; do
			lat=$(wrk -t1 -c1 -d"${LAT_DUR}s" --latency -H "Host: $host" "${script[@]}" "${url[$t]}")
			a=$(to_us "$(echo "$lat" | awk '$1 == "50%" { print $2 }')")
			b=$(to_us "$(echo "$lat" | awk '$1 == "99%" { print $2 }')")
			p50[$w,$t]=$(add "${p50[$w,$t]}" "$a") p99[$w,$t]=$(add "${p99[$w,$t]}" "$b")
			echo "round $r $w one-connection $t: p50=${a}us p99=${b}us" >&2
		done
	done
done

echo
echo "mean of $ROUNDS interleaved rounds; wrk -t2 -c$CONNS, ${DUR}s a target in slices of ${SLICE}s; fixed rate $RATE req/s for ${RATE_DUR}s; one connection wrk -t1 -c1 -d${LAT_DUR}s"
echo "load average (1/5/15 min): $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
printf '%-5s %-12s %10s %14s %9s %9s %10s %10s\n' req target "req/s" "cpu-s/1000req" "p50(us)" "p99(us)" "+p50(us)" "+p99(us)"
for w in get post; do
	for t in "${targets[@]}"; do
		awk -v w="$w" -v t="$t" -v n="$ROUNDS" -v r="${rps[$w,$t]}" -v c="${cpu[$w,$t]}" -v a="${p50[$w,$t]}" -v b="${p99[$w,$t]}" \
			-v da="${p50[$w,direct]}" -v db="${p99[$w,direct]}" 'BEGIN {
			cs = (t == "direct") ? "-" : sprintf("%.4f", c / n)
			printf "%-5s %-12s %10.0f %14s %9.0f %9.0f %10.0f %10.0f\n", w, t, r / n, cs, a / n, b / n, (a - da) / n, (b - db) / n }'
	done
done
# The worse of GET and POST: lower rps ratio, higher cpu ratio.
ratio() { # other -> "rps cpu"
	awk -v g1="${rps[get,gateway]}" -v o1="${rps[get,$1]}" -v g2="${rps[post,gateway]}" -v o2="${rps[post,$1]}" \
		-v gc1="${cpu[get,gateway]}" -v oc1="${cpu[get,$1]}" -v gc2="${cpu[post,gateway]}" -v oc2="${cpu[post,$1]}" 'BEGIN {
		r1 = g1 / o1; r2 = g2 / o2; c1 = gc1 / oc1; c2 = gc2 / oc2
		printf "%.2f %.2f", (r1 < r2 ? r1 : r2), (c1 > c2 ? c1 : c2) }'
}
# The spread of the saturated ratio over the rounds: how far one mean can be
# trusted.
for o in nginx haproxy; do
	for w in get post; do
		line=""
		for r in $(seq "$ROUNDS"); do
			line+=" $(awk -v g="${round_rps[$r,$w,gateway]}" -v x="${round_rps[$r,$w,$o]}" 'BEGIN { printf "%.2f", (x > 0 ? g / x : 0) }')"
		done
		echo "per round, saturated $w gateway/$o:$line"
	done
done
if [ "$UNIX_PEERS" = 1 ]; then
	read -r r1 c1 <<<"$(ratio haproxy-unix)"
	read -r r2 c2 <<<"$(ratio nginx-unix)"
	echo "edge, the others on the gateway's Unix socket too: gateway/haproxy-unix rps=$r1 cpu=$c1 gateway/nginx-unix rps=$r2 cpu=$c2"
fi
read -r r1 c1 <<<"$(ratio haproxy)"
read -r r2 c2 <<<"$(ratio nginx)"
echo "edge: gateway/haproxy rps=$r1 cpu=$c1 gateway/nginx rps=$r2 cpu=$c2"
