#!/usr/bin/env bash
# Gateway throughput beside its physical limit, in one run (docs/benchmarks.md,
# "## Gateway"). See --help.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
Drives, in one run and alternating, over HTTPS keep-alive on loopback with wrk
(2 threads x 64 connections, or --connections):
  nginx        answering a fixed JSON body over the same certificate and TLS
               settings (the limit: TLS + HTTP with no work at all)
  healthz      GET /healthz on the gateway: its own HTTPS server with no work
               behind it (what the server itself costs, beside nginx)
  decisions    POST /v1/decisions (the holder's API; every decision durably logged)
               about one person (DEMO-R01), and decisions-many: about a
               different person each time, drawn from the whole demo force
  disclosures  POST /v1/disclosures (a permitted disclosure; durably logged)
then one client sending one decision at a time (wrk -t1 -c1), and prints for
each the median over the rounds of requests/s, p50 and p99, and the ratio to
nginx. The gateway serves a 100,000-subject demo force (strict-firewall).
wrk cannot present client certificates: the gateway authenticates the bearer
tokens the demo turns on.

  scripts/bench_gateway.sh [--seconds N] [--rounds N] [--subjects N] [--connections N] [--no-build] [--bin PATH]

--connections sets wrk's connections for the loaded runs (default 64): fewer
connections show the latency at a lower load.

--bin runs another build of firebreak (e.g. an older commit's, to compare in
one session); the "cpu us/req" column is the server's own CPU time (user +
system, from /proc: the gateway's, or nginx's workers' for the nginx rows)
over the run divided by the requests it answered, and "wrk us/req" is
wrk's: less noisy than requests/s on a shared machine.

Run it under the build lock on an otherwise idle machine:
  flock /tmp/firebreak-build.lock scripts/bench_gateway.sh
Installs nginx-light and python3 when missing (scripts/setup.sh --bench).
EOF
}

secs=8
rounds=3
subjects=100000
conns=64
build=1
bin=build/src/cli/firebreak
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) secs="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --subjects) subjects="$2"; shift 2 ;;
    --connections) conns="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --bin) bin="$2"; build=0; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench_gateway: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh --bench >/dev/null
[ "$build" = 1 ] && bash scripts/build.sh -- firebreak >/dev/null
dir=$(mktemp -d /tmp/fb-bench.XXXXXX)
pid=""
nginx_pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

"$bin" demo --dir "$dir/force" --subjects "$subjects" --listen 127.0.0.1:0 >/dev/null
"$bin" serve --config "$dir/force/firebreak.json" --port-file "$dir/port" --no-access-log 2>"$dir/serve.log" &
pid=$!
for _ in $(seq 200); do [ -s "$dir/port" ] && break; sleep 0.1; done
port=$(cat "$dir/port")

# nginx on a free port, same certificate, same protocol versions, no work.
nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$dir/nginx"
cat > "$dir/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/nginx/body;
  server {
    listen 127.0.0.1:$nport ssl;
    ssl_certificate $dir/force/pki/server.pem;
    ssl_certificate_key $dir/force/pki/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;
    keepalive_requests 1000000;
    location / {
      default_type application/json;
      return 200 '{"decision":"permit","receipt":"123456-0123456789abcdef0123456789abcdef","disclosed":["address"],"withheld":[],"obligations":["notify-dpo"],"records":[{"fields":{"address_line":"155 Mill Lane, Lowestoft","postcode":"IP28 3CL"}}],"message":"Disclosed as the holder policy permits; see the obligations."}\n';
    }
  }
}
EOF
nginx -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" &
nginx_pid=$!
sleep 0.5

echo "firebreak $bin at $(git rev-parse --short HEAD 2>/dev/null || echo "?"); gateway pid $pid port $port; nginx $(nginx -v 2>&1 | sed 's/.*\///') port $nport; $(nproc) cores; $(date -u +%FT%TZ)"
echo "gateway RSS after start ($subjects subjects): $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"

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
cp "$dir/disclosures.lua" "$dir/nginx.lua"
# The gateway's own server with no work behind it (GET /healthz): what its
# HTTPS stack costs, against nginx's.
echo 'wrk.method = "GET"' > "$dir/healthz.lua"
# Decisions about a different person each time (uniform over the demo's
# synthetic subjects EXC-0000001…): what the fact cache cannot keep.
many=$(( subjects > 14 ? subjects - 14 : 1 ))
{
  lua "$(cat "$dir/force/tokens/example-constabulary.token")" ''
  cat <<LUA
local body = '{"purpose":"immigration-status-check","action":"referral","categories":["identity","nationality"],"legal_basis":"iaa-1999-s20","user_role":"police-officer","subject":{"reference":"EXC-%07d"}}'
request = function()
  return wrk.format(nil, nil, nil, string.format(body, math.random(1, $many)))
end
LUA
} > "$dir/decisions-many.lua"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# nginx's CPU: its worker processes' (user + system) ticks.
nginx_ticks() {
  local t=0 w
  for w in $(pgrep -P "$nginx_pid" 2>/dev/null); do t=$((t + $(awk '{print $14 + $15}' "/proc/$w/stat"))); done
  echo "$t"
}

# One wrk run: NAME URL SCRIPT THREADS CONNECTIONS
#   -> "name rps p50_ms p99_ms non2xx server_cpu_us_per_request wrk_cpu_us_per_request"
# (the server is nginx for the nginx rows, else the gateway).
run() {
  local out t0 t1 wrk_cpu
  case "$1" in *nginx*) t0=$(nginx_ticks) ;; *) t0=$(cpu_ticks) ;; esac
  local TIMEFORMAT='%U %S'
  wrk_cpu=$( { time wrk -t"$4" -c"$5" -d"${secs}s" --latency -s "$3" "$2" > "$dir/wrk.out" 2>&1; } 2>&1 )
  out=$(cat "$dir/wrk.out")
  case "$1" in *nginx*) t1=$(nginx_ticks) ;; *) t1=$(cpu_ticks) ;; esac
  echo "$out" > "$dir/wrk-$1-$RANDOM.txt"
  python3 - "$1" "$((t1 - t0))" "$(getconf CLK_TCK)" "$wrk_cpu" <<PY
import re, sys
out = """$out"""
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    x = float(m.group(1)); return x / 1000 if m.group(2) == "us" else x * 1000 if m.group(2) == "s" else x
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
n = int(re.search(r"(\d+) requests in", out).group(1))
cpu = int(sys.argv[2]) / int(sys.argv[3]) * 1e6 / max(n, 1)
wrk = sum(float(x) for x in sys.argv[4].split()) * 1e6 / max(n, 1)
print(sys.argv[1], rps, p50, p99, bad.group(1) if bad else 0, round(cpu, 1), round(wrk, 1))
PY
}

results="$dir/results.txt"
: > "$results"
for r in $(seq "$rounds"); do
  run nginx "https://127.0.0.1:$nport/v1/disclosures" "$dir/nginx.lua" 2 "$conns" | tee -a "$results"
  run healthz "https://127.0.0.1:$port/healthz" "$dir/healthz.lua" 2 "$conns" | tee -a "$results"
  run decisions "https://127.0.0.1:$port/v1/decisions" "$dir/decisions.lua" 2 "$conns" | tee -a "$results"
  run disclosures "https://127.0.0.1:$port/v1/disclosures" "$dir/disclosures.lua" 2 "$conns" | tee -a "$results"
  run decisions-many "https://127.0.0.1:$port/v1/decisions" "$dir/decisions-many.lua" 2 "$conns" | tee -a "$results"
  run one-client-decisions "https://127.0.0.1:$port/v1/decisions" "$dir/decisions.lua" 1 1 | tee -a "$results"
  run one-client-nginx "https://127.0.0.1:$nport/v1/disclosures" "$dir/nginx.lua" 1 1 | tee -a "$results"
done
echo "gateway RSS after load: $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"
metrics_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics_listen"].rsplit(":",1)[1])' "$dir/force/firebreak.json")
if [ "$metrics_port" != "0" ]; then
  curl -s "http://127.0.0.1:$metrics_port/metrics" | grep -E '^firebreak_log_(sequenced|published)_size' || true
fi
python3 - "$results" "$rounds" "$secs" "$conns" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99, bad, cpu, wrk = line.split()
    rows.setdefault(name, []).append((float(rps), float(p50), float(p99), int(bad), float(cpu), float(wrk)))
med = {k: tuple(statistics.median(x[i] for x in v) for i in (0, 1, 2, 4, 5)) for k, v in rows.items()}
print(f"\nmedians of {sys.argv[2]} rounds x {sys.argv[3]} s (wrk -t2 -c{sys.argv[4]}; one-client rows -t1 -c1)")
print("cpu us/req: the server's own CPU (nginx's workers for the nginx rows, else the gateway) per request;")
print("wrk us/req: wrk's, on the same cores")
print(f"{'run':<24}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'vs nginx':>10}{'non-2xx':>9}{'cpu us/req':>12}{'wrk us/req':>12}")
for k in ["nginx", "healthz", "decisions", "disclosures", "decisions-many", "one-client-nginx", "one-client-decisions"]:
    if k not in med: continue
    base = med["one-client-nginx" if k.startswith("one-client") else "nginx"][0]
    bad = sum(x[3] for x in rows[k])
    print(f"{k:<24}{med[k][0]:>12,.0f}{med[k][1]:>9.2f}{med[k][2]:>9.2f}{med[k][0]/base:>9.3f}x{bad:>9}{med[k][3]:>12.1f}{med[k][4]:>12.1f}")
PY
