#!/usr/bin/env bash
# The docker runtime measured beside its baselines, on loopback:
#   - cold start from zero with a container (p50/p95 of 20) beside plain
#     `docker run` of the same image to its first byte (the floor);
#   - latency and machine CPU per 1,000 requests through one queue-proxy to
#     the same static app as a host process, a container at its bridge IP,
#     and a container behind a 127.0.0.1-published port;
#   - gantry's reported CPU per request against the engine's own counter
#     (TestDockerCPUAccounting, within 10%).
#
#   bench/docker.sh                  # HOP_REQUESTS=3000 by default
#
# Uses the running Docker Engine, else starts a private one (hack/dockerd.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${TMPDIR:-/tmp}/gantry-bench-docker"
trap 'hack/dockerd.sh down "$dir"' EXIT
eval "$(hack/dockerd.sh up "$dir")"
export DOCKER_HOST GANTRY_TEST_REGISTRY GANTRY_REQUIRE_DOCKER=1
go test -count=1 -run 'TestDockerCPUAccounting' -v ./e2e 2>&1 | grep -E 'CPU ms per request|^(--- |ok|FAIL)'
go test -count=1 -run '^$' -bench 'BenchmarkDocker(ColdStart|Hop)$' -benchtime 1x -timeout 20m -v ./e2e 2>&1 |
	grep -E 'Benchmark|cold starts|docker run to first byte|machine CPU|^(ok|FAIL)'
