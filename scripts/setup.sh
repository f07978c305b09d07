#!/usr/bin/env bash
# Installs what KYC Desk needs to build, run and test on Debian 12: system libraries for Tauri
# (WebKitGTK), then the web UI's npm packages. Safe to run again; skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# openjdk-17-jdk-headless: Java's HttpClient (what Ditto ID's IDV Server sends with) runs in the
# receiver's tests as an independent client (crates/kyc-server/tests/RefusalClient.java).
APT_PACKAGES=(libwebkit2gtk-4.1-dev build-essential pkg-config libssl-dev librsvg2-dev libxdo-dev curl ca-certificates python3 python3-pip openjdk-17-jdk-headless)

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

# rust-toolchain.toml pins the release the suite passes with. A machine whose default toolchain is
# that release under another name (stable) gets it linked under the pinned name, with no download;
# elsewhere rustup installs it (and if it cannot, scripts/lib.sh falls back to the default).
PINNED="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)"
if command -v rustup >/dev/null && ! rustup toolchain list | grep -q "^$PINNED\(-\| \|$\)"; then
  DEFAULT_RUSTC="$(cd / && rustc --version | cut -d' ' -f2)"
  if [ "$DEFAULT_RUSTC" = "$PINNED" ]; then
    # (`rustup toolchain link` refuses a release's name, so the link is made as rustup lays out
    # an installed release: toolchains/<release>-<host>.)
    HOST="$(cd / && rustc -vV | sed -n 's/^host: //p')"
    echo "setup: the default toolchain is rustc $DEFAULT_RUSTC: linking it as $PINNED-$HOST"
    ln -sfn "$(cd / && rustc --print sysroot)" "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$PINNED-$HOST"
  else
    echo "setup: installing Rust $PINNED (rust-toolchain.toml; the default is $DEFAULT_RUSTC)"
    rustup toolchain install "$PINNED" --profile minimal --component rustfmt,clippy \
      || echo "setup: WARNING: Rust $PINNED cannot be installed here; the scripts build with the default toolchain ($DEFAULT_RUSTC) instead (scripts/lib.sh)" >&2
  fi
fi
command -v npm >/dev/null || { echo "setup: Node.js with npm is needed (Node 20.19 or newer)" >&2; exit 1; }

# Python libraries the tests use as independent peers (a real OAuth2 client library).
if ! python3 -c "import authlib, requests_oauthlib" 2>/dev/null; then
  echo "setup: installing Python packages: authlib requests requests-oauthlib"
  python3 -m pip install --quiet --disable-pip-version-check authlib requests requests-oauthlib 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages authlib requests requests-oauthlib 2>/dev/null \
    || { ${SUDO:-} apt-get install -y -qq python3-authlib python3-requests-oauthlib; }
fi

# The web UI: installed and built only when its sources changed (scripts/lib.sh).
. scripts/lib.sh
ui_build_once
