#!/usr/bin/env bash
# Starts PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 if they do not answer (the project's machines
# have them installed; a fresh Debian/Ubuntu machine gets them from apt). The store tests use database "test",
# user postgres; tests that stop or restart Redis start private instances on free ports instead.
set -euo pipefail
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v pg_isready >/dev/null 2>&1; then
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  sudo_ pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432
# trust auth for local TCP on a fresh install would need pg_hba changes; the project's machines have it.
if ! psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
  sudo_ runuser -u postgres -- psql -Atc "create database test" >/dev/null 2>&1 || true
  psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null \
    || { echo "services: cannot connect to postgresql://postgres@127.0.0.1:5432/test (trust auth expected)" >&2; exit 1; }
fi
if ! command -v redis-server >/dev/null 2>&1; then
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /tmp/cctv-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /tmp/cctv-redis \
    --logfile /tmp/cctv-redis/redis.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping
