#!/usr/bin/env bash
# Install (if missing) and start a throwaway PostgreSQL server on loopback.
#
#   scripts/postgres.sh start DATADIR PORT   # prints the DATABASE_URL to use
#   scripts/postgres.sh stop DATADIR
#
# Used by .ci/run and bench/. Runs the server as the `postgres` system user
# (created by Debian's package) with trust auth on 127.0.0.1 only. `start` is
# idempotent: it leaves a running server running and creates the database of the
# URL it prints only when missing, so the URL always names a database that exists.
set -euo pipefail

action=${1:?usage: postgres.sh start|stop DATADIR [PORT]}
datadir=${2:?DATADIR required}
port=${3:-54329}
database=booking_status

find_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
  start)
    bindir=$(find_bindir)
    if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
      echo "Installing Debian's postgresql ..." >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq postgresql >&2
      bindir=$(find_bindir)
    fi
    mkdir -p "$datadir"
    [ "$(id -u)" = 0 ] && chown postgres: "$datadir"
    if [ ! -f "$datadir/PG_VERSION" ]; then
      as_postgres "$bindir/initdb" -D "$datadir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if as_postgres "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
      echo "PostgreSQL in $datadir is already running" >&2
    else
      as_postgres "$bindir/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $datadir -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >&2
    fi
    psql=("$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -X -q -t -A)
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" != 1 ]; then
      "${psql[@]}" -c "CREATE DATABASE $database" >&2
    fi
    echo "postgres://postgres@127.0.0.1:$port/$database"
    ;;
  stop)
    bindir=$(find_bindir)
    as_postgres "$bindir/pg_ctl" -D "$datadir" -m fast -w stop >&2 || true
    ;;
  *)
    echo "unknown action: $action" >&2
    exit 2
    ;;
esac
