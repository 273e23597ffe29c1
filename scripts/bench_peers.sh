#!/usr/bin/env bash
# Peers (issue 9): the same wire-form requests decided by firebreak, by Cedar
# (@cedar-policy/cedar-wasm) and by casbin, from hand translations of the
# strict-firewall and migrant-victims-protocol packs in bench/peers/. Every
# decision is compared; throughput and latency are measured in the same run.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/bench_peers.sh [OPTIONS]

Generates N wire-form requests (bench/peers/gen.mjs, seeded), decides them
with `firebreak eval --requests`, with Cedar and with casbin (in Node, from the
translations in bench/peers/cedar and bench/peers/casbin), compares every
decision (permit/deny and disclosed categories; for Cedar also the rules and
obligations) and prints a markdown table of decisions/s and per-decision
latency, medians over the runs, the engines alternating within each run.

Options:
  -n N           number of requests (default 100000)
  --seed S       generator seed (default 9)
  --runs R       timed runs of each engine per pack (default 3)
  --pack NAME    only this pack (strict-firewall or migrant-victims-protocol;
                 repeatable; default both)
  --check        also ask a peer for every category of a request it denied
                 and count any it would disclose (an extra, untimed pass)
  --keep DIR     keep requests, decisions and timings in DIR
  -h, --help     this help

FIREBREAK_BIN names another firebreak binary (ctest gives its own build's).
Needs node and npm (installs bench/peers/node_modules with `npm ci` from the
committed lockfile when it is missing) and a built build/src/cli/firebreak.
Run it on an otherwise idle machine, under the build lock:
  flock /tmp/firebreak-build.lock scripts/bench_peers.sh
Exit 0: no disagreement; 1: some decision differs; 2: usage or setup errors.
EOF
}

n=100000
seed=9
runs=3
packs=()
check=0
keep=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    -n) n=${2:?}; shift 2 ;;
    --seed) seed=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --pack) packs+=("${2:?}"); shift 2 ;;
    --check) check=1; shift ;;
    --keep) keep=${2:?}; shift 2 ;;
    *) echo "bench_peers.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ ${#packs[@]} -gt 0 ]] || packs=(strict-firewall migrant-victims-protocol)

cd "$(dirname "$0")/.."
root=$PWD
peers=$root/bench/peers
fb=${FIREBREAK_BIN:-$root/build/src/cli/firebreak}

command -v node >/dev/null || { echo "bench_peers.sh: node is not installed" >&2; exit 2; }
# The binary may be in the middle of a rebuild: wait a little for it.
for _ in $(seq 60); do [[ -x $fb ]] && break; sleep 2; done
[[ -x $fb ]] || { echo "bench_peers.sh: $fb not found; build it with scripts/build.sh" >&2; exit 2; }
if [[ ! -d $peers/node_modules/@cedar-policy/cedar-wasm || ! -d $peers/node_modules/casbin ]]; then
  echo "installing bench/peers/node_modules (npm ci)" >&2
  (cd "$peers" && npm ci --no-audit --no-fund >&2)
fi

if [[ -n $keep ]]; then
  mkdir -p "$keep"
  tmp=$(cd "$keep" && pwd)
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
fi

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "node $(node --version), $(node "$peers/peers.mjs" --versions)"
node "$peers/gen.mjs" --n "$n" --seed "$seed" > "$tmp/requests.jsonl"
echo "requests: $n (seed $seed), $(du -h "$tmp/requests.jsonl" | cut -f1)"
echo

: > "$tmp/runs.jsonl"
status=0
for pack in "${packs[@]}"; do
  [[ -d $root/policies/uk/$pack ]] || { echo "bench_peers.sh: no pack policies/uk/$pack" >&2; exit 2; }
  for run in $(seq "$runs"); do
    a=$(now)
    if ! "$fb" eval --policy "$root/policies/uk/$pack" --requests "$tmp/requests.jsonl" \
        > "$tmp/firebreak-$pack-$run.jsonl" 2> "$tmp/err"; then
      echo "bench_peers.sh: firebreak eval failed:" >&2; head -c 2000 "$tmp/err" >&2; exit 2
    fi
    b=$(now)
    printf '{"pack":"%s","engine":"firebreak","run":%d,"n":%d,"wall_s":%s}\n' "$pack" "$run" "$n" "$(elapsed "$a" "$b")" >> "$tmp/runs.jsonl"
    for engine in cedar casbin; do
      a=$(now)
      if ! node "$peers/peers.mjs" --engine "$engine" --pack "$pack" --requests "$tmp/requests.jsonl" \
          --out "$tmp/$engine-$pack-$run.jsonl" --stats "$tmp/$engine-$pack-$run.stats" 2> "$tmp/err"; then
        echo "bench_peers.sh: $engine failed:" >&2; head -c 2000 "$tmp/err" >&2; exit 2
      fi
      b=$(now)
      printf '{"pack":"%s","engine":"%s","run":%d,"n":%d,"wall_s":%s,"stats":%s}\n' "$pack" "$engine" "$run" "$n" \
        "$(elapsed "$a" "$b")" "$(cat "$tmp/$engine-$pack-$run.stats")" >> "$tmp/runs.jsonl"
    done
    # Every run's decisions are compared; the first run's summary is printed,
    # and a later run's too if it finds anything.
    rc=0
    node "$peers/compare.mjs" --requests "$tmp/requests.jsonl" --firebreak "$tmp/firebreak-$pack-$run.jsonl" \
      --cedar "$tmp/cedar-$pack-$run.jsonl" --casbin "$tmp/casbin-$pack-$run.jsonl" > "$tmp/compare-$pack-$run.txt" || rc=$?
    if [[ $rc -eq 2 ]]; then cat "$tmp/compare-$pack-$run.txt"; exit 2; fi
    if [[ $run -eq 1 ]]; then
      echo "## $pack (run 1)"
      cat "$tmp/compare-$pack-$run.txt"
    elif [[ $rc -ne 0 ]]; then
      echo "## $pack (run $run)"
      cat "$tmp/compare-$pack-$run.txt"
    fi
    [[ $rc -eq 0 ]] || status=1
  done
  echo "$pack: the decisions of all $runs runs compared"
  if [[ $check -eq 1 ]]; then
    for engine in cedar casbin; do
      node "$peers/peers.mjs" --engine "$engine" --pack "$pack" --requests "$tmp/requests.jsonl" \
        --out "$tmp/$engine-$pack-check.jsonl" --check 2> /dev/null || status=1
    done
  fi
  echo
done

node "$peers/report.mjs" "$tmp/runs.jsonl"
exit $status
