#!/usr/bin/env bash
# Throwaway PostgreSQL clusters for the tests and the failover drill: initdb in a temporary
# folder as an unprivileged user (the postgres account when this runs as root), on a free
# loopback port, password authentication (scram-sha-256) over TCP. Source it, then:
#   start_test_postgres   exports KYC_DESK_TEST_PG (a postgres:// URL without the password),
#                         KYC_DESK_DB_PASSWORD and TEST_PG_BIN, TEST_PG_DIR; the server also
#                         speaks TLS with a certificate from a test CA: KYC_DESK_TEST_PG_CA (its
#                         PEM) and KYC_DESK_TEST_PG_OTHER_CA (a CA that did not sign it)
#   stop_test_postgres    stops that cluster and removes its folder
# Lower-level helpers (the drill's): pg_new_folder, pg_init, pg_start, pg_stop, free_port.
# Needs Debian's postgresql package (scripts/setup.sh installs it).

pg_bin_dir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$d" ] || { echo "pg.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; return 1; }
  echo "$d"
}

# Runs a command as the clusters' owner.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A new folder the clusters' owner may write to.
pg_new_folder() {
  local d
  d="$(mktemp -d /tmp/kyc-pg.XXXXXX)"
  chmod 755 "$d"
  if [ "$(id -u)" = 0 ]; then chown postgres "$d"; fi
  echo "$d"
}

# pg_init DATA_DIR PASSWORD: a cluster whose superuser is kyc.
pg_init() {
  local data="$1" password="$2" pw
  pw="$(dirname "$data")/pw.$$"
  printf '%s\n' "$password" > "$pw"
  if [ "$(id -u)" = 0 ]; then chown postgres "$pw"; fi
  pg_as_owner "$TEST_PG_BIN/initdb" -D "$data" -U kyc --pwfile="$pw" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$data.initdb.log" 2>&1 \
    || { rm -f "$pw"; cat "$data.initdb.log" >&2; return 1; }
  rm -f "$pw"
}

# pg_start DATA_DIR PORT [postgres -c options...]: starts it, waiting until it accepts.
pg_start() {
  local data="$1" port="$2"
  shift 2
  pg_as_owner "$TEST_PG_BIN/pg_ctl" -D "$data" -l "$data.log" -w \
    -o "-p $port -k $(dirname "$data") -c listen_addresses=127.0.0.1 -c max_connections=300 $*" start >/dev/null \
    || { cat "$data.log" >&2; return 1; }
}

# pg_stop DATA_DIR [mode]: fast by default; "immediate" is a crash.
pg_stop() {
  pg_as_owner "$TEST_PG_BIN/pg_ctl" -D "$1" -m "${2:-fast}" -w stop >/dev/null 2>&1 || true
}

# pg_tls_files DIR: a test CA (ca.pem), another CA (other-ca.pem), and a server certificate for
# 127.0.0.1 signed by the first (server.crt, server.key, readable by the clusters' owner only).
pg_tls_files() {
  local d="$1" ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${ec[@]}" -days 3 -subj "/CN=KYC Desk test CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -x509 "${ec[@]}" -days 3 -subj "/CN=Some other CA" \
    -keyout "$d/other-ca.key" -out "$d/other-ca.pem" 2>/dev/null
  openssl req "${ec[@]}" -subj "/CN=127.0.0.1" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 3 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
  chmod 600 "$d/server.key"
  if [ "$(id -u)" = 0 ]; then chown postgres "$d/server.key" "$d/server.crt"; fi
}

start_test_postgres() {
  TEST_PG_BIN="$(pg_bin_dir)" || return 1
  TEST_PG_DIR="$(pg_new_folder)"
  local password port
  password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  pg_init "$TEST_PG_DIR/data" "$password" || return 1
  pg_tls_files "$TEST_PG_DIR" || return 1
  port="$(free_port)"
  pg_start "$TEST_PG_DIR/data" "$port" "-c ssl=on -c ssl_cert_file=$TEST_PG_DIR/server.crt -c ssl_key_file=$TEST_PG_DIR/server.key" || return 1
  export TEST_PG_BIN TEST_PG_DIR
  export KYC_DESK_TEST_PG="postgres://kyc@127.0.0.1:$port/postgres"
  export KYC_DESK_DB_PASSWORD="$password"
  export KYC_DESK_TEST_PG_CA="$TEST_PG_DIR/ca.pem" KYC_DESK_TEST_PG_OTHER_CA="$TEST_PG_DIR/other-ca.pem"
  echo "pg.sh: PostgreSQL $("$TEST_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

stop_test_postgres() {
  [ -n "${TEST_PG_DIR:-}" ] && [ -d "$TEST_PG_DIR/data" ] || return 0
  pg_stop "$TEST_PG_DIR/data"
  rm -rf "$TEST_PG_DIR"
}
