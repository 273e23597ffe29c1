#!/usr/bin/env bash
# The main job: installs what is missing, builds, then shows Firebreak deciding
# real requests with the shipped UK packs: check every pack, run their
# scenario tests, and decide the example requests under two packs that part
# ways (the strict firewall and the Migrant Victims Protocol).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh -- firebreak
fb=build/src/cli/firebreak

echo "== Checking the UK policy packs"
"$fb" check policies/uk

echo
echo "== Running every pack's scenario tests (domain.md §8.6 matrix)"
"$fb" test policies/uk

for pack in strict-firewall migrant-victims-protocol; do
  echo
  echo "== Deciding the example requests under policies/uk/$pack"
  for req in policies/uk/examples/*.json; do
    printf -- '-- %s\n' "$(basename "$req" .json)"
    "$fb" eval --policy "policies/uk/$pack" --request "$req" --explain 2>&1 >/dev/null || true
  done
done
