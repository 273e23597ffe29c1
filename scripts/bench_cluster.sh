#!/usr/bin/env bash
# Disclosures/s of 1, 2 and 3 gateway nodes sharing one PostgreSQL server
# (store and log), and of the SQLite single node beside them
# (docs/benchmarks.md, "Several nodes"). Everything runs on this machine:
# the nodes, PostgreSQL (a throwaway server, scripts/pg-local.sh) and wrk.
#
#   scripts/bench_cluster.sh [--seconds N] [--rounds N] [--subjects N] [--term MS] [--no-build]
#
# Per configuration and round: one wrk per node (2 threads, 64 connections
# shared out), all at once, over HTTPS keep-alive, posting a permitted
# disclosure with a bearer token; prints the summed requests/s and the worst
# node's p50/p99, then the medians over the rounds. Run it under the build
# lock on an otherwise idle machine:
#   flock /tmp/firebreak-build.lock scripts/bench_cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."

secs=5
rounds=3
subjects=10000
term=3000
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) secs="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --subjects) subjects="$2"; shift 2 ;;
    --term) term="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n 2,14p "$0"; exit 0 ;;
    *) echo "bench_cluster: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "bench_cluster: wrk is missing (scripts/setup.sh --bench)" >&2; exit 1; }
[ "$build" = 1 ] && bash scripts/build.sh -- firebreak >/dev/null
bin=build/src/cli/firebreak
dir=$(mktemp -d /tmp/fb-cluster-bench.XXXXXX)
pgdir=$(mktemp -d /tmp/fb-cluster-pg.XXXXXX)  # its own: the server's user must reach it
pids=()
stop_nodes() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_nodes
  bash scripts/pg-local.sh stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

url=$(bash scripts/pg-local.sh start "$pgdir")
"$bin" demo --dir "$dir/pgforce" --store "$url" --subjects "$subjects" --listen 127.0.0.1:0 >/dev/null
"$bin" demo --dir "$dir/sqlite" --subjects "$subjects" --listen 127.0.0.1:0 >/dev/null
for n in 1 2 3; do
  python3 - "$dir/pgforce/firebreak.json" "$dir/pgforce/n$n.json" "n$n" "$term" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["log"] = {"database": "store", "node": sys.argv[3], "key": "keys/log.key",
            "publish_interval_ms": 500, "lease_term_ms": int(sys.argv[4])}
c["metrics_listen"] = "127.0.0.1:0"
json.dump(c, open(sys.argv[2], "w"))
PY
done

cat > "$dir/disclosures.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $(cat "$dir/pgforce/tokens/ie-ice-south.token")"
wrk.body = '{"purpose":"immigration-enforcement","action":"disclose","categories":["address"],"legal_basis":"iaa-1999-s20","user_role":"immigration-officer","subject":{"reference":"DEMO-R16"}}'
LUA
sed "s/Bearer .*\"/Bearer $(cat "$dir/sqlite/tokens/ie-ice-south.token")\"/" "$dir/disclosures.lua" > "$dir/sqlite.lua"

# start CONFIG NAME: starts a node; its port in $port
start() {
  "$bin" serve --config "$1" --port-file "$dir/$2.port" --no-access-log >"$dir/$2.out" 2>"$dir/$2.log" &
  pids+=($!)
  for _ in $(seq 300); do [ -s "$dir/$2.port" ] && break; sleep 0.1; done
  port=$(cat "$dir/$2.port")
}

# measure NAME LUA PORT...: one wrk per port at once
measure() {
  local name=$1 lua=$2; shift 2
  local n=$# c=$(( 64 / $# )) i=0 w=()
  for p in "$@"; do
    wrk -t2 -c"$c" -d"${secs}s" --latency -s "$lua" "https://127.0.0.1:$p/v1/disclosures" > "$dir/wrk-$i.txt" 2>&1 &
    w+=($!)
    i=$((i + 1))
  done
  wait "${w[@]}" || true
  python3 - "$name" "$dir" "$n" <<'PY'
import re, sys
name, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    x = float(m.group(1)); return x / 1000 if m.group(2) == "us" else x * 1000 if m.group(2) == "s" else x
rps = p50 = p99 = 0.0; bad = 0
for i in range(n):
    out = open(f"{d}/wrk-{i}.txt").read()
    rps += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = max(p50, ms(re.search(r"\s50%\s+(\S+)", out).group(1)))
    p99 = max(p99, ms(re.search(r"\s99%\s+(\S+)", out).group(1)))
    b = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out); bad += int(b.group(1)) if b else 0
print(name, rps, p50, p99, bad)
PY
}

echo "firebreak $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $(nproc) cores; PostgreSQL $(psql --version | awk '{print $3}'); $subjects subjects; lease term $term ms; $(date -u +%FT%TZ)"
results="$dir/results.txt"
: > "$results"
for r in $(seq "$rounds"); do
  start "$dir/sqlite/firebreak.json" "sqlite-$r"
  measure sqlite-1-node "$dir/sqlite.lua" "$port" | tee -a "$results"
  stop_nodes
  ports=()
  for n in 1 2 3; do
    start "$dir/pgforce/n$n.json" "n$n-$r"
    ports+=("$port")
    sleep 1  # the first node takes the lease
    measure "postgresql-$n-nodes" "$dir/disclosures.lua" "${ports[@]}" | tee -a "$results"
  done
  stop_nodes
done
python3 - "$results" "$rounds" "$secs" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99, bad = line.split()
    rows.setdefault(name, []).append((float(rps), float(p50), float(p99), int(bad)))
print(f"\nmedians of {sys.argv[2]} rounds x {sys.argv[3]} s (one wrk -t2 per node, 64 connections in all)")
print(f"{'configuration':<22}{'disclosures/s':>14}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
for k in ["sqlite-1-node", "postgresql-1-nodes", "postgresql-2-nodes", "postgresql-3-nodes"]:
    if k not in rows: continue
    v = rows[k]
    med = [statistics.median(x[i] for x in v) for i in range(3)]
    print(f"{k:<22}{med[0]:>14,.0f}{med[1]:>9.2f}{med[2]:>9.2f}{sum(x[3] for x in v):>9}")
PY
