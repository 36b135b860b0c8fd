#!/usr/bin/env bash
# The benchmark: ceilings and Relata's figures in one run, results in bench/results/ and
# BENCHMARKS.md (which explains every figure).
#
#   scripts/bench.sh [--scale 10k|100k|1m] [--backend sqlite|postgres|both] [--quick] [--keep]
#
#   --scale     records loaded (default 10k; any count such as 250k works)
#   --backend   sqlite (default), postgres, or both (SQLite first)
#   --quick     3-second measurements at 10k unless --scale is given: the CI smoke test of the
#               harness. Its results go to bench/work/results/ and BENCHMARKS.md is left alone.
#   --keep      keep databases, logs and wrk inputs under bench/work/ for inspection
#   --profile   cargo profile of the binaries: release (default) or dev (CI's smoke test, which
#               reuses its test build; dev figures mean nothing)
#
# Installs wrk with apt-get when missing (root), builds relata and relata-bench in release
# mode, and for PostgreSQL uses RELATA_BENCH_POSTGRES_URL when set, else the throwaway cluster
# of scripts/pg-test-cluster.sh (started here, and stopped again only if it was started here).
# Everything listens on 127.0.0.1. There are no thresholds: the figures are reported, not
# judged (BENCHMARKS.md shows them against the targets of issues 3 and 4).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

SCALE="" BACKEND=sqlite QUICK="" KEEP="" PROFILE=release
while [[ $# -gt 0 ]]; do
  case "$1" in
    --scale) SCALE="${2:?--scale needs a value}"; shift 2 ;;
    --scale=*) SCALE="${1#*=}"; shift ;;
    --backend) BACKEND="${2:?--backend needs a value}"; shift 2 ;;
    --backend=*) BACKEND="${1#*=}"; shift ;;
    --quick) QUICK=yes; shift ;;
    --keep) KEEP=yes; shift ;;
    --profile) PROFILE="${2:?--profile needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; echo "bench.sh: unknown option: $1" >&2; exit 2 ;;
  esac
done
SCALE="${SCALE:-10k}"
case "$BACKEND" in
  sqlite) BACKENDS=(sqlite) ;;
  postgres) BACKENDS=(postgres) ;;
  both) BACKENDS=(sqlite postgres) ;;
  *) echo "bench.sh: --backend is sqlite, postgres or both" >&2; exit 2 ;;
esac

say() { printf '\n==> [bench] %s\n' "$*" >&2; }

# --- tools --------------------------------------------------------------------------------------

if ! command -v wrk >/dev/null 2>&1; then
  say "installing wrk"
  if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "bench.sh: wrk is missing and cannot be installed here (needs root and apt-get)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk
fi

case "$PROFILE" in
  release) PROFILE_DIR=release ;;
  dev) PROFILE_DIR=debug ;;
  *) echo "bench.sh: --profile is release or dev" >&2; exit 2 ;;
esac
if [[ "$PROFILE" != release && -z "$QUICK" ]]; then
  echo "bench.sh: --profile dev is for --quick smoke tests only" >&2
  exit 2
fi

say "building relata and relata-bench ($PROFILE)"
cargo build --profile "$PROFILE" -p relata -p relata-bench
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
RELATA="$TARGET_DIR/$PROFILE_DIR/relata"
BENCH="$TARGET_DIR/$PROFILE_DIR/relata-bench"

# --- PostgreSQL ---------------------------------------------------------------------------------

PG_STARTED_HERE=""
cleanup() {
  if [[ -n "$PG_STARTED_HERE" ]]; then
    scripts/pg-test-cluster.sh stop || true
  fi
}
trap cleanup EXIT

PG_URL="${RELATA_BENCH_POSTGRES_URL:-}"
if [[ " ${BACKENDS[*]} " == *" postgres "* && -z "$PG_URL" ]]; then
  if ! scripts/pg-test-cluster.sh status >/dev/null 2>&1; then
    PG_STARTED_HERE=yes
  fi
  say "PostgreSQL: throwaway cluster"
  PG_URL="$(scripts/pg-test-cluster.sh start)"
fi

# --- runs ---------------------------------------------------------------------------------------

ARGS=(--scale "$SCALE" --relata "$RELATA" --work bench/work --results bench/results)
[[ -n "$QUICK" ]] && ARGS+=(--quick)
[[ -n "$KEEP" ]] && ARGS+=(--keep)
for backend in "${BACKENDS[@]}"; do
  say "run: $backend, $SCALE${QUICK:+, quick}"
  if [[ "$backend" == postgres ]]; then
    "$BENCH" run --backend postgres --pg-url "$PG_URL" "${ARGS[@]}"
  else
    "$BENCH" run --backend sqlite "${ARGS[@]}"
  fi
done

if [[ -z "$QUICK" ]]; then
  "$BENCH" report --results bench/results --out BENCHMARKS.md
else
  say "quick run: results under bench/work/results/, BENCHMARKS.md unchanged"
fi
