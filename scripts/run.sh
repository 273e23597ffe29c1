#!/usr/bin/env bash
# The main job: installs what is missing, builds, checks the UK policy packs,
# creates a synthetic police force (100,000 made-up subjects, a local CA with
# client certificates and tokens, a decision log, the strict-firewall pack)
# in ./demo the first time, and serves the gateway on https://127.0.0.1:8443
# in the foreground. The demo prints ready `curl` commands to try.
#   scripts/run.sh [DEMO_DIR]        # Ctrl-C stops the gateway
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh -- firebreak
fb=build/src/cli/firebreak
dir=${1:-demo}

echo "== Checking the UK policy packs"
"$fb" check policies/uk

if [ ! -f "$dir/firebreak.json" ]; then
  echo
  echo "== Creating the demo force in $dir"
  walk=$(mktemp)
  "$fb" demo --dir "$dir" | tee "$walk"
  mv "$walk" "$dir/walkthrough.txt"
else
  echo
  echo "== Using the demo force in $dir (delete it to start afresh)"
  if [ -f "$dir/walkthrough.txt" ]; then cat "$dir/walkthrough.txt"; fi
fi

echo
echo "== Serving the gateway (Ctrl-C to stop)"
exec "$fb" serve --config "$dir/firebreak.json"
