# shellcheck shell=bash
# deploy/lib/cluster.sh — throwaway PostgreSQL 15 clusters for the demo and the workload check.
# Sourced, not run. Owns nothing by itself: every function works on a directory the caller
# created and is responsible for removing.
#
# A cluster lives in one directory DIR: DIR/data (the data directory), DIR/server.log, and the
# Unix socket in DIR itself. It listens on 127.0.0.1 only, on a port nothing else uses, with
# trust authentication for the superuser `postgres`. PostgreSQL refuses to run as root, so when
# we are root the server runs as the `postgres` user (the Debian package creates it); otherwise
# it runs as whoever we are.

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

# Runs a command as the user that owns the clusters.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints a TCP port in 20000..59999 that nothing listens on right now.
pick_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    if ! port_in_use "$port"; then
      echo "$port"
      return 0
    fi
  done
  echo "no free TCP port found on 127.0.0.1" >&2
  return 1
}

# cluster_init DIR LOGICAL(0|1): initdb in DIR/data and write the settings we need.
# DIR must exist; it is handed to the server's user.
cluster_init() {
  local dir=$1 logical=$2 out
  if [[ $(id -u) -eq 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
      echo "there is no 'postgres' user: install postgresql-15 (deploy/install-deps.sh)" >&2
      return 1
    fi
    chown postgres: "$dir"
  fi
  chmod 755 "$dir"
  if ! out=$(as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync \
    -E UTF8 --locale=C.UTF-8 2>&1); then
    echo "initdb failed in $dir/data:" >&2
    echo "$out" >&2
    return 1
  fi
  # Written through the server's user so the file keeps its owner.
  as_pg tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF

# --- pgmorph throwaway cluster ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 50
shared_buffers = 128MB
log_min_messages = warning
EOF
  if [[ $logical == 1 ]]; then
    as_pg tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
EOF
    # PostgreSQL 15.19+ only lets slots use the output plugins listed here; older minor
    # versions do not know the setting and would refuse to start with it.
    # (grep without -q: it must read everything, or postgres dies of SIGPIPE and pipefail
    # turns a match into a failure.)
    if "$PGBIN/postgres" --describe-config 2>/dev/null | grep '^output_plugin_libraries' >/dev/null; then
      echo "output_plugin_libraries = 'pgoutput, test_decoding, wal2json'" |
        as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
    fi
  fi
}

# cluster_start DIR: starts the server on a free port and prints the port. A port can be taken
# between the check and the bind, so a failed start is retried on another port.
cluster_start() {
  local dir=$1 port
  for _ in 1 2 3 4 5; do
    port=$(pick_port) || return 1
    # The last `port` line of postgresql.conf wins, so retries just append.
    echo "port = $port" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
    if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
      echo "$port"
      return 0
    fi
    if ! grep -q 'could not bind\|Address already in use' "$dir/server.log" 2>/dev/null; then
      break
    fi
  done
  echo "PostgreSQL did not start in $dir/data; its log ($dir/server.log) ends with:" >&2
  tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
  return 1
}

# True when the server of DIR is running.
cluster_running() {
  as_pg "$PGBIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1
}

# cluster_stop DIR [MODE]: stops the server if it runs (MODE fast by default).
cluster_stop() {
  local dir=$1 mode=${2:-fast}
  [[ -d $dir/data ]] || return 0
  if cluster_running "$dir"; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1 ||
      as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
  fi
}

# conninfo PORT DBNAME: libpq conninfo of a database of a throwaway cluster.
conninfo() {
  echo "host=127.0.0.1 port=$1 user=postgres dbname=$2"
}

# psql_run CONNINFO ARGS...: psql that stops at the first error and ignores ~/.psqlrc.
psql_run() {
  local conn=$1
  shift
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$conn" "$@"
}

# psql_value CONNINFO SQL: the first column of the first row, unaligned.
psql_value() {
  "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}
