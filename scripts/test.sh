#!/usr/bin/env bash
# The whole test suite: installs what it needs, then formatting, lints, and every test
# (unit, HTTP integration, the end-to-end tests of the real binary, and the UI suites driving
# Chromium and the real desktop window).
# Each phase's wall time is printed at the end (the table in BENCHMARKS.md comes from it).
set -euo pipefail
cd "$(dirname "$0")/.."
TIMES=()
phase() {
  local name="$1" t0=$SECONDS
  shift
  echo "test: $name"
  "$@"
  TIMES+=("$(printf '%-44s %5d s' "$name" $((SECONDS - t0)))")
}
phase "setup (packages, Rust, Node, the web UI)" scripts/setup.sh
. scripts/lib.sh
use_suite_cargo
# svelte-check needs Node only: it runs beside the Rust build, and its result is read after it.
SVELTE_LOG="$(mktemp)"
(cd ui && npm run check --silent) >"$SVELTE_LOG" 2>&1 &
SVELTE_PID=$!
svelte_check_result() {
  local rc=0
  wait "$SVELTE_PID" || rc=$?
  cat "$SVELTE_LOG"
  rm -f "$SVELTE_LOG"
  return "$rc"
}
phase "cargo fmt --check" cargo fmt --all --check
phase "build every target, linted by clippy" cargo test --locked --workspace --all-targets --no-run
phase "svelte-check (UI types; ran beside the build)" svelte_check_result
ensure_nextest
# The PostgreSQL backend's tests run against a throwaway cluster; required here, never skipped.
. scripts/pg.sh
phase "PostgreSQL test cluster (initdb, start)" start_test_postgres
trap stop_test_postgres EXIT
export KYC_DESK_REQUIRE_PG=1
phase "Rust tests (cargo nextest)" cargo nextest run --locked --workspace --all-targets
phase "failover drill (PostgreSQL primary and synchronous standby)" bash scripts/failover-drill.sh
phase "UI end to end (browser and desktop window)" bash scripts/e2e.sh
echo "test: all passed"
echo "test: phase times"
printf '  %s\n' "${TIMES[@]}" "$(printf '%-44s %5d s' total "$SECONDS")"
