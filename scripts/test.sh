#!/usr/bin/env bash
# The one test command: every check CI runs, in the order CI runs them.
#
#   scripts/test.sh                 fmt, clippy, boundary, git hygiene, tests on SQLite and PostgreSQL
#   scripts/test.sh --quick         skip fmt, clippy and the harness smoke tests
#   scripts/test.sh --sqlite-only   run the tests on SQLite only
#   scripts/test.sh --pg-only       run the tests on PostgreSQL only
#
# After the tests, the harnesses run as smoke tests on the dev build the tests compiled:
# `scripts/bench.sh --quick` (SQLite; figures reported, never judged) and
# `scripts/reliability.sh --quick` on both backends (crash, concurrency, backup, fuzz and soak
# checks, which fail the run when they find a problem).
#
# Tests run with cargo-nextest when it is installed (plus `cargo test --doc`, which nextest
# cannot run), otherwise with `cargo test`. The PostgreSQL run uses a throwaway cluster from
# scripts/pg-test-cluster.sh, stopped again on exit; if RELATA_TEST_POSTGRES_URL is already set,
# that server is used instead. Without PostgreSQL the PostgreSQL run is skipped with a warning,
# except under CI=true, where that is a failure. The web UI's browser tests (chromium through
# chromedriver, screenshots in target/screenshots/) skip when chromedriver is missing, except
# under CI=true (.ci/run installs chromium and chromium-driver).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Crates the pure domain layer must never depend on (DESIGN.md: relata-domain has no I/O).
readonly DOMAIN_CRATE=relata-domain
readonly DOMAIN_FORBIDDEN=(rusqlite postgres axum tokio sqlx)

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

QUICK="" SQLITE=yes POSTGRES=yes
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=yes ;;
    --sqlite-only) POSTGRES="" ;;
    --pg-only) SQLITE="" ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      echo "test.sh: unknown option: $arg" >&2
      exit 2
      ;;
  esac
done
if [[ -z "$SQLITE" && -z "$POSTGRES" ]]; then
  echo "test.sh: --sqlite-only and --pg-only exclude each other" >&2
  exit 2
fi

IS_CI=""
if [[ "${CI:-}" == "true" ]]; then
  IS_CI=yes
  export CARGO_TERM_COLOR=never
  # .ci/run installs chromium, aiosmtpd and dovecot: on CI the browser, SMTP and IMAP tests
  # must run, not skip
  export RELATA_BROWSER_TESTS=required
  export RELATA_SMTP_TESTS=required
  export RELATA_IMAP_TESTS=required
fi

# --- reporting ----------------------------------------------------------------------------------

START_SECONDS=$SECONDS
CURRENT_STEP="setup"
RESULTS=()        # "step: outcome", in order
PG_STARTED_HERE="" # stop the throwaway cluster on exit only if this run started it

step() {
  CURRENT_STEP="$1"
  printf '\n==> [%s] %s\n' "$1" "$2"
}
record() { RESULTS+=("$1: $2"); }

on_exit() {
  local status=$?
  if [[ -n "$PG_STARTED_HERE" ]]; then
    scripts/pg-test-cluster.sh stop || true
  fi
  local elapsed=$((SECONDS - START_SECONDS)) summary=""
  if ((${#RESULTS[@]})); then
    summary="$(printf '%s, ' "${RESULTS[@]}")"
    summary="${summary%, }"
  fi
  echo
  if ((status == 0)); then
    echo "test.sh: PASS in ${elapsed}s — ${summary}"
  else
    echo "test.sh: FAIL at step '${CURRENT_STEP}' (exit ${status}) after ${elapsed}s${summary:+ — passed before it: ${summary}}"
  fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- steps --------------------------------------------------------------------------------------

check_fmt() {
  step fmt "cargo fmt --all -- --check"
  if [[ -n "$IS_CI" ]]; then
    cargo fmt --all -- --check --color never # rustfmt ignores CARGO_TERM_COLOR
  else
    cargo fmt --all -- --check
  fi
  record fmt ok
}

check_clippy() {
  step clippy "cargo clippy --workspace --all-targets -- -D warnings"
  cargo clippy --workspace --all-targets -- -D warnings
  record clippy ok
}

# `cargo tree -i X` prints the paths by which X enters the graph. When X is not in the graph it
# prints nothing (exit 0, "nothing to print") or fails with "did not match any packages".
check_domain_boundary() {
  step boundary "$DOMAIN_CRATE must not depend on: ${DOMAIN_FORBIDDEN[*]}"
  # cargo tree silently ignores an unknown -p, so make sure the crate is really there.
  local root
  root="$(cargo tree -p "$DOMAIN_CRATE" -e normal --depth 0 --prefix none)"
  if [[ "$root" != "$DOMAIN_CRATE v"* ]]; then
    echo "boundary: package $DOMAIN_CRATE not found in the workspace (got: $root)" >&2
    return 1
  fi
  local crate out err rc failed=""
  err="$(mktemp)"
  for crate in "${DOMAIN_FORBIDDEN[@]}"; do
    rc=0
    out="$(cargo tree -p "$DOMAIN_CRATE" -e normal --target all -i "$crate" 2>"$err")" || rc=$?
    if ((rc == 0)) && [[ -z "$out" ]]; then
      echo "  ok    $crate"
    elif ((rc != 0)) && grep -q 'did not match any packages' "$err"; then
      echo "  ok    $crate"
    elif ((rc == 0)); then
      echo "  FAIL  $crate is a dependency of $DOMAIN_CRATE:"
      printf '%s\n' "$out" | sed 's/^/        /'
      failed=yes
    else
      echo "  FAIL  $crate: cargo tree failed (exit $rc):"
      sed 's/^/        /' "$err"
      failed=yes
    fi
  done
  rm -f "$err"
  if [[ -n "$failed" ]]; then
    echo "boundary: $DOMAIN_CRATE must stay free of storage, HTTP and async runtime crates" >&2
    return 1
  fi
  record boundary ok
}

check_git_hygiene() {
  step git "no committed build output or databases (git ls-files -ci --exclude-standard)"
  # safe.directory: CI may run as root on a clone owned by another user.
  local git=(git -c "safe.directory=$ROOT" -C "$ROOT")
  if ! command -v git >/dev/null 2>&1 || ! "${git[@]}" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "  skipped: not a git work tree"
    record git skipped
    return 0
  fi
  local ignored
  ignored="$("${git[@]}" ls-files -ci --exclude-standard)"
  if [[ -n "$ignored" ]]; then
    echo "These committed files match .gitignore (remove them with git rm --cached):" >&2
    printf '%s\n' "$ignored" | sed 's/^/  /' >&2
    return 1
  fi
  echo "  ok"
  record git ok
}

have_nextest() { cargo nextest --version >/dev/null 2>&1; }

# Runs the whole test suite once; the backend is chosen by RELATA_TEST_POSTGRES_URL.
# Explicit returns: a caller may test it with `if`, which switches set -e off inside.
run_suite() {
  if have_nextest; then
    cargo nextest run --workspace --no-fail-fast || return
    echo "--- doctests (cargo test --workspace --doc)"
    cargo test --workspace --doc --no-fail-fast || return
  else
    echo "(cargo-nextest not installed: using cargo test)"
    cargo test --workspace --no-fail-fast || return
  fi
}

test_sqlite() {
  step sqlite "tests on SQLite"
  (
    unset RELATA_TEST_POSTGRES_URL
    run_suite
  )
  record sqlite ok
}

skipped_postgres_banner() {
  cat <<'EOF'

################################################################################
##                                                                            ##
##   SKIPPED POSTGRES: PostgreSQL is not available on this machine, so the    ##
##   test suite ran on SQLite only. CI runs both; install PostgreSQL          ##
##   (apt-get install -y postgresql) to run the PostgreSQL half here.         ##
##                                                                            ##
################################################################################
EOF
}

test_postgres() {
  step postgres "tests on PostgreSQL"
  if [[ -n "${RELATA_TEST_POSTGRES_URL:-}" ]]; then
    echo "using RELATA_TEST_POSTGRES_URL from the environment (no throwaway cluster)"
  else
    local was_running="" url rc=0
    if scripts/pg-test-cluster.sh status 2>/dev/null; then
      was_running=yes
    fi
    url="$(scripts/pg-test-cluster.sh start)" || rc=$?
    if ((rc == 3)) && [[ -z "$IS_CI" ]]; then
      skipped_postgres_banner
      record postgres "SKIPPED (PostgreSQL not available)"
      return 0
    elif ((rc != 0)); then
      echo "could not start the PostgreSQL test cluster (exit $rc)" >&2
      return 1
    fi
    [[ -n "$was_running" ]] || PG_STARTED_HERE=yes
    export RELATA_TEST_POSTGRES_URL="$url"
  fi
  echo "RELATA_TEST_POSTGRES_URL=$RELATA_TEST_POSTGRES_URL"
  if ! run_suite; then
    # A server that died mid-run (out of disk, killed) fails every test after it: say why.
    if [[ -n "$PG_STARTED_HERE" ]]; then
      scripts/pg-test-cluster.sh status || scripts/pg-test-cluster.sh log || true
    fi
    df -h . "${TMPDIR:-/tmp}" >&2 2>/dev/null || true
    return 1
  fi
  record postgres ok
}

harness() {
  step harness "scripts/bench.sh --quick and scripts/reliability.sh --quick (dev build)"
  # The harnesses need wrk (Debian) and schemathesis (PyPI): installing wrk takes root, which
  # CI has. Elsewhere, without it, the step is skipped rather than failed.
  if [[ -z "$IS_CI" && "$(id -u)" -ne 0 ]] && ! command -v wrk >/dev/null 2>&1; then
    echo "  skipped: wrk is missing and only root can install it (CI runs this step)"
    record harness "SKIPPED (no wrk)"
    return 0
  fi
  local backends=()
  if [[ -n "$SQLITE" ]]; then
    backends+=(sqlite)
  fi
  if [[ -n "$POSTGRES" && -n "${RELATA_TEST_POSTGRES_URL:-}" ]]; then
    backends+=(postgres)
  fi
  if ((${#backends[@]} == 0)); then
    echo "  skipped: no backend to run on"
    record harness "SKIPPED (no backend)"
    return 0
  fi
  if [[ -n "$SQLITE" ]]; then
    scripts/bench.sh --quick --profile dev
  fi
  local backend="${backends[0]}"
  if ((${#backends[@]} == 2)); then
    backend=both
  fi
  RELATA_BENCH_POSTGRES_URL="${RELATA_TEST_POSTGRES_URL:-}" \
    scripts/reliability.sh --quick --profile dev --backend "$backend"
  record harness ok
}

# --- main ---------------------------------------------------------------------------------------

echo "test.sh in $ROOT (CI=${CI:-}; $(cargo --version))"
if [[ -z "$QUICK" ]]; then
  check_fmt
  check_clippy
fi
check_domain_boundary
check_git_hygiene
# Plain calls, never `cond && step`: bash ignores set -e inside a function called from a list.
if [[ -n "$SQLITE" ]]; then
  test_sqlite
fi
if [[ -n "$POSTGRES" ]]; then
  test_postgres
fi
if [[ -z "$QUICK" ]]; then
  harness
fi
CURRENT_STEP="done"
