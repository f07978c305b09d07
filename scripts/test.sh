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
phase "svelte-check (UI types)" bash -c 'cd ui && npm run check --silent'
phase "cargo fmt --check" cargo fmt --all --check
phase "build every target, linted by clippy" cargo test --locked --workspace --all-targets --no-run
ensure_nextest
phase "Rust tests (cargo nextest)" cargo nextest run --locked --workspace --all-targets
phase "UI end to end (browser and desktop window)" bash scripts/e2e.sh
echo "test: all passed"
echo "test: phase times"
printf '  %s\n' "${TIMES[@]}" "$(printf '%-44s %5d s' total "$SECONDS")"
