#!/usr/bin/env bash
# hack/dockerd.sh up DIR | down DIR
#
# Starts a private Docker Engine for the tests (its own socket, data and exec
# roots under DIR, so it never touches a dockerd the user runs) and a
# registry on 127.0.0.1, and stops both again. `up` prints the variables the
# tests read: DOCKER_HOST and GANTRY_TEST_REGISTRY.
set -euo pipefail
cmd=${1:?usage: dockerd.sh up|down DIR}
dir=$(mkdir -p "${2:?usage: dockerd.sh up|down DIR}" && cd "$2" && pwd)
sock="$dir/docker.sock"
regport=${GANTRY_TEST_REGISTRY_PORT:-5055}

stop_pid() { # pidfile
  [ -f "$1" ] || return 0
  local pid; pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

case "$cmd" in
up)
  # An engine the user already runs is used as it is: a second dockerd
  # would fight it over docker0 and iptables.
  if [ -z "${GANTRY_PRIVATE_DOCKERD:-}" ] && docker version >/dev/null 2>&1; then
    echo "dockerd.sh: using the running engine at ${DOCKER_HOST:-unix:///var/run/docker.sock}" >&2
    sock=""
    rm -f "$dir/started"
  elif ! DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1; then
    echo "dockerd.sh: starting dockerd in $dir" >&2
    # Stale state of an earlier run that was killed.
    stop_pid "$dir/docker.pid"
    rm -f "$sock"
    # No Docker proxy for published ports: loopback publishes go through
    # iptables alone (the bench measures the hop both ways).
    dockerd --host "unix://$sock" --data-root "$dir/data" --exec-root "$dir/exec" \
      --pidfile "$dir/docker.pid" --log-level warn ${DOCKERD_FLAGS:-} >"$dir/dockerd.log" 2>&1 &
    for _ in $(seq 1 150); do
      DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1 && break
      sleep 0.2
    done
    DOCKER_HOST="unix://$sock" docker version >/dev/null 2>&1 || { tail -20 "$dir/dockerd.log" >&2; exit 1; }
    touch "$dir/started"
  fi
  if ! curl -fsS "http://127.0.0.1:$regport/v2/" >/dev/null 2>&1; then
    cat >"$dir/registry.yml" <<YML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $dir/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$regport}
YML
    docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
    echo $! >"$dir/registry.pid"
    for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$regport/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fsS "http://127.0.0.1:$regport/v2/" >/dev/null || { cat "$dir/registry.log" >&2; exit 1; }
  fi
  if [ -n "$sock" ]; then echo "DOCKER_HOST=unix://$sock"; else echo "DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}"; fi
  echo "GANTRY_TEST_REGISTRY=127.0.0.1:$regport"
  ;;
down)
  stop_pid "$dir/registry.pid"
  [ -f "$dir/started" ] || exit 0
  rm -f "$dir/started"
  if [ -S "$sock" ]; then
    # Containers of an interrupted test run.
    ids=$(DOCKER_HOST="unix://$sock" docker ps -aq 2>/dev/null || true)
    [ -z "$ids" ] || DOCKER_HOST="unix://$sock" docker rm -f $ids >/dev/null 2>&1 || true
  fi
  stop_pid "$dir/docker.pid"
  rm -f "$sock"
  ;;
*) echo "usage: dockerd.sh up|down DIR" >&2; exit 2 ;;
esac
