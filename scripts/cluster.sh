#!/usr/bin/env bash
# The production topology on one machine, loopback only (SPEC §12):
#
#   HAProxy :BASE+5 ──┬─ gunicorn app server 1 :BASE+3 ─┐
#   (health: /readyz) └─ gunicorn app server 2 :BASE+4 ─┼─ PgBouncer :BASE+2 ─ primary :BASE
#   2 webhook workers (deliver_webhooks) ─────────────────┘  (transaction mode)     │ streaming
#   reports (DATABASE_REPLICA_URL) ───────────────────────── standby :BASE+1 ◄──────┘
#
#   scripts/cluster.sh start DIR [BASE_PORT]   # prints the URLs and the environment
#   scripts/cluster.sh status DIR
#   scripts/cluster.sh app DIR N               # (re)start app server N (1 or 2)
#   scripts/cluster.sh stop DIR
#
# Migrations and the workers' LISTEN go straight to the primary (DATABASE_DIRECT_URL);
# everything else passes PgBouncer. Everything lives under DIR (data, logs, pid files,
# and cluster.env, which `status` and `stop` read). `start` on a running cluster is
# refused; `stop` stops whatever of it runs. Needs Debian's postgresql, pgbouncer and
# haproxy (scripts/install-os-packages.sh) and the project's .venv.
set -euo pipefail

action=${1:?usage: cluster.sh start DIR [BASE_PORT] | status DIR | app DIR N | stop DIR}
dir=$(realpath -m "${2:?DIR required}")
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
gunicorn=$(dirname "$python")/gunicorn

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  for _ in $(seq 100); do port_open "$1" && return 0; sleep 0.2; done
  echo "nothing answers on 127.0.0.1:$1 ($2)" >&2
  return 1
}

stop_pid_file() {
  local pid_file=$1 pid
  [ -f "$pid_file" ] || return 0
  pid=$(cat "$pid_file")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pid_file"
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  local base=${1:-56400}
  if [ -f "$dir/cluster.env" ]; then
    echo "a cluster is set up in $dir: stop it first" >&2
    exit 1
  fi
  mkdir -p "$dir"
  chmod 755 "$dir"
  local primary=$base standby=$((base + 1)) bouncer=$((base + 2))
  local app1=$((base + 3)) app2=$((base + 4)) balancer=$((base + 5))
  for port in "$primary" "$standby" "$bouncer" "$app1" "$app2" "$balancer"; do
    if port_open "$port"; then echo "port $port is taken" >&2; exit 1; fi
  done

  scripts/postgres.sh start "$dir/primary" "$primary" >/dev/null
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  # The standby is cloned afresh at every start (a stopped cluster's primary is reused).
  rm -rf "${dir:?}/standby"
  mkdir -p "$dir/standby"
  chmod 700 "$dir/standby"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir/standby"
  # -R writes standby.signal and primary_conninfo: the copy follows the primary.
  as_postgres "$bindir/pg_basebackup" -h 127.0.0.1 -p "$primary" -U postgres \
    -D "$dir/standby" -R -X stream -c fast
  scripts/postgres.sh start "$dir/standby" "$standby" >/dev/null
  scripts/pgbouncer.sh start "$dir/pgbouncer" "$bouncer" "$primary" >/dev/null

  cat >"$dir/cluster.env" <<ENV
DATABASE_URL=postgres://postgres@127.0.0.1:$bouncer/booking_status
DATABASE_DIRECT_URL=postgres://postgres@127.0.0.1:$primary/booking_status
DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:$standby/booking_status
DISABLE_SERVER_SIDE_CURSORS=1
DB_PREPARE_THRESHOLD=
DB_POOL_MAX_SIZE=4
API_NUM_PROXIES=1
WEBHOOK_ALLOW_HTTP=1
WEBHOOK_ALLOW_PRIVATE_HOSTS=1
WEBHOOK_RETRY_SCHEDULE=1,1,1
CLUSTER_URL=http://127.0.0.1:$balancer
CLUSTER_APP_URLS=http://127.0.0.1:$app1,http://127.0.0.1:$app2
CLUSTER_PRIMARY_URL=postgres://postgres@127.0.0.1:$primary/booking_status
CLUSTER_STANDBY_URL=postgres://postgres@127.0.0.1:$standby/booking_status
CLUSTER_DIR=$dir
ENV
  set -a
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
  set +a

  "$python" manage.py migrate --no-input -v 0

  start_app 1
  start_app 2
  for number in 1 2; do
    nohup "$python" manage.py deliver_webhooks >"$dir/worker$number.log" 2>&1 &
    echo $! >"$dir/worker$number.pid"
  done

  cat >"$dir/haproxy.cfg" <<CFG
global
  maxconn 512

defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  option forwardfor
  # A request whose app server refuses or drops the connection before answering (it is
  # stopping) goes to the other one.
  option redispatch
  retries 3
  retry-on conn-failure empty-response
  option http-buffer-request

frontend api
  bind 127.0.0.1:$balancer
  default_backend app_servers

backend app_servers
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 500ms fall 2 rise 2
  server app1 127.0.0.1:$app1 check
  server app2 127.0.0.1:$app2 check
CFG
  haproxy -f "$dir/haproxy.cfg" -D -p "$dir/haproxy.pid"

  wait_for_port "$balancer" "HAProxy"
  for url in "$CLUSTER_URL" ${CLUSTER_APP_URLS//,/ }; do
    for _ in $(seq 100); do
      "$python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/readyz', timeout=2)" "$url" 2>/dev/null && break
      sleep 0.2
    done
  done
  status
}

# App server N (1 or 2) under gunicorn, on its port: also how to bring one back, or
# restart it with new code, while the other serves.
start_app() {
  local number=$1 port
  load_env
  port=$(echo "$CLUSTER_APP_URLS" | cut -d, -f"$number" | sed 's/.*://')
  stop_pid_file "$dir/app$number.pid"
  local config=()
  [ -f config/gunicorn.py ] && config=(-c config/gunicorn.py)
  mkdir -p "$dir/app$number"
  rm -rf "${dir:?}/app$number"/*
  PROMETHEUS_MULTIPROC_DIR="$dir/app$number" "$gunicorn" "${config[@]}" config.wsgi \
    --bind "127.0.0.1:$port" --workers 2 --daemon --pid "$dir/app$number.pid" \
    --error-logfile "$dir/app$number.log" --graceful-timeout 10
  wait_for_port "$port" "app server $number"
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

load_env() {
  if [ ! -f "$dir/cluster.env" ]; then
    echo "no cluster in $dir" >&2
    return 1
  fi
  set -a
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
  set +a
}

status() {
  load_env
  echo "load balancer: $CLUSTER_URL"
  echo "app servers:   ${CLUSTER_APP_URLS//,/ }"
  echo "PgBouncer:     $DATABASE_URL"
  echo "primary:       $CLUSTER_PRIMARY_URL"
  echo "standby:       $CLUSTER_STANDBY_URL"
  echo "environment:   $dir/cluster.env"
  local failed=0
  for process in app1 app2 worker1 worker2 haproxy pgbouncer/pgbouncer; do
    if running "$dir/$process.pid"; then
      echo "  ${process%%/*}: running"
    else
      echo "  ${process%%/*}: NOT running"
      failed=1
    fi
  done
  for server in primary standby; do
    if [ -f "$dir/$server/postmaster.pid" ]; then
      echo "  $server: running"
    else
      echo "  $server: NOT running"
      failed=1
    fi
  done
  return $failed
}

stop() {
  for process in haproxy app1 app2 worker1 worker2; do
    stop_pid_file "$dir/$process.pid"
  done
  scripts/pgbouncer.sh stop "$dir/pgbouncer" 2>/dev/null || true
  for server in standby primary; do
    [ -d "$dir/$server" ] && scripts/postgres.sh stop "$dir/$server" 2>/dev/null
  done
  rm -f "$dir/cluster.env"
}

case "$action" in
  start) start "${3:-}" ;;
  status) status ;;
  app) start_app "${3:?N (1 or 2) required}" ;;
  stop) stop ;;
  *)
    echo "unknown action: $action" >&2
    exit 2
    ;;
esac
