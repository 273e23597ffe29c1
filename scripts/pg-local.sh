#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and demos, in a directory of its
# own: initdb + pg_ctl, listening on a Unix socket in that directory only (no
# TCP), trust authentication for the one role `firebreak`. Any system
# cluster is left alone. As root, the server runs as the unprivileged user
# `nobody` (PostgreSQL refuses to run as root).
#   scripts/pg-local.sh start DIR   # creates DIR, the cluster, database `firebreak`; prints the URL
#   scripts/pg-local.sh url DIR     # prints the URL: postgresql://firebreak@/firebreak?host=DIR
#   scripts/pg-local.sh stop DIR    # stops the server and removes DIR
#   scripts/pg-local.sh halt DIR    # stops the server, keeping DIR (tests: the database goes away)
#   scripts/pg-local.sh resume DIR  # starts a halted server again
set -euo pipefail

usage() { echo "usage: $0 start|stop|halt|resume|url DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

url() { echo "postgresql://firebreak@/firebreak?host=$dir"; }

bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then bindir=$d; break; fi
done

# Runs a PostgreSQL program as the server's user.
as_server() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u nobody -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  url)
    url
    ;;
  start)
    [ -n "$bindir" ] || { echo "pg-local: no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2; exit 1; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    chmod 0700 "$dir"
    [ "$(id -u)" -eq 0 ] && chown nobody: "$dir"
    as_server "$bindir/initdb" -D "$dir/data" -U firebreak --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # Socket only, in DIR; a throwaway cluster needs no fsync.
    as_server "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    as_server "$bindir/createdb" -h "$dir" -U firebreak firebreak
    url
    ;;
  halt)
    as_server "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  resume)
    as_server "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    ;;
  stop)
    if [ -n "$bindir" ] && [ -f "$dir/data/postmaster.pid" ]; then
      as_server "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *)
    usage
    ;;
esac
