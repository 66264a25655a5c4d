#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: a temp directory, the
# `postgres` user when run as root (initdb refuses root), loopback only, on a
# free port. Installs Debian's postgresql package if the server is missing.
#
#   eval "$(scripts/pg.sh start)"   # exports SHENHE_TEST_POSTGRES and SHENHE_PG_DIR
#   scripts/pg.sh stop "$SHENHE_PG_DIR"
set -euo pipefail

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

case "${1:-}" in
start)
  if [ -z "$(bindir)" ] || [ ! -x "$(bindir)/initdb" ]; then
    echo "== pg.sh: apt-get install postgresql" >&2
    [ "$(id -u)" = 0 ] || SUDO=sudo
    ${SUDO:-} apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -qq postgresql-common postgresql >/dev/null
  fi
  BIN="$(bindir)"
  dir="$(mktemp -d /tmp/shenhe-pg.XXXXXX)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  as=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  # fsync and synchronous_commit stay at their defaults (on): the durability
  # tests read them from the server that `shenhe serve` talks to.
  "${as[@]}" "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c shared_buffers=128MB" start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  echo "export SHENHE_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port/postgres SHENHE_PG_DIR=$dir"
  ;;
stop)
  dir="${2:?the cluster directory}"
  as=()
  [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: scripts/pg.sh start | stop DIR" >&2
  exit 2
  ;;
esac
