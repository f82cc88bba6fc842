#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: installs what is missing
# (redis-server, chromium for the browser tests), starts a throw-away
# redis-server on a free loopback port, runs go vet and go test -race.
# KEFU_SKIP_BROWSER=1 skips installing chromium (its tests then skip; refused
# under CI=true or KEFU_REQUIRE_ALL=1, where a missing part fails the run).
# Extra arguments go to `go test` (e.g. scripts/test.sh -run TestMatch ./intents).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

apt_updated=""
need_pkg() { # need_pkg COMMAND PACKAGE...
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $*"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=""; fi
  if [ -z "$apt_updated" ]; then $SUDO apt-get update -qq >/dev/null; apt_updated=1; fi
  shift
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

command -v go >/dev/null || { echo "go is not installed (need Go 1.26)" >&2; exit 1; }
# Under CI (CI=true) or KEFU_REQUIRE_ALL=1 nothing may be left out: a test
# whose redis-server or Chromium is missing fails instead of skipping
# (internal/testkit.Missing), and KEFU_SKIP_BROWSER is refused.
required=""
case "${CI:-}" in ""|false|0) ;; *) required=1 ;; esac
[ "${KEFU_REQUIRE_ALL:-}" = 1 ] && required=1
if [ -n "$required" ] && [ -n "${KEFU_SKIP_BROWSER:-}" ]; then
  echo "KEFU_SKIP_BROWSER is refused under CI / KEFU_REQUIRE_ALL=1: the browser tests must run" >&2
  exit 1
fi
need_pkg redis-server redis-server
command -v redis-server >/dev/null || { echo "redis-server could not be installed" >&2; exit 1; }
if [ -z "${KEFU_SKIP_BROWSER:-}" ]; then
  need_pkg chromium chromium fonts-wqy-microhei
  command -v chromium >/dev/null || { echo "chromium could not be installed (KEFU_SKIP_BROWSER=1 skips the browser tests, not under CI)" >&2; exit 1; }
fi

# A private redis-server for this run, unless KEFU_TEST_REDIS_URL is given.
if [ -z "${KEFU_TEST_REDIS_URL:-}" ]; then
  tmp=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 16379)
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --daemonize yes --pidfile "$tmp/redis.pid" --dir "$tmp" --logfile "$tmp/redis.log"
  cleanup() { [ -f "$tmp/redis.pid" ] && kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true; rm -rf "$tmp"; }
  trap cleanup EXIT
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export KEFU_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
  log "redis-server on 127.0.0.1:$port"
fi

log "go vet"
go vet ./...
log "go test -race"
if [ $# -gt 0 ]; then
  go test -race -count=1 "$@"
else
  go test -race -count=1 -timeout 20m ./...
  # Allocation counts mean nothing under the race detector (sync.Pool drops
  # items on purpose there): that test runs once more without it.
  log "go test (allocations, without -race)"
  go test -count=1 -run 'Allocations' ./intents
fi
