#!/usr/bin/env bash
# Configures and builds Firebreak with CMake + Ninja.
#   scripts/build.sh                 # build/ (RelWithDebInfo)
#   scripts/build.sh --sanitize      # build-asan/ with ASan + UBSan
#   FIREBREAK_WERROR=ON scripts/build.sh   # warnings are errors (CI sets this)
# Extra arguments after `--` are passed to ninja (targets).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build
flags=()
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  flags+=(-DFIREBREAK_SANITIZE=ON -DFIREBREAK_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=Debug)
  shift
fi
[ "${1:-}" = "--" ] && shift
flags+=(-DFIREBREAK_WERROR="${FIREBREAK_WERROR:-OFF}")

# Two cores are shared: never run two builds at once on this machine.
exec 9>/tmp/firebreak-build.lock
flock 9
cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
ninja -C "$dir" "$@"
