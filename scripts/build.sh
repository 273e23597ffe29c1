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
# ccache, where installed, lets several work trees of the project share
# compiled objects (paths relative to the parent directory).
if command -v ccache >/dev/null; then
  flags+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$(cd .. && pwd)" CCACHE_NOHASHDIR=1
fi

# Two cores are shared: never run two builds at once on this machine.
exec 9>/tmp/firebreak-build.lock
flock 9
cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
ninja -C "$dir" "$@"
