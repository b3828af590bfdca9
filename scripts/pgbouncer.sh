#!/usr/bin/env bash
# Start Debian's PgBouncer on loopback, in transaction pooling mode, in front of a
# PostgreSQL server on loopback.
#
#   scripts/pgbouncer.sh start DIR PORT SERVER_PORT   # prints the URL that reaches
#                                                     # the booking_status database
#   scripts/pgbouncer.sh stop DIR
#
# Every database of the server is reachable through it (the `*` entry), so the test
# runner can create and use its test_ database. Clients are trusted on loopback, as
# the server trusts them (scripts/postgres.sh). Runs as the `postgres` system user when
# started as root: PgBouncer refuses to run as root.
set -euo pipefail

action=${1:?usage: pgbouncer.sh start DIR PORT SERVER_PORT | stop DIR}
dir=${2:?DIR required}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
  start)
    port=${3:?PORT required}
    server_port=${4:?SERVER_PORT required}
    mkdir -p "$dir"
    cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$server_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
; While the server is down, a query waits this long for a server connection and then
; fails (the app answers 503) rather than PgBouncer's default, longer than gunicorn's
; worker timeout; and a failed login to the server is tried again a second later, not
; fifteen, so that requests are served again soon after the server is back.
query_wait_timeout = 3
server_login_retry = 1
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
    echo '"postgres" ""' >"$dir/userlist.txt"
    [ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
    if [ -f "$dir/pgbouncer.pid" ] && kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null; then
      echo "PgBouncer in $dir is already running" >&2
    elif (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "PgBouncer does not listen on 127.0.0.1:$port: the port is taken" >&2
      exit 1
    else
      rm -f "$dir/pgbouncer.log"
      as_postgres pgbouncer -d -q "$dir/pgbouncer.ini"
    fi
    for _ in $(seq 50); do
      grep -q "cannot listen on 127.0.0.1:$port" "$dir/pgbouncer.log" 2>/dev/null && break
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      sleep 0.1
    done
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null \
      || grep -q "cannot listen on 127.0.0.1:$port" "$dir/pgbouncer.log"; then
      echo "PgBouncer does not listen on 127.0.0.1:$port (see $dir/pgbouncer.log)" >&2
      "$0" stop "$dir"
      exit 1
    fi
    echo "postgres://postgres@127.0.0.1:$port/booking_status"
    ;;
  stop)
    if [ -f "$dir/pgbouncer.pid" ]; then
      pid=$(cat "$dir/pgbouncer.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    ;;
  *)
    echo "unknown action: $action" >&2
    exit 2
    ;;
esac
