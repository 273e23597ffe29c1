#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test.
#   scripts/test.sh              # normal build
#   scripts/test.sh --sanitize   # the same tests under ASan + UBSan
#   The PostgreSQL store tests run against a throwaway server
#   (scripts/pg-local.sh) started here and exported as FIREBREAK_TEST_PG_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dir=build
[ "${1:-}" = "--sanitize" ] && dir=build-asan
bash scripts/build.sh "$@"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# A throwaway PostgreSQL server for the PostgreSQL store tests
# (scripts/pg-local.sh), stopped however this script ends. Where it cannot
# start, those tests skip, and say why.
pgdir=$(mktemp -d /tmp/firebreak-pg.XXXXXX)
trap 'bash scripts/pg-local.sh stop "$pgdir"' EXIT
if url=$(bash scripts/pg-local.sh start "$pgdir"); then
  export FIREBREAK_TEST_PG_URL="$url"
  echo "test: PostgreSQL test server at $url"
else
  export FIREBREAK_TEST_PG_URL="unavailable: scripts/pg-local.sh could not start a server (see above)"
  echo "test: ******** WARNING: no PostgreSQL server; the PostgreSQL store tests will SKIP ********" >&2
fi
ctest --test-dir "$dir" --output-on-failure -j2 --timeout 600
