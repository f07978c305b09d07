#!/usr/bin/env bash
# End-to-end UI suites (tests/e2e): the browser suites (kyc-desk serve + Chromium via Playwright;
# one reviewer, and a team of two on an HTTPS review listener) and the desktop suites (the Tauri
# window via tauri-driver + WebKitWebDriver under Xvfb; its own desk, and as a team server's client).
# Installs what they need on Debian 12 (as root, or with sudo), builds the UI and the binary, runs
# both suites, and exits non-zero on any failure. Works from any directory.
# Screenshots land in target/screenshots/. KYC_E2E_VERBOSE=1 shows the processes' output.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export PATH="$HOME/.cargo/bin:$PATH"

# System packages: the browser, a virtual X server, a session bus, WebKitGTK's WebDriver, a PDF
# text extractor (poppler's pdftotext reads the saved report), Python's D-Bus and GTK bindings
# (the stand-in notification server and the other application taking the focus); and the
# libraries the desktop binary builds against (scripts/setup.sh installs the same, if it ran).
APT_PACKAGES=(chromium xvfb xauth dbus-x11 webkit2gtk-driver poppler-utils
              python3-dbus python3-gi gir1.2-gtk-3.0
              libwebkit2gtk-4.1-dev build-essential pkg-config libssl-dev librsvg2-dev libxdo-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "e2e: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v cargo >/dev/null || { echo "e2e: cargo (Rust) is needed: https://rustup.rs" >&2; exit 1; }
command -v npm >/dev/null || { echo "e2e: Node.js 20+ with npm is needed" >&2; exit 1; }
if ! command -v tauri-driver >/dev/null; then
  echo "e2e: installing tauri-driver (cargo install)"
  cargo install tauri-driver --locked
fi

t0=0
took() { echo "e2e: $1 took $((SECONDS - t0)) s"; t0=$SECONDS; }
took "installing packages and tauri-driver"

. scripts/lib.sh
npm_ci_once tests/e2e
took "npm ci (tests/e2e)"

ui_build_once
took "the web UI (built once: skipped when ui/dist is up to date)"

# The binary the suites drive is the one the Rust test build made (same settings, scripts/lib.sh):
# after `cargo test` this is a no-op, not a second build of the workspace with other features.
echo "e2e: the kyc-desk binary (cargo test --no-run)"
use_suite_cargo
KYC_DESK_BIN="$(cargo test --locked --workspace --all-targets --no-run --message-format=json-render-diagnostics \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "kyc-desk" \
            and m["target"]["kind"] == ["bin"] and not m["profile"]["test"]:
        print(m["executable"])')"
[ -x "$KYC_DESK_BIN" ] || { echo "e2e: no kyc-desk binary from the build" >&2; exit 1; }
took "the kyc-desk binary"

mkdir -p target/screenshots
export KYC_DESK_BIN
echo "e2e: running the suites (node --test tests/e2e/)"
# Two suites at a time: they wait on servers, browsers and windows more than they compute.
node --test --test-concurrency=2 tests/e2e/
took "the suites (each suite's duration_ms is in node's report above)"
echo "e2e: all passed (screenshots in target/screenshots/)"
