#!/usr/bin/env bash
# Debian packages the test suite needs: PostgreSQL, Chromium for the admin's
# browser tests (Playwright drives Debian's build; nothing downloads a browser), and
# PgBouncer and HAProxy for the runs through PgBouncer and against the cluster.
# Skips what is already there.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The PgBouncer test pass and the cluster (scripts/pgbouncer.sh, scripts/cluster.sh).
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "Need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
