#!/usr/bin/env bash
# Failover drill (issue 18): KYC Desk on a PostgreSQL primary with a synchronous streaming
# replica (pg_basebackup), Ditto ID's submissions arriving, the primary crashed mid-load
# (`pg_ctl stop -m immediate`), the replica promoted, the desk pointed at it. Checks that every
# case KYC Desk acknowledged is on the promoted server, that the audit trail is whole, and that
# receiving goes on. Then a second failover that the desk's host survives: with both servers in
# its URL (target_session_attrs=read-write) the same process goes on receiving on the promoted
# one, once its health check says its database answers. Usage: scripts/failover-drill.sh [path/to/kyc-desk] (default: the debug build).
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
  [ -d "${STANDBY2:-}" ] && pg_stop "$STANDBY2" immediate
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
# A synchronous standby of the primary on port $1: folder $2 (pg_basebackup), on port $3, named $4.
# From then on a commit on the primary returns once the standby has it.
sync_standby() {
  pg_as_owner env PGPASSWORD="$PASSWORD" "$TEST_PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$1" -U kyc \
    -D "$2" -R -X stream -c fast >/dev/null
  pg_start "$2" "$3" "-c cluster_name=$4"
  sql "$1" postgres "ALTER SYSTEM SET synchronous_standby_names = '$4'" >/dev/null
  sql "$1" postgres "SELECT pg_reload_conf()" >/dev/null
  local state=""
  for _ in $(seq 100); do
    state="$(sql "$1" postgres "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$4'")"
    [ "$state" = sync ] && return 0
    sleep 0.1
  done
  echo "drill: the standby $4 never became synchronous ($state)" >&2
  exit 1
}
step "standby on :$P2 from pg_basebackup, streaming"
sync_standby "$P1" "$STANDBY" "$P2" standby1

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

# Starts 100 posts (seed $1) in the background (SIM), their results in $2; returns once 30 of
# them are answered (or after 30 s).
load_until_30_answered() {
  : > "$2"
  simulate "$1" 100 > "$2" &
  SIM=$!
  for _ in $(seq 300); do
    [ "$(grep -c 'HTTP 200' "$2" || true)" -ge 30 ] && break
    sleep 0.1
  done
}

config "$P1"
serve
step "receiving on the primary; it crashes mid-load"
load_until_30_answered 11 "$WORK/before.txt"
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

# The second failover: the desk's host stays up. With both servers in its URL and
# target_session_attrs=read-write, the same process finds the promoted server by itself.
STANDBY2="$WORK/standby2" P3="$(free_port)"
step "a new synchronous standby on :$P3 from the promoted server"
sync_standby "$P2" "$STANDBY2" "$P3" standby2
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
sed -i "s|^url = .*|url = \"postgres://kyc@127.0.0.1:$P2,127.0.0.1:$P3/kycdesk?target_session_attrs=read-write\"|" "$DESK/kyc-desk.toml"
serve
KEPT_PID="$SERVE_PID"
step "receiving on :$P2 through a two-server URL; it crashes mid-load, :$P3 is promoted, the desk runs on"
load_until_30_answered 13 "$WORK/before2.txt"
AT_CRASH="$(grep -c 'HTTP 200' "$WORK/before2.txt" || true)"
pg_stop "$STANDBY" immediate
[ "$AT_CRASH" -lt 100 ] || { echo "drill: the second crash came after the load ended" >&2; exit 1; }
pg_as_owner "$TEST_PG_BIN/pg_ctl" -D "$STANDBY2" -w promote >/dev/null
wait "$SIM" || true
grep -o 'HTTP 200 .*reference_number=[^ ]*' "$WORK/before2.txt" | sed 's/.*reference_number=//' | sort -u > "$WORK/acked2.txt"
ACKED2="$(wc -l < "$WORK/acked2.txt")"
[ "$ACKED2" -ge 30 ] || { echo "drill: only $ACKED2 answers before the second crash" >&2; exit 1; }
sql "$P3" kycdesk "SELECT reference FROM cases" | sort -u > "$WORK/stored2.txt"
MISSING="$(comm -23 "$WORK/acked2.txt" "$WORK/stored2.txt" | wc -l)"
[ "$MISSING" = 0 ] || { echo "drill: $MISSING acknowledged cases are missing after the second failover" >&2; exit 1; }
step "all $ACKED2 acknowledged cases ($AT_CRASH before the crash) are on the server promoted second"
# The load balancer's check says when the instance serves again: its database answers.
HEALTHY=""
for _ in $(seq 150); do
  [ "$(curl -sk -o /dev/null -w '%{http_code}' "https://$RECEIVER/healthz")" = 200 ] && { HEALTHY=1; break; }
  sleep 0.2
done
[ -n "$HEALTHY" ] || { echo "drill: the desk's health check never passed after the second failover" >&2; cat "$DESK/serve.log" >&2; exit 1; }
simulate 14 10 > "$WORK/after2.txt"
AFTER="$(grep -c 'HTTP 200' "$WORK/after2.txt" || true)"
[ "$AFTER" = 10 ] || { echo "drill: $AFTER of 10 answered after the second failover" >&2; cat "$WORK/after2.txt" "$DESK/serve.log" >&2; exit 1; }
kill -0 "$KEPT_PID" || { echo "drill: the desk did not run on" >&2; exit 1; }
step "the same desk process receives on the promoted server (10 of 10 answered, no restart)"
echo "drill: passed"
