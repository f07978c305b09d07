#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: initdb in a temporary folder as an unprivileged
# user (the postgres account when this runs as root), on a free loopback port, password
# authentication (scram-sha-256) for TCP. Source it, then:
#   start_test_postgres   exports KYC_DESK_TEST_PG (a postgres:// URL without the password),
#                         KYC_DESK_DB_PASSWORD and TEST_PG_BIN, TEST_PG_DIR
#   stop_test_postgres    stops the cluster and removes its folder
# Needs Debian's postgresql package (scripts/setup.sh installs it).

pg_bin_dir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$d" ] || { echo "pg.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; return 1; }
  echo "$d"
}

# Runs a command as the cluster's owner.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_test_postgres() {
  TEST_PG_BIN="$(pg_bin_dir)" || return 1
  TEST_PG_DIR="$(mktemp -d /tmp/kyc-pg.XXXXXX)"
  chmod 755 "$TEST_PG_DIR"
  if [ "$(id -u)" = 0 ]; then chown postgres "$TEST_PG_DIR"; fi
  local password port
  password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  printf '%s\n' "$password" > "$TEST_PG_DIR/pw"
  if [ "$(id -u)" = 0 ]; then chown postgres "$TEST_PG_DIR/pw"; fi
  pg_as_owner "$TEST_PG_BIN/initdb" -D "$TEST_PG_DIR/data" -U kyc --pwfile="$TEST_PG_DIR/pw" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$TEST_PG_DIR/initdb.log" 2>&1 \
    || { cat "$TEST_PG_DIR/initdb.log" >&2; return 1; }
  rm -f "$TEST_PG_DIR/pw"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  pg_as_owner "$TEST_PG_BIN/pg_ctl" -D "$TEST_PG_DIR/data" -l "$TEST_PG_DIR/server.log" -w \
    -o "-p $port -k $TEST_PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null \
    || { cat "$TEST_PG_DIR/server.log" >&2; return 1; }
  export TEST_PG_BIN TEST_PG_DIR
  export KYC_DESK_TEST_PG="postgres://kyc@127.0.0.1:$port/postgres"
  export KYC_DESK_DB_PASSWORD="$password"
  echo "pg.sh: PostgreSQL $("$TEST_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

stop_test_postgres() {
  [ -n "${TEST_PG_DIR:-}" ] && [ -d "$TEST_PG_DIR/data" ] || return 0
  pg_as_owner "$TEST_PG_BIN/pg_ctl" -D "$TEST_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$TEST_PG_DIR"
}
