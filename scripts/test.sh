#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: installs what is missing
# (redis-server, chromium for the browser tests), starts a throw-away
# redis-server and a throw-away PostgreSQL cluster (Debian's postgresql,
# installed when missing) on free loopback ports, runs go vet and go test -race.
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
# Debian keeps PostgreSQL's programs off PATH, under /usr/lib/postgresql/N/bin.
# The client package makes that folder too: look for the server's programs.
pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && echo "$d"
  done | sort -V | tail -n 1
}
if [ -z "${KEFU_TEST_POSTGRES_URL:-}" ] && [ -z "$(pg_bin)" ]; then
  # The package would create and start a cluster of its own on port 5432;
  # this script starts a throw-away one instead.
  if [ "$(id -u)" -eq 0 ]; then
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/kefu-test.conf
  fi
  need_pkg pg_ctl postgresql
  [ -n "$(pg_bin)" ] || { echo "postgresql could not be installed" >&2; exit 1; }
fi
if [ -z "${KEFU_SKIP_BROWSER:-}" ]; then
  need_pkg chromium chromium fonts-wqy-microhei
  command -v chromium >/dev/null || { echo "chromium could not be installed (KEFU_SKIP_BROWSER=1 skips the browser tests, not under CI)" >&2; exit 1; }
fi

free_port() { # free_port FALLBACK
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo "$1"
}
cleanups=()
cleanup() { local c; for c in "${cleanups[@]}"; do eval "$c" || true; done; }
trap cleanup EXIT

# A private redis-server for this run, unless KEFU_TEST_REDIS_URL is given.
if [ -z "${KEFU_TEST_REDIS_URL:-}" ]; then
  tmp=$(mktemp -d)
  port=$(free_port 16379)
  cleanups+=("[ -f '$tmp/redis.pid' ] && kill \"\$(cat '$tmp/redis.pid')\" 2>/dev/null; rm -rf '$tmp'")
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --daemonize yes --pidfile "$tmp/redis.pid" --dir "$tmp" --logfile "$tmp/redis.log"
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export KEFU_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
  log "redis-server on 127.0.0.1:$port"
fi

# A throw-away PostgreSQL cluster for this run (the archive's tests make a
# database each in it), unless KEFU_TEST_POSTGRES_URL is given. initdb and
# postgres refuse to run as root: as root they run as the postgres user.
if [ -z "${KEFU_TEST_POSTGRES_URL:-}" ]; then
  pgbin=$(pg_bin)
  pgtmp=$(mktemp -d)
  as_pg=()
  stop_pg() { [ -d "$pgtmp/data" ] && "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgtmp/data" -m fast -w stop >/dev/null 2>&1; rm -rf "$pgtmp"; }
  cleanups+=(stop_pg)
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$pgtmp"; as_pg=(runuser -u postgres --); fi
  pgport=$(free_port 15432)
  "${as_pg[@]}" "$pgbin/initdb" -D "$pgtmp/data" -A trust -U kefu -E UTF8 --locale=C --no-sync >"$pgtmp/initdb.log" 2>&1 \
    || { cat "$pgtmp/initdb.log" >&2; echo "initdb failed" >&2; exit 1; }
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgtmp/data" -l "$pgtmp/log" -w \
    -o "-p $pgport -k $pgtmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null \
    || { cat "$pgtmp/log" >&2; echo "postgres did not start" >&2; exit 1; }
  export KEFU_TEST_POSTGRES_URL="postgres://kefu@127.0.0.1:$pgport/postgres?sslmode=disable"
  log "postgres ($(basename "$(dirname "$pgbin")")) on 127.0.0.1:$pgport"
fi

# The media store's S3 tests need no server from here: they start an
# S3-compatible one on loopback themselves (gofakes3, in-process, package
# media/mediatest), so they always run, under CI and off it alike.
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
