#!/usr/bin/env bash
# The whole test suite: installs what it needs, then formatting, lints, and every test
# (unit, HTTP integration, the end-to-end tests of the real binary, and the UI suites driving
# Chromium and the real desktop window).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_PROFILE_DEV_DEBUG=0
echo "test: svelte-check (UI types)"
(cd ui && npm run check --silent)
echo "test: cargo fmt --check"
cargo fmt --all --check
echo "test: cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "test: cargo test"
cargo test --locked --workspace --all-targets
echo "test: UI end to end (browser and desktop window)"
bash scripts/e2e.sh
echo "test: all passed"
