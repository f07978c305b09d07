#!/usr/bin/env bash
# Packaging check (issue 7): builds the .deb with the Tauri CLI, installs it with apt (which pulls
# its dependencies) on this Debian 12 machine, and checks that `kyc-desk` is on the PATH and runs:
# the command line, a headless `serve` answering the review API, and the desktop window under Xvfb.
# The service (issue 15 §2): the kyc-desk.service unit passes `systemd-analyze verify`; the package
# created the kyc-desk user, /var/lib/kyc-desk (0700) and /etc/kyc-desk/kyc-desk.toml (not
# world-readable) and left the service disabled; then the service runs (systemctl where systemd is
# PID 1, else the unit's ExecStart by hand as its user, in a mount namespace that is read-only but
# for its ReadWritePaths) and must log its setup code and TLS fingerprint, keep its files in
# /var/lib/kyc-desk, answer HTTPS on the configured ports and stop gracefully.
# Then it purges the package, which must keep the store, and deletes the service's user, data and
# config itself: this machine is the check's own (it refuses a machine with a KYC Desk store it
# did not make). Run as root (or with sudo); works from any directory.
#   scripts/deb-check.sh            build, install, check, remove
#   KEEP_INSTALLED=1 scripts/deb-check.sh   leave the package (and the service's user, data, config) installed
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export PATH="$HOME/.cargo/bin:$PATH"

step() { echo "deb-check: $*"; }
fail() { echo "deb-check: FAILED: $*" >&2; exit 1; }

scripts/setup.sh
NEEDED=(xvfb xauth dbus-x11 curl openssl)
# systemd-analyze (verify, security) comes with the systemd package.
command -v systemd-analyze >/dev/null || NEEDED+=(systemd)
for p in "${NEEDED[@]}"; do
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
dpkg-deb -c "$DEB" | grep -E " (\./)?usr/lib/systemd/system/kyc-desk\.service$" >/dev/null \
  || fail "the .deb carries no /usr/lib/systemd/system/kyc-desk.service"
for script in postinst prerm postrm; do
  [ "$(dpkg-deb -I "$DEB" "$script" | sed -n 1p)" = "#!/bin/sh" ] || fail "the .deb has no $script"
done

# The service's user, data and config are this check's to delete only when it made them: what an
# earlier run left (KEEP_INSTALLED) carries its mark; anything else may be a real store.
SERVICE_USER=kyc-desk DATA_DIR=/var/lib/kyc-desk CONF_DIR=/etc/kyc-desk
CONF_FILE=/etc/kyc-desk/kyc-desk.toml MARK=/etc/kyc-desk/.made-by-deb-check
remove_service_state() {
  $SUDO rm -rf "$DATA_DIR" "$CONF_DIR"
  if getent passwd "$SERVICE_USER" >/dev/null; then $SUDO userdel "$SERVICE_USER"; fi
  if getent group "$SERVICE_USER" >/dev/null; then $SUDO groupdel "$SERVICE_USER"; fi
}
$SUDO apt-get remove -y -qq kyc-desk >/dev/null 2>&1 || true
if [ -e "$MARK" ]; then
  step "deleting the service's user, data and config an earlier check left (KEEP_INSTALLED)"
  $SUDO apt-get purge -y -qq kyc-desk >/dev/null 2>&1 || true
  remove_service_state
fi
for leftover in "$DATA_DIR" "$CONF_DIR"; do
  [ ! -e "$leftover" ] || fail "$leftover exists and this check did not make it (a real KYC Desk store?); run the check on a machine without one"
done
! getent passwd "$SERVICE_USER" >/dev/null || fail "the user $SERVICE_USER exists already; run the check on a machine without a KYC Desk service"

cleanup() {
  [ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null || true
  [ -n "${WIN_PID:-}" ] && kill "$WIN_PID" 2>/dev/null || true
  [ -n "${SVC_LAUNCHER:-}" ] && $SUDO kill "$SVC_LAUNCHER" 2>/dev/null || true
  [ -n "${SVC_PID:-}" ] && $SUDO kill "$SVC_PID" 2>/dev/null || true
  if [ -n "${SVC_SYSTEMD:-}" ]; then $SUDO systemctl stop kyc-desk.service 2>/dev/null || true; fi
  if [ -n "${WORK:-}" ]; then
    fusermount -u "$WORK/home/.cache/doc" 2>/dev/null || true
    rm -rf "$WORK" || true
  fi
  if [ -z "${KEEP_INSTALLED:-}" ]; then
    $SUDO apt-get purge -y -qq kyc-desk >/dev/null 2>&1 || true
    # Only on this check's own machine: the package itself never deletes a store.
    if [ -n "${OURS:-}" ]; then remove_service_state || true; fi
  fi
}
trap cleanup EXIT

step "installing with apt"
OURS=1
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$ROOT/$DEB"
if [ -d "$CONF_DIR" ]; then $SUDO touch "$MARK"; fi

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

step "the service: user, folders, config and unit as installed"
UNIT=$(dpkg -L kyc-desk | grep '/systemd/system/kyc-desk\.service$' | head -1)
[ -f "${UNIT:-/nonexistent}" ] || fail "the package installed no kyc-desk.service unit"
step "unit $UNIT"
IFS=: read -r _ _ SVC_UID _ _ SVC_HOME SVC_SHELL < <(getent passwd "$SERVICE_USER") \
  || fail "the package created no user $SERVICE_USER"
getent group "$SERVICE_USER" >/dev/null || fail "the package created no group $SERVICE_USER"
[ "$SVC_UID" -lt 1000 ] || fail "$SERVICE_USER is not a system user (uid $SVC_UID)"
[ "$SVC_HOME" = "$DATA_DIR" ] || fail "$SERVICE_USER's home is $SVC_HOME, not $DATA_DIR"
case "$SVC_SHELL" in */nologin | */false) ;; *) fail "$SERVICE_USER can log in (shell $SVC_SHELL)" ;; esac
[ "$($SUDO stat -c '%a %U %G' "$DATA_DIR")" = "700 $SERVICE_USER $SERVICE_USER" ] \
  || fail "$DATA_DIR is $($SUDO stat -c '%a %U %G' "$DATA_DIR"), not 700 $SERVICE_USER $SERVICE_USER"
$SUDO test -f "$CONF_FILE" || fail "the package wrote no $CONF_FILE"
CONF_MODE=$($SUDO stat -c '%a %U %G' "$CONF_FILE")
[ "$CONF_MODE" = "640 root $SERVICE_USER" ] || fail "$CONF_FILE is $CONF_MODE, not 640 root $SERVICE_USER"
[ $((8#${CONF_MODE%% *} & 8#007)) = 0 ] || fail "$CONF_FILE is world-readable"
step "user $SERVICE_USER (uid $SVC_UID, home $SVC_HOME, shell $SVC_SHELL); $DATA_DIR 700; $CONF_FILE $CONF_MODE"
# The [section] key's value in the installed config, quotes removed.
conf_value() {
  $SUDO cat "$CONF_FILE" | awk -v want="$1" -v key="$2" '
    /^[[:space:]]*\[/ { section = $0; gsub(/[[:space:]]/, "", section) }
    section == want && $1 == key && $2 == "=" { v = $3; gsub(/"/, "", v); print v; exit }'
}
grep -qx 'data_dir = "/var/lib/kyc-desk"' <($SUDO cat "$CONF_FILE") || fail "$CONF_FILE does not set data_dir = \"$DATA_DIR\""
REVIEW_LISTEN=$(conf_value "[review]" listen) RECEIVER_LISTEN=$(conf_value "[receiver]" listen)
[ "$REVIEW_LISTEN" = "0.0.0.0:8700" ] || fail "[review] listen is '$REVIEW_LISTEN', not 0.0.0.0:8700"
[ "$RECEIVER_LISTEN" = "0.0.0.0:9005" ] || fail "[receiver] listen is '$RECEIVER_LISTEN', not 0.0.0.0:9005"
REVIEW_PORT=${REVIEW_LISTEN##*:} RECEIVER_PORT=${RECEIVER_LISTEN##*:}

step "systemd-analyze verify $UNIT"
VERIFY_RC=0
systemd-analyze verify "$UNIT" > "$WORK/verify.log" 2>&1 || VERIFY_RC=$?
cat "$WORK/verify.log"
[ "$VERIFY_RC" = 0 ] || fail "systemd-analyze verify failed ($VERIFY_RC)"
! grep -qi "kyc-desk" "$WORK/verify.log" || fail "systemd-analyze verify warns about kyc-desk.service"
systemd-analyze security --offline=true --no-pager "$UNIT" 2>/dev/null | grep "Overall exposure level" || true

step "the package left the service disabled and stopped"
SYSTEMD_RUNS=""
[ -d /run/systemd/system ] && SYSTEMD_RUNS=1
WANTS=$(find /etc/systemd/system -path '*.wants/kyc-desk.service' 2>/dev/null || true)
[ -z "$WANTS" ] || fail "the package enabled the service: $WANTS"
ENABLED=$(systemctl is-enabled kyc-desk.service 2>/dev/null || true)
if [ -n "$SYSTEMD_RUNS" ]; then
  [ "$ENABLED" = "disabled" ] || fail "systemctl is-enabled kyc-desk says '$ENABLED', not disabled"
  [ "$(systemctl is-active kyc-desk.service || true)" = "inactive" ] || fail "the package started the service"
else
  case "$ENABLED" in enabled* | static | alias | linked*) fail "systemctl is-enabled kyc-desk says '$ENABLED'" ;; esac
fi
! pgrep -u "$SERVICE_USER" >/dev/null || fail "a process of $SERVICE_USER runs before the service was started"
step "not enabled (systemctl is-enabled: ${ENABLED:-no answer}; no .wants link), nothing runs as $SERVICE_USER"
for port in "$REVIEW_PORT" "$RECEIVER_PORT"; do
  [ -z "$(ss -Hltn "sport = :$port")" ] || fail "port $port is in use on this machine: the service cannot be checked here"
done

# The unit's settings as systemd reads them (the last assignment wins; Environment= adds up).
unit_value() { sed -n "s/^$1=//p" "$UNIT" | tail -1; }
EXEC_START=$(unit_value ExecStart)
read -r -a EXEC_ARGV <<< "$EXEC_START"
[ "${EXEC_ARGV[*]}" = "/usr/bin/kyc-desk serve --config $CONF_FILE" ] \
  || fail "ExecStart is '$EXEC_START', not /usr/bin/kyc-desk serve --config $CONF_FILE"
[ "$(unit_value User)" = "$SERVICE_USER" ] || fail "the unit's User= is not $SERVICE_USER"
KILL_SIGNAL=$(unit_value KillSignal)
: > "$WORK/service.log"
if [ -n "$SYSTEMD_RUNS" ]; then
  step "starting the service (systemctl start kyc-desk)"
  SVC_SYSTEMD=1
  $SUDO systemctl start kyc-desk.service
  INVOCATION=$(systemctl show -P InvocationID kyc-desk.service)
  service_log() { $SUDO journalctl -o cat --no-pager "_SYSTEMD_INVOCATION_ID=$INVOCATION" > "$WORK/service.log" 2>&1 || true; }
  for _ in $(seq 100); do service_log; grep -q "review listening on" "$WORK/service.log" && break; sleep 0.2; done
  SVC_PID=$(systemctl show -P MainPID kyc-desk.service)
else
  # No systemd here: the unit's ExecStart by hand, as systemd would run it: its User and Group,
  # UMask, Environment, no new privileges and no capabilities, in a mount namespace where the
  # file system is read-only but for the unit's ReadWritePaths (ProtectSystem=strict), with
  # private /tmp and /var/tmp (PrivateTmp) and empty /home, /root, /run/user (ProtectHome).
  RW_PATHS=$(unit_value ReadWritePaths)
  [ "$RW_PATHS" = "$DATA_DIR" ] || fail "the unit's ReadWritePaths is '$RW_PATHS', not $DATA_DIR"
  UMASK=$(unit_value UMask)
  ENVIRONMENT=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$SVC_HOME"
    USER="$SERVICE_USER" LOGNAME="$SERVICE_USER" SHELL="$SVC_SHELL")
  while IFS= read -r assignment; do
    ENVIRONMENT+=("${assignment//%H/$(uname -n)}")
  done < <(sed -n 's/^Environment=//p' "$UNIT")
  step "starting the unit's ExecStart by hand as $SERVICE_USER (no systemd here): ${EXEC_ARGV[*]}"
  # shellcheck disable=SC2016 # the script runs inside the namespace with its own arguments
  SANDBOX='set -e
    rw=$1 umask_value=$2 user=$3 group=$4; shift 4
    mount --bind "$rw" "$rw"
    findmnt -rn -o TARGET | while read -r m; do
      case "$m" in /proc* | /sys* | /dev* | "$rw") continue ;; esac
      if [ "$m" = / ]; then mount -o remount,bind,ro /; else mount -o remount,bind,ro "$m" 2>/dev/null || true; fi
    done
    for t in /tmp /var/tmp; do mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$t"; done
    for h in /home /root /run/user; do if [ -d "$h" ]; then mount -t tmpfs -o mode=0000 tmpfs "$h"; fi; done
    umask "$umask_value"
    exec setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
      --inh-caps=-all --bounding-set=-all -- env -i "$@"'
  $SUDO unshare --mount --propagation private -- sh -c "$SANDBOX" sandbox \
    "$DATA_DIR" "${UMASK:-0022}" "$SERVICE_USER" "$(unit_value Group)" \
    "${ENVIRONMENT[@]}" "${EXEC_ARGV[@]}" > "$WORK/service.log" 2>&1 &
  SVC_LAUNCHER=$!
  for _ in $(seq 100); do grep -q "review listening on" "$WORK/service.log" && break; sleep 0.2; done
  SVC_PID=$(pgrep -u "$SERVICE_USER" -x kyc-desk | head -1 || true)
fi
cat "$WORK/service.log"
grep -q "review listening on" "$WORK/service.log" || fail "the service did not start"
[ "${SVC_PID:-0}" != 0 ] || fail "no kyc-desk process found"

step "the running service (pid $SVC_PID)"
SVC_RUNS_AS=$(ps -o user= -p "$SVC_PID" | tr -d ' ')
[ "$SVC_RUNS_AS" = "$SERVICE_USER" ] || fail "the service runs as '$SVC_RUNS_AS', not $SERVICE_USER"
grep -q "review listening on 0.0.0.0:$REVIEW_PORT" "$WORK/service.log" || fail "the review desk is not on port $REVIEW_PORT"
grep -q "receiver listening on 0.0.0.0:$RECEIVER_PORT" "$WORK/service.log" || fail "the receiver is not on port $RECEIVER_PORT"
SETUP_CODE=$(sed -n 's/^ *Setup code: *//p' "$WORK/service.log")
[ -n "$SETUP_CODE" ] || fail "the service logged no setup code"
FINGERPRINT=$(grep -o "TLS certificate: *SHA-256 [0-9A-F:]*" "$WORK/service.log" | awk '{print $4}')
[ "${#FINGERPRINT}" = 95 ] || fail "the service logged no SHA-256 certificate fingerprint"
! grep -q $'\e\\[' "$WORK/service.log" || fail "the service's log carries terminal colour codes"
for f in kyc-desk.sqlite3 master.key tls-cert.pem tls-key.pem; do
  $SUDO test -f "$DATA_DIR/$f" || fail "the service did not create $DATA_DIR/$f"
done
NOT_OURS=$($SUDO find "$DATA_DIR" \( ! -user "$SERVICE_USER" -o ! -group "$SERVICE_USER" \) -printf '%p ')
[ -z "$NOT_OURS" ] || fail "files in $DATA_DIR not owned by $SERVICE_USER: $NOT_OURS"
OPEN=$($SUDO find "$DATA_DIR" -perm /077 -printf '%p ')
[ -z "$OPEN" ] || fail "files in $DATA_DIR readable by others than $SERVICE_USER: $OPEN"
[ "$($SUDO stat -c %a "$DATA_DIR/master.key")" = 600 ] || fail "master.key is not 0600"
SETUP=$(curl -fsSk "https://127.0.0.1:$REVIEW_PORT/api/setup") || fail "the review desk does not answer HTTPS on port $REVIEW_PORT"
grep -q '"needs_setup":true' <<< "$SETUP" || fail "the review desk does not say needs_setup: $SETUP"
curl -fsSk "https://127.0.0.1:$REVIEW_PORT/" | grep -i "<html" >/dev/null || fail "the review desk does not serve the UI"
SERVED=$(openssl s_client -connect "127.0.0.1:$REVIEW_PORT" </dev/null 2>/dev/null \
  | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//')
[ "$SERVED" = "$FINGERPRINT" ] || fail "the review desk's certificate ($SERVED) is not the one logged ($FINGERPRINT)"
RECEIVER_STATUS=$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$RECEIVER_PORT/kyc" || true)
[ "$RECEIVER_STATUS" != 000 ] || fail "the receiver does not answer HTTPS on port $RECEIVER_PORT"
step "runs as $SERVICE_USER; logged its setup code and fingerprint $FINGERPRINT; $DATA_DIR holds $($SUDO ls "$DATA_DIR" | tr '\n' ' ')(all $SERVICE_USER's, none readable by others)"
step "https://127.0.0.1:$REVIEW_PORT/api/setup: $SETUP (certificate as logged); receiver on $RECEIVER_PORT answers HTTPS ($RECEIVER_STATUS)"

step "stopping the service"
if [ -n "$SYSTEMD_RUNS" ]; then
  $SUDO systemctl stop kyc-desk.service
  service_log
  SVC_SYSTEMD=""
else
  # As systemd stops it: the unit's KillSignal, then up to TimeoutStopSec for it to end.
  $SUDO kill -s "${KILL_SIGNAL:-SIGTERM}" "$SVC_PID"
  STOP_SECS=$(unit_value TimeoutStopSec)
  for _ in $(seq $((${STOP_SECS:-90} * 5))); do kill -0 "$SVC_LAUNCHER" 2>/dev/null || break; sleep 0.2; done
  ! kill -0 "$SVC_LAUNCHER" 2>/dev/null || fail "the service did not end within ${STOP_SECS:-90} s of $KILL_SIGNAL"
  STOP_RC=0
  wait "$SVC_LAUNCHER" || STOP_RC=$?
  SVC_LAUNCHER=""
  [ "$STOP_RC" = 0 ] || { cat "$WORK/service.log"; fail "the service exited with $STOP_RC on $KILL_SIGNAL"; }
fi
SVC_PID=""
! pgrep -u "$SERVICE_USER" >/dev/null || fail "a process of $SERVICE_USER still runs after the stop"
tail -2 "$WORK/service.log"
grep -q "Stopping (requests in flight" "$WORK/service.log" || fail "the service did not stop gracefully on ${KILL_SIGNAL:-SIGTERM}"
step "stopped gracefully on ${KILL_SIGNAL:-SIGTERM}"

if [ -z "${KEEP_INSTALLED:-}" ]; then
  step "apt-get purge kyc-desk keeps the store"
  $SUDO apt-get purge -y -qq kyc-desk
  [ ! -e "$UNIT" ] || fail "the purge left $UNIT"
  for f in kyc-desk.sqlite3 master.key; do
    $SUDO test -f "$DATA_DIR/$f" || fail "the purge deleted $DATA_DIR/$f"
  done
  $SUDO test -f "$CONF_FILE" || fail "the purge deleted $CONF_FILE"
  getent passwd "$SERVICE_USER" >/dev/null || fail "the purge deleted the user $SERVICE_USER"
  step "purged: $DATA_DIR, $CONF_FILE and the user $SERVICE_USER are kept; deleting them (this check's machine only)"
  remove_service_state
fi

step "passed: $DEB installs, puts kyc-desk on the PATH, and runs (CLI, serve, window, kyc-desk.service)"
