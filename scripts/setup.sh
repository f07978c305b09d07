#!/usr/bin/env bash
# Installs what KYC Desk needs to build, run and test on Debian 12: system libraries for Tauri
# (WebKitGTK), then the web UI's npm packages. Safe to run again; skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# openjdk-17-jdk-headless: Java's HttpClient (what Ditto ID's IDV Server sends with) runs in the
# receiver's tests as an independent client (crates/kyc-server/tests/RefusalClient.java).
# postgresql: the tests start a throwaway cluster of their own (scripts/pg.sh) for the store's
# second backend.
APT_PACKAGES=(libwebkit2gtk-4.1-dev build-essential pkg-config libssl-dev librsvg2-dev libxdo-dev curl ca-certificates python3 python3-pip openjdk-17-jdk-headless postgresql)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null || { echo "setup: cargo (Rust) is needed: https://rustup.rs" >&2; exit 1; }

# The pinned Rust release (rust-toolchain.toml), linked or installed (scripts/lib.sh).
KYC_DESK_SETTING_UP=1 . scripts/lib.sh
ensure_pinned_toolchain
use_pinned_or_default
command -v npm >/dev/null || { echo "setup: Node.js with npm is needed (Node 20.19 or newer)" >&2; exit 1; }

# Python libraries the tests use as independent peers (a real OAuth2 client library).
if ! python3 -c "import authlib, requests_oauthlib" 2>/dev/null; then
  echo "setup: installing Python packages: authlib requests requests-oauthlib"
  python3 -m pip install --quiet --disable-pip-version-check authlib requests requests-oauthlib 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages authlib requests requests-oauthlib 2>/dev/null \
    || { ${SUDO:-} apt-get install -y -qq python3-authlib python3-requests-oauthlib; }
fi

# The web UI: installed and built only when its sources changed (scripts/lib.sh).
ui_build_once
