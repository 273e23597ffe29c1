#!/usr/bin/env bash
# ctest's console_test: the console's tests with node:test. Exits 77 (ctest
# counts it as skipped) with the reason when Node.js, the npm packages or
# the built console are missing, or, after the other tests pass, when
# Debian's Chromium is (the browser tests need it).
set -uo pipefail
cd "$(dirname "$0")/.."
skip() { echo "SKIPPED: $*"; exit 77; }
command -v node >/dev/null || skip "no Node.js on this machine"
[ -d node_modules/playwright-core ] || skip "web/console/node_modules is absent: run scripts/setup.sh (npm ci)"
[ -f dist/index.html ] || skip "the console is not built: run scripts/setup.sh (npm run build)"
node --test --test-concurrency=1 test/*.test.mjs || exit 1
[ -x /usr/lib/chromium/chromium ] || [ -x /usr/bin/chromium ] ||
  skip "Debian chromium is not installed (apt-get install chromium; scripts/setup.sh does): the browser tests did not run"
