#!/usr/bin/env bash
# Installs every Debian package Firebreak needs to build, test and run on a
# fresh Debian bookworm machine. Safe to run again: it installs only what is
# missing and runs `apt-get update` once, only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev openssl libsqlite3-dev libpq-dev libz3-dev
  libcli11-dev libfmt-dev libexpected-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  curl wrk
  python3 python3-cryptography  # the witness's independent cosignature check (witness_interop_test)
  chromium  # the web console's browser tests (web/console/test, headless)
)
# `--bench`: also what the benchmark scripts use (a peer web server to measure
# the machine's HTTPS limit, Python for their statistics, pgrep for nginx's
# workers).
if [ "${1:-}" = "--bench" ]; then
  packages+=(nginx-light python3 procps)
fi
# `--fuzz`: clang and its sanitizer and libFuzzer runtimes (scripts/fuzz.sh).
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The web console (web/console, docs/console.md): its npm packages exactly as
# the lockfile pins them, then the build into web/console/dist, which the
# gateway serves under /console/. It needs the machine's Node.js (>= 20.19,
# for Vite 7); without it the console is not built, /console/ answers 404
# and its tests skip, saying why.
cd "$(dirname "$0")/../web/console"
if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "setup: ******** no Node.js >= 20.19: the web console is not built ********" >&2
  exit 0
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build
