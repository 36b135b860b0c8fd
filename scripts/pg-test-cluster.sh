#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for the test suite.
#
#   scripts/pg-test-cluster.sh start    start (or reuse) the cluster; prints its URL on stdout
#   scripts/pg-test-cluster.sh url      print the URL of the running cluster
#   scripts/pg-test-cluster.sh status   exit 0 if the cluster is running, 1 if not
#   scripts/pg-test-cluster.sh stop     stop it and delete its data directory
#   scripts/pg-test-cluster.sh log      print the end of its server log (also once it has died)
#
# The cluster lives in a temporary directory (${TMPDIR:-/tmp}/relata-pg-XXXXXX), listens only on
# 127.0.0.1 on a free port (55432 or the next free one), trusts every local connection and trades
# durability for speed (fsync, synchronous_commit and full_page_writes are off). It has one
# database, relata_test, owned by the superuser role postgres:
#
#   postgres://postgres@127.0.0.1:PORT/relata_test
#
# Where it is remembered: target/pg-test-cluster.env (override with RELATA_PG_STATE_FILE).
# Messages go to stderr; only URLs go to stdout.
#
# When PostgreSQL is not installed, it is installed with apt-get (root only). If that is not
# possible the script exits 3 with a warning, or 1 when CI=true.
#
# Environment:
#   RELATA_PG_PORT         first port to try (default 55432)
#   RELATA_PG_BINDIR       directory holding initdb/pg_ctl/postgres (default: found)
#   RELATA_PG_STATE_FILE   state file (default target/pg-test-cluster.env)
set -euo pipefail

readonly EXIT_UNAVAILABLE=3
readonly DATABASE=relata_test
readonly ROLE=postgres

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_FILE="${RELATA_PG_STATE_FILE:-$ROOT/target/pg-test-cluster.env}"
LOCK_FILE="$STATE_FILE.lock"

say() { printf 'pg-test-cluster: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

is_ci() { [[ "${CI:-}" == "true" ]]; }
is_root() { [[ "$(id -u)" -eq 0 ]]; }

# --- finding PostgreSQL -----------------------------------------------------------------------

has_server_binaries() {
  [[ -n "$1" && -x "$1/initdb" && -x "$1/pg_ctl" && -x "$1/postgres" ]]
}

# Prints the bin directory of the newest installed PostgreSQL server, or nothing.
find_bindir() {
  if [[ -n "${RELATA_PG_BINDIR:-}" ]]; then
    has_server_binaries "$RELATA_PG_BINDIR" && printf '%s\n' "$RELATA_PG_BINDIR"
    return 0
  fi
  local candidate
  # Debian's layout; several versions can be installed side by side: take the highest.
  while read -r candidate; do
    if has_server_binaries "$candidate"; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done < <(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V -r)
  # pg_config also ships with libpq-dev alone, so check that the server is really there.
  if command -v pg_config >/dev/null 2>&1; then
    candidate="$(pg_config --bindir 2>/dev/null || true)"
    if has_server_binaries "$candidate"; then
      printf '%s\n' "$candidate"
      return 0
    fi
  fi
  # Anything else on PATH (Homebrew, Postgres.app, a source build, …).
  candidate="$(command -v initdb 2>/dev/null || true)"
  if [[ -n "$candidate" ]]; then
    candidate="$(dirname "$(readlink -f "$candidate")")"
    has_server_binaries "$candidate" && printf '%s\n' "$candidate"
  fi
  return 0
}

unavailable() {
  {
    echo
    echo "################################################################################"
    echo "##  PostgreSQL server is NOT available: $*"
    echo "##  Install it (Debian/Ubuntu: apt-get install -y postgresql) or set"
    echo "##  RELATA_PG_BINDIR to the directory that holds initdb, pg_ctl and postgres."
    echo "################################################################################"
    echo
  } >&2
  if is_ci; then
    exit 1
  fi
  exit "$EXIT_UNAVAILABLE"
}

# Sets BINDIR, installing PostgreSQL with apt-get when it is missing and we may.
require_postgres() {
  BINDIR="$(find_bindir)"
  [[ -n "$BINDIR" ]] && return 0
  if [[ -n "${RELATA_PG_BINDIR:-}" ]]; then
    unavailable "RELATA_PG_BINDIR=$RELATA_PG_BINDIR does not hold initdb, pg_ctl and postgres"
  fi
  if ! is_root || ! command -v apt-get >/dev/null 2>&1; then
    unavailable "not installed, and cannot install it here (needs root and apt-get)"
  fi
  say "PostgreSQL is not installed; installing it with apt-get"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2; }; then
    unavailable "apt-get install postgresql failed"
  fi
  BINDIR="$(find_bindir)"
  [[ -n "$BINDIR" ]] || unavailable "apt-get installed postgresql but no server binaries were found"
}

# --- running things as the cluster owner -------------------------------------------------------

# initdb and postgres refuse to run as root: as root, they run as the postgres OS user.
ensure_os_user() {
  is_root || return 0
  id -u postgres >/dev/null 2>&1 && return 0
  say "creating OS user postgres"
  local group_opt=(--user-group)
  getent group postgres >/dev/null 2>&1 && group_opt=(--gid postgres)
  useradd --system "${group_opt[@]}" --no-create-home --home-dir /var/lib/postgresql \
    --shell /bin/sh postgres
}

as_owner() {
  # Run from / so the owner never needs access to the caller's working directory, and without
  # the lock descriptor, which the server would otherwise hold for as long as it runs.
  if is_root; then
    (cd / && runuser -u postgres -- "$@" 9>&-)
  else
    (cd / && "$@" 9>&-)
  fi
}

# --- state --------------------------------------------------------------------------------------

PGDIR="" PORT="" BINDIR="" PID=""

load_state() {
  PGDIR="" PORT="" BINDIR="" PID=""
  [[ -f "$STATE_FILE" ]] || return 1
  local key value
  while IFS='=' read -r key value; do
    case "$key" in
      PGDIR) PGDIR="$value" ;;
      PORT) PORT="$value" ;;
      BINDIR) BINDIR="$value" ;;
      PID) PID="$value" ;;
    esac
  done <"$STATE_FILE"
  [[ -n "$PGDIR" && "$PORT" =~ ^[0-9]+$ ]]
}

save_state() {
  mkdir -p "$(dirname "$STATE_FILE")"
  printf 'PGDIR=%s\nPORT=%s\nBINDIR=%s\nPID=%s\n' "$PGDIR" "$PORT" "$BINDIR" "$PID" >"$STATE_FILE.tmp"
  mv -f "$STATE_FILE.tmp" "$STATE_FILE"
}

url() { printf 'postgres://%s@127.0.0.1:%s/%s\n' "$ROLE" "$PORT" "$DATABASE"; }

# True when the cluster named by the state file is up and accepting connections.
running() {
  [[ -n "$PGDIR" && -f "$PGDIR/data/postmaster.pid" && -n "$BINDIR" && -x "$BINDIR/pg_ctl" ]] || return 1
  as_owner "$BINDIR/pg_ctl" status -D "$PGDIR/data" >/dev/null 2>&1 || return 1
  "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d "$DATABASE" -U "$ROLE" >/dev/null 2>&1
}

# Is this pid a postgres server whose data directory is ours?
our_postmaster() {
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -F -- "$PGDIR/data" >/dev/null
}

# Stops whatever the state file describes and deletes it; quiet when there is nothing.
teardown() {
  [[ -n "$PGDIR" ]] || { rm -f "$STATE_FILE"; return 0; }
  if [[ -d "$PGDIR/data" && -n "$BINDIR" && -x "$BINDIR/pg_ctl" ]] &&
    as_owner "$BINDIR/pg_ctl" status -D "$PGDIR/data" >/dev/null 2>&1; then
    say "stopping cluster in $PGDIR (port $PORT)"
    as_owner "$BINDIR/pg_ctl" stop -D "$PGDIR/data" -m fast -w -t 30 >/dev/null 2>&1 ||
      as_owner "$BINDIR/pg_ctl" stop -D "$PGDIR/data" -m immediate -w -t 30 >/dev/null 2>&1 || true
  fi
  # The data directory may be gone while the server still runs: kill it by its remembered pid.
  if [[ -n "$PID" ]] && our_postmaster "$PID"; then
    say "killing leftover postmaster $PID"
    kill -TERM "$PID" 2>/dev/null || true
    local tries=50
    while ((tries-- > 0)) && our_postmaster "$PID"; do
      sleep 0.1
    done
    if our_postmaster "$PID"; then
      kill -KILL "$PID" 2>/dev/null || true
    fi
  fi
  case "$PGDIR" in
    */relata-pg-*) [[ -d "$PGDIR" ]] && rm -rf -- "$PGDIR" ;;
    *) say "not deleting $PGDIR: not a relata-pg-* directory" ;;
  esac
  rm -f "$STATE_FILE"
}

# --- start --------------------------------------------------------------------------------------

port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    ss -Htln "sport = :$1" 2>/dev/null | grep . >/dev/null && return 0
  fi
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A parent directory every user can enter, so the postgres OS user can reach the cluster.
temp_parent() {
  local dir="${TMPDIR:-/tmp}"
  if is_root && ! runuser -u postgres -- test -w "$dir" -a -x "$dir" 2>/dev/null; then
    dir=/tmp
  fi
  printf '%s\n' "$dir"
}

start() {
  if load_state; then
    if running; then
      say "already running in $PGDIR (port $PORT)"
      url
      return 0
    fi
    say "removing stale state ($STATE_FILE)"
  fi
  teardown

  require_postgres
  ensure_os_user
  say "using $("$BINDIR/postgres" --version) from $BINDIR"

  PGDIR="$(mktemp -d "$(temp_parent)/relata-pg-XXXXXX")"
  PID=""
  save_state # from here on, `stop` can clean up whatever happens next
  mkdir -p "$PGDIR/data" "$PGDIR/socket"
  chmod 0755 "$PGDIR"
  if is_root; then
    chown -R postgres: "$PGDIR"
  fi

  if ! as_owner "$BINDIR/initdb" -D "$PGDIR/data" -U "$ROLE" --auth=trust -E UTF8 \
    --locale=C --no-sync >"$PGDIR/initdb.log" 2>&1; then
    cat "$PGDIR/initdb.log" >&2
    teardown
    die "initdb failed"
  fi

  # Only loopback, only trust: nothing outside this machine can connect.
  cat >"$PGDIR/data/pg_hba.conf" <<'EOF'
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
EOF
  cat >>"$PGDIR/data/postgresql.conf" <<EOF

# --- relata throwaway test cluster (scripts/pg-test-cluster.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGDIR/socket'
max_connections = 300
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
# Tests are many small queries; parallel workers only add start-up cost (and need /dev/shm).
max_parallel_workers_per_gather = 0
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  if is_root; then
    chown postgres: "$PGDIR/data/pg_hba.conf" "$PGDIR/data/postgresql.conf"
  fi

  local port="${RELATA_PG_PORT:-55432}" last started=""
  last=$((port + 50))
  while ((port <= last)); do
    if port_in_use "$port"; then
      port=$((port + 1))
      continue
    fi
    PORT="$port"
    save_state
    if as_owner "$BINDIR/pg_ctl" start -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
      -o "-p $PORT" >/dev/null 2>&1; then
      started=yes
      break
    fi
    # Lost a race for the port, or something else is wrong: the log tells which.
    if grep -q 'could not bind\|Address already in use' "$PGDIR/server.log" 2>/dev/null; then
      say "port $PORT was taken; trying the next one"
      port=$((port + 1))
      continue
    fi
    break
  done
  if [[ -z "$started" ]]; then
    tail -n 30 "$PGDIR/server.log" >&2 2>/dev/null || true
    teardown
    die "could not start PostgreSQL (ports ${RELATA_PG_PORT:-55432}..$last)"
  fi
  PID="$(head -n 1 "$PGDIR/data/postmaster.pid" 2>/dev/null || true)"
  save_state

  if ! "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U "$ROLE" "$DATABASE" >&2; then
    teardown
    die "could not create database $DATABASE"
  fi
  say "started in $PGDIR (port $PORT, log $PGDIR/server.log)"
  url
}

# --- main ---------------------------------------------------------------------------------------

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
}

main() {
  local command="${1:-}"
  case "$command" in
    start | stop | url | status | log) ;;
    -h | --help | help)
      usage
      return 0
      ;;
    *)
      usage
      return 2
      ;;
  esac

  mkdir -p "$(dirname "$STATE_FILE")"
  exec 9>"$LOCK_FILE"
  flock 9 # one start/stop at a time

  case "$command" in
    start) start ;;
    stop)
      if load_state || [[ -n "$PGDIR" ]]; then
        teardown
        say "stopped"
      else
        rm -f "$STATE_FILE"
        say "not running"
      fi
      ;;
    url)
      if ! { load_state && running; }; then
        die "not running (start it with: $0 start)"
      fi
      url
      ;;
    log)
      if load_state && [[ -f "$PGDIR/server.log" ]]; then
        say "last lines of $PGDIR/server.log:"
        tail -n 40 "$PGDIR/server.log" >&2
      else
        say "no server log"
      fi
      ;;
    status)
      if load_state && running; then
        say "running in $PGDIR (port $PORT): $(url)"
      else
        say "not running"
        return 1
      fi
      ;;
  esac
}

main "$@"
