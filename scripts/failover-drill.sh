#!/usr/bin/env bash
# Failover drill (issue 18): KYC Desk on a PostgreSQL primary with a synchronous streaming
# replica (pg_basebackup), Ditto ID's submissions arriving, the primary crashed mid-load
# (`pg_ctl stop -m immediate`), the replica promoted, the desk pointed at it. Checks that every
# case KYC Desk acknowledged is on the promoted server, that the audit trail is whole, and that
# receiving goes on. Usage: scripts/failover-drill.sh [path/to/kyc-desk] (default: the debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BIN="${1:-$ROOT/target/debug/kyc-desk}"
[ -x "$BIN" ] || { echo "drill: no kyc-desk binary at $BIN (cargo build first)" >&2; exit 1; }
. scripts/pg.sh
TEST_PG_BIN="$(pg_bin_dir)"
WORK="$(pg_new_folder)"
PRIMARY="$WORK/primary" STANDBY="$WORK/standby"
SERVE_PID=""
cleanup() {
  [ -n "$SERVE_PID" ] && kill -9 "$SERVE_PID" 2>/dev/null || true
  pg_stop "$PRIMARY" immediate
  pg_stop "$STANDBY" immediate
  rm -rf "$WORK"
}
trap cleanup EXIT
step() { echo "drill: [$((SECONDS))s] $*"; }

PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
export PGPASSWORD="$PASSWORD" KYC_DESK_DB_PASSWORD="$PASSWORD"
P1="$(free_port)" P2="$(free_port)"
sql() { "$TEST_PG_BIN/psql" -X -At -h 127.0.0.1 -p "$1" -U kyc -d "$2" -c "$3"; }

step "primary on :$P1 with a synchronous standby named standby1"
pg_init "$PRIMARY" "$PASSWORD"
pg_start "$PRIMARY" "$P1"
sql "$P1" postgres "CREATE DATABASE kycdesk" >/dev/null
step "standby on :$P2 from pg_basebackup, streaming"
pg_as_owner env PGPASSWORD="$PASSWORD" "$TEST_PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$P1" -U kyc \
  -D "$STANDBY" -R -X stream -c fast >/dev/null
pg_start "$STANDBY" "$P2" "-c cluster_name=standby1"
# From now on a commit on the primary returns once the standby has it.
sql "$P1" postgres "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" >/dev/null
sql "$P1" postgres "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 100); do
  [ "$(sql "$P1" postgres "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")" = sync ] && break
  sleep 0.1
done
[ "$(sql "$P1" postgres "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")" = sync ] \
  || { echo "drill: the standby never became synchronous" >&2; exit 1; }

DESK="$WORK/desk"
mkdir -p "$DESK"
config() {
  cat > "$DESK/kyc-desk.toml" <<EOF
data_dir = "data"
[storage]
url = "postgres://kyc@127.0.0.1:$1/kycdesk"
[decision]
hold_secs = 0
[receiver]
listen = "127.0.0.1:0"
[receiver.auth]
mode = "bearer"
token = "drill-token-0123456789abcdef"
[review]
listen = "127.0.0.1:0"
EOF
}
serve() {
  : > "$DESK/serve.log"
  RUST_LOG=warn "$BIN" --config "$DESK/kyc-desk.toml" serve > "$DESK/serve.log" 2>&1 &
  SERVE_PID=$!
  for _ in $(seq 200); do
    grep -q "^receiver listening on " "$DESK/serve.log" && break
    sleep 0.1
  done
  RECEIVER="$(sed -n 's/^receiver listening on //p' "$DESK/serve.log")"
  [ -n "$RECEIVER" ] || { cat "$DESK/serve.log" >&2; exit 1; }
}
simulate() { # seed count
  RUST_LOG=error "$BIN" --config "$DESK/kyc-desk.toml" simulate --url "https://$RECEIVER/kyc" \
    --scenario clean --seed "$1" --count "$2" --parallel 8 || true
}

config "$P1"
serve
step "receiving on the primary; it crashes mid-load"
simulate 11 100 > "$WORK/before.txt" &
SIM=$!
for _ in $(seq 300); do
  [ "$(grep -c 'HTTP 200' "$WORK/before.txt" || true)" -ge 30 ] && break
  sleep 0.1
done
pg_stop "$PRIMARY" immediate
# The desk's host goes with it (what it still answers now is refusals: the database is gone).
kill -9 "$SERVE_PID" 2>/dev/null || true
wait "$SERVE_PID" 2>/dev/null || true
SERVE_PID=""
wait "$SIM" || true
grep -o 'HTTP 200 .*reference_number=[^ ]*' "$WORK/before.txt" | sed 's/.*reference_number=//' | sort -u > "$WORK/acked.txt"
ACKED="$(wc -l < "$WORK/acked.txt")"
[ "$ACKED" -ge 30 ] || { echo "drill: only $ACKED answers before the crash" >&2; head "$WORK/before.txt" >&2; exit 1; }
[ "$ACKED" -lt 100 ] || { echo "drill: the crash came after the load ended" >&2; exit 1; }

step "promoting the standby; the desk now points at :$P2"
pg_as_owner "$TEST_PG_BIN/pg_ctl" -D "$STANDBY" -w promote >/dev/null
sql "$P2" kycdesk "SELECT reference FROM cases" | sort -u > "$WORK/stored.txt"
MISSING="$(comm -23 "$WORK/acked.txt" "$WORK/stored.txt" | wc -l)"
[ "$MISSING" = 0 ] || { echo "drill: $MISSING acknowledged cases are missing after failover:" >&2; comm -23 "$WORK/acked.txt" "$WORK/stored.txt" >&2; exit 1; }
step "all $ACKED acknowledged cases are on the promoted server"

config "$P2"
RUST_LOG=warn "$BIN" --config "$DESK/kyc-desk.toml" audit verify | tee "$WORK/verify.txt" | sed 's/^/drill:   /'
grep -q "audit trail intact" "$WORK/verify.txt"
serve
simulate 12 10 > "$WORK/after.txt"
AFTER="$(grep -c 'HTTP 200' "$WORK/after.txt" || true)"
[ "$AFTER" = 10 ] || { echo "drill: $AFTER of 10 answered after failover" >&2; cat "$WORK/after.txt" >&2; exit 1; }
# Ditto ID retries everything it sent before the crash: each acknowledged one gets its stored
# answer (the same reference), not a new case.
simulate 11 100 > "$WORK/replay.txt"
grep -o 'reference_number=[^ ]*' "$WORK/replay.txt" | sed 's/.*=//' | sort -u > "$WORK/replayed.txt"
[ -z "$(comm -23 "$WORK/acked.txt" "$WORK/replayed.txt")" ] \
  || { echo "drill: a retry of an acknowledged case did not get its stored answer" >&2; exit 1; }
step "receiving goes on after failover (10 of 10 answered; retries get their stored answers)"
echo "drill: passed"
