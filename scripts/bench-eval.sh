#!/usr/bin/env bash
# Throughput of `firebreak eval --requests` on N requests (default 100,000):
# the example requests of policies/uk/examples cycled with distinct ids, one
# JSON object per line. Prints wall time and decisions per second over 5 runs.
#   scripts/bench-eval.sh [N] [PACK]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
pack=${2:-policies/uk/strict-firewall}
fb=build/src/cli/firebreak
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$n" > "$tmp/requests.jsonl" <<'PY'
import glob, json, sys
n = int(sys.argv[1])
reqs = []
for f in sorted(glob.glob("policies/uk/examples/*.json")):
    r = json.load(open(f))
    if r.get("purpose") != "immigration-control":
        reqs.append(r)
for i in range(n):
    r = dict(reqs[i % len(reqs)])
    r["id"] = f"req-{i}"
    print(json.dumps(r, separators=(",", ":")))
PY
echo "requests: $n lines, $(du -h "$tmp/requests.jsonl" | cut -f1)"
for run in 1 2 3 4 5; do
  start=$(date +%s.%N)
  "$fb" eval --policy "$pack" --requests "$tmp/requests.jsonl" > "$tmp/out.jsonl"
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'run {sys.argv[4]}: {s:.3f} s, {int(sys.argv[3])/s:,.0f} decisions/s')" "$start" "$end" "$n" "$run"
done
echo "decisions written: $(wc -l < "$tmp/out.jsonl")"
