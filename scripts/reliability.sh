#!/usr/bin/env bash
# The reliability suite: crash safety (kill -9 during single writes and during a bulk import),
# concurrency (If-Match, unique fields), backup while writing, API fuzzing (schemathesis) and a
# soak under mixed load. Outcomes, not timings: it fails when any part finds a problem.
#
#   scripts/reliability.sh [--backend sqlite|postgres|both] [--quick] [--parts P,…]
#                          [--profile release|dev] [--soak-seconds N] [--fuzz-examples N]
#
#   --backend        sqlite (default), postgres, or both (SQLite first)
#   --quick          the CI profile: fewer rounds and records, a 30 s soak, 20 fuzz examples per
#                    operation; the report goes to bench/work/results/ (not committed)
#   --parts          crash, concurrency, backup, fuzz, soak (default: all)
#   --profile        cargo profile of the binaries (default release; CI uses dev, which its test
#                    build has already compiled — the checks do not depend on speed)
#   --soak-seconds   length of the soak (default 600, quick 30)
#   --fuzz-examples  schemathesis examples per API operation (default 100, quick 20)
#
# Installs wrk from Debian when missing (root), schemathesis from PyPI into a virtualenv under
# bench/work/venv, and for PostgreSQL uses RELATA_BENCH_POSTGRES_URL when set, else the throwaway
# cluster of scripts/pg-test-cluster.sh. Everything listens on 127.0.0.1; every load is bounded.
# Full runs write bench/results/reliability/reliability-<date>-<backend>.json (a run of some
# parts: …-<backend>-<part>….json, beside it), shown in BENCHMARKS.md (regenerated here).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

BACKEND=sqlite QUICK="" PARTS="" PROFILE=release SOAK="" EXAMPLES=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --backend) BACKEND="${2:?--backend needs a value}"; shift 2 ;;
    --quick) QUICK=yes; shift ;;
    --parts) PARTS="${2:?--parts needs a value}"; shift 2 ;;
    --profile) PROFILE="${2:?--profile needs a value}"; shift 2 ;;
    --soak-seconds) SOAK="${2:?--soak-seconds needs a value}"; shift 2 ;;
    --fuzz-examples) EXAMPLES="${2:?--fuzz-examples needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; echo "reliability.sh: unknown option: $1" >&2; exit 2 ;;
  esac
done
case "$BACKEND" in
  sqlite) BACKENDS=(sqlite) ;;
  postgres) BACKENDS=(postgres) ;;
  both) BACKENDS=(sqlite postgres) ;;
  *) echo "reliability.sh: --backend is sqlite, postgres or both" >&2; exit 2 ;;
esac
case "$PROFILE" in
  release) PROFILE_DIR=release ;;
  dev) PROFILE_DIR=debug ;;
  *) echo "reliability.sh: --profile is release or dev" >&2; exit 2 ;;
esac
if [[ -n "$QUICK" ]]; then
  SOAK="${SOAK:-30}" EXAMPLES="${EXAMPLES:-20}"
else
  SOAK="${SOAK:-600}" EXAMPLES="${EXAMPLES:-100}"
fi

say() { printf '\n==> [reliability] %s\n' "$*" >&2; }
wants() { [[ -z "$PARTS" || ",$PARTS," == *",$1,"* ]]; }
apt_install() {
  if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "reliability.sh: $* is missing and cannot be installed here (needs root and apt-get)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# --- tools --------------------------------------------------------------------------------------

if wants soak && ! command -v wrk >/dev/null 2>&1; then
  say "installing wrk"
  apt_install wrk
fi

ARGS=()
if wants fuzz; then
  VENV=bench/work/venv
  # Pinned: the fuzz part reads its reports, whose format may change between versions.
  SCHEMATHESIS_VERSION=4.32.5
  if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -F -- "$SCHEMATHESIS_VERSION" >/dev/null; then
    say "installing schemathesis into $VENV"
    mkdir -p bench/work
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      apt_install python3-venv
      python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
  "$VENV/bin/schemathesis" --version
  ARGS+=(--schemathesis "$ROOT/$VENV/bin/schemathesis" --fuzz-examples "$EXAMPLES")
fi

say "building relata and relata-bench ($PROFILE)"
cargo build --profile "$PROFILE" -p relata -p relata-bench
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
BENCH="$TARGET_DIR/$PROFILE_DIR/relata-bench"
ARGS+=(--relata "$TARGET_DIR/$PROFILE_DIR/relata" --work bench/work --results bench/results
  --soak-seconds "$SOAK")
[[ -n "$QUICK" ]] && ARGS+=(--quick)
[[ -n "$PARTS" ]] && ARGS+=(--parts "$PARTS")

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

FAILED=""
for backend in "${BACKENDS[@]}"; do
  say "$backend${QUICK:+, quick}"
  if [[ "$backend" == postgres ]]; then
    "$BENCH" reliability --backend postgres --pg-url "$PG_URL" "${ARGS[@]}" || FAILED+=" $backend"
  else
    "$BENCH" reliability --backend sqlite "${ARGS[@]}" || FAILED+=" $backend"
  fi
done

if [[ -z "$QUICK" ]]; then
  "$BENCH" report --results bench/results --out BENCHMARKS.md
fi
if [[ -n "$FAILED" ]]; then
  echo "reliability.sh: FAILED on:$FAILED (reports under bench/work/ or bench/results/reliability/)" >&2
  exit 1
fi
say "passed"
