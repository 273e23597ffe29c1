#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test.
#   scripts/test.sh              # normal build
#   scripts/test.sh --sanitize   # the same tests under ASan + UBSan
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dir=build
[ "${1:-}" = "--sanitize" ] && dir=build-asan
bash scripts/build.sh "$@"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$dir" --output-on-failure -j2 --timeout 600
