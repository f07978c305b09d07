#!/usr/bin/env bash
# Packaging check (issue 7): builds the .deb with the Tauri CLI, installs it with apt (which pulls
# its dependencies) on this Debian 12 machine, and checks that `kyc-desk` is on the PATH and runs:
# the command line, a headless `serve` answering the review API, and the desktop window under Xvfb.
# Then it removes the package again. Run as root (or with sudo); works from any directory.
#   scripts/deb-check.sh            build, install, check, remove
#   KEEP_INSTALLED=1 scripts/deb-check.sh   leave the package installed
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export PATH="$HOME/.cargo/bin:$PATH"

step() { echo "deb-check: $*"; }
fail() { echo "deb-check: FAILED: $*" >&2; exit 1; }

scripts/setup.sh
for p in xvfb xauth dbus-x11 curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || { $SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$p"; }
done

step "building the .deb (npx @tauri-apps/cli@2 build --bundles deb; setup.sh built the UI)"
npx --yes @tauri-apps/cli@2 build --bundles deb --ci
DEB=$(ls -t target/release/bundle/deb/*.deb | head -1)
[ -f "$DEB" ] || fail "no .deb under target/release/bundle/deb"
NAME=$(dpkg-deb -f "$DEB" Package)
[ "$NAME" = "kyc-desk" ] || fail "the package is named '$NAME', not kyc-desk"
step "built $DEB (package $NAME $(dpkg-deb -f "$DEB" Version), $(du -h "$DEB" | cut -f1))"
dpkg-deb -f "$DEB" Depends

step "installing with apt"
$SUDO apt-get remove -y -qq kyc-desk >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$ROOT/$DEB"
cleanup() {
  [ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null || true
  [ -n "${WIN_PID:-}" ] && kill "$WIN_PID" 2>/dev/null || true
  if [ -n "${WORK:-}" ]; then
    fusermount -u "$WORK/home/.cache/doc" 2>/dev/null || true
    rm -rf "$WORK" || true
  fi
  if [ -z "${KEEP_INSTALLED:-}" ]; then $SUDO apt-get remove -y -qq kyc-desk >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

BIN=$(command -v kyc-desk) || fail "kyc-desk is not on the PATH after installing"
step "kyc-desk is $BIN"
kyc-desk --help | grep -q "simulate" || fail "kyc-desk --help does not list the commands"

WORK=$(mktemp -d)
export HOME="$WORK/home" XDG_DATA_HOME="$WORK/data" XDG_CONFIG_HOME="$WORK/config" XDG_RUNTIME_DIR="$WORK/run"
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"
# A private session bus that activates no services (no desktop portals mounting FUSE dirs).
cat > "$WORK/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:tmpdir=$XDG_RUNTIME_DIR</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
EOF
CONFIG="$WORK/kyc-desk.toml"
cat > "$CONFIG" <<EOF
data_dir = "data"
[receiver]
listen = "127.0.0.1:0"
[review]
listen = "127.0.0.1:0"
EOF
echo "a long enough password" | kyc-desk --config "$CONFIG" user add ada --role admin --password-stdin \
  | grep -q "Created admin account ada" || fail "user add"

step "serve (headless)"
kyc-desk --config "$CONFIG" serve > "$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 50); do grep -q "review listening on" "$WORK/serve.log" && break; sleep 0.2; done
REVIEW=$(grep -o "review listening on [0-9.:]*" "$WORK/serve.log" | awk '{print $4}')
[ -n "$REVIEW" ] || { cat "$WORK/serve.log"; fail "serve did not start"; }
curl -fsS "http://$REVIEW/api/setup" | grep -q '"needs_setup":false' || fail "the review API does not answer"
curl -fsS "http://$REVIEW/" | grep -qi "<html" || fail "the packaged UI is not served"
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=""

step "the desktop window (Xvfb)"
xvfb-run -a dbus-run-session --config-file="$WORK/bus.conf" -- env NO_AT_BRIDGE=1 \
  WEBKIT_DISABLE_DMABUF_RENDERER=1 LIBGL_ALWAYS_SOFTWARE=1 \
  kyc-desk --config "$CONFIG" > "$WORK/window.log" 2>&1 &
WIN_PID=$!
for _ in $(seq 50); do grep -q "review listening on" "$WORK/window.log" && break; sleep 0.2; done
sleep 3
kill -0 "$WIN_PID" 2>/dev/null || { cat "$WORK/window.log"; fail "the desktop app exited"; }
grep -q "review listening on" "$WORK/window.log" || { cat "$WORK/window.log"; fail "the desktop app did not start its services"; }
kill "$WIN_PID"; wait "$WIN_PID" 2>/dev/null || true; WIN_PID=""

step "passed: $DEB installs, puts kyc-desk on the PATH, and runs (CLI, serve, window)"
