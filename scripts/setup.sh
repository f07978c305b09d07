#!/usr/bin/env bash
# Installs what KYC Desk needs to build, run and test on Debian 12: system libraries for Tauri
# (WebKitGTK), then the web UI's npm packages. Safe to run again; skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libwebkit2gtk-4.1-dev build-essential pkg-config libssl-dev librsvg2-dev libxdo-dev curl ca-certificates)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null || { echo "setup: cargo (Rust) is needed: https://rustup.rs" >&2; exit 1; }
command -v npm >/dev/null || { echo "setup: Node.js with npm is needed (Node 20.19 or newer)" >&2; exit 1; }

echo "setup: building the web UI (ui/)"
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
