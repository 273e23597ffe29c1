#!/usr/bin/env bash
# Gateway benchmark on loopback with wrk (docs/benchmarks.md, "## Gateway").
#   scripts/bench_gateway.sh [DURATION_SECONDS]
# Creates a 100,000-subject demo force in a temporary directory, starts
# `firebreak serve` on it, and drives it over HTTPS keep-alive (bearer token,
# since wrk cannot present client certificates) with:
#   1. POST /v1/decisions   (the holder's decision API; each decision logged durably)
#   2. POST /v1/disclosures (a permitted disclosure; each one durably logged)
# then prints the server's resident memory. Run it under the build lock:
#   flock /tmp/firebreak-build.lock scripts/bench_gateway.sh 10
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
bin=build/src/cli/firebreak
dir=$(mktemp -d /tmp/fb-bench.XXXXXX)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
"$bin" demo --dir "$dir/force" --listen 127.0.0.1:0 >/dev/null
"$bin" serve --config "$dir/force/firebreak.json" --port-file "$dir/port" --no-access-log 2>"$dir/serve.log" &
pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
port=$(cat "$dir/port")
echo "gateway pid $pid on port $port; RSS after start: $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"

lua() {  # token body
  cat <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $1"
wrk.body = '$2'
LUA
}
lua "$(cat "$dir/force/tokens/example-constabulary.token")" \
  '{"purpose":"immigration-status-check","action":"referral","categories":["identity","nationality"],"legal_basis":"iaa-1999-s20","user_role":"police-officer","subject":{"reference":"DEMO-R01"}}' \
  > "$dir/decisions.lua"
lua "$(cat "$dir/force/tokens/ie-ice-south.token")" \
  '{"purpose":"immigration-enforcement","action":"disclose","categories":["address"],"legal_basis":"iaa-1999-s20","user_role":"immigration-officer","subject":{"reference":"DEMO-R16"}}' \
  > "$dir/disclosures.lua"

echo "== POST /v1/decisions, ${secs}s, 2 threads, 64 connections"
wrk -t2 -c64 -d"${secs}s" --latency -s "$dir/decisions.lua" "https://127.0.0.1:$port/v1/decisions"
echo "== POST /v1/disclosures, ${secs}s, 2 threads, 64 connections"
wrk -t2 -c64 -d"${secs}s" --latency -s "$dir/disclosures.lua" "https://127.0.0.1:$port/v1/disclosures"
echo "RSS after load: $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"
echo "log: $(curl -sk "https://127.0.0.1:$port/metrics" | grep -E '^firebreak_log_(sequenced|published)_size')"
