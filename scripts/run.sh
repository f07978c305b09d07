#!/usr/bin/env bash
# Runs KYC Desk: installs what it needs, builds (release) and starts it. Arguments go to kyc-desk:
#   scripts/run.sh              the desktop app (window)
#   scripts/run.sh serve        the same services without a window
#   scripts/run.sh simulate     play Ditto ID against it
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/lib.sh
cargo build --release --locked --bin kyc-desk
exec target/release/kyc-desk "$@"
