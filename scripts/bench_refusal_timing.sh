#!/usr/bin/env bash
# Can the gateway's outward refusals (403 of POST /v1/disclosures) be told
# apart by timing? Builds `firebreak`, creates a demo force in a temporary
# directory, serves it on a free loopback port and runs
# scripts/refusal_timing.py against it (one keep-alive TLS connection as
# Immigration Enforcement; five refusal kinds interleaved; Mann-Whitney U for
# every pair). The server is stopped and the directory removed on exit.
#
#   scripts/bench_refusal_timing.sh [--no-build] [--keep] [ARGS...]
#
#   --no-build    use build/src/cli/firebreak as it is (default: build it first
#                 with `scripts/build.sh -- firebreak`, which takes the build lock)
#   --keep        keep the temporary directory (demo, server log, JSON) on exit
#   ARGS          passed to refusal_timing.py, e.g. --seed 7 --json /tmp/r.json
#                 (see `python3 scripts/refusal_timing.py --help`)
#
# Environment: PER_KIND (measured requests per kind, default 2000), SUBJECTS
# (demo population, default 20000), SEED (demo generator seed, default the
# demo's own).
#
# Exit code: refusal_timing.py's (0 the run completed, whatever it found;
# 1 a kind was not refused as intended, nothing measured; 2 usage or
# connection errors), or 2 if the demo or the server could not be started.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

build=1
keep=0
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    --) shift; pass+=("$@"); break ;;
    *) pass+=("$1") ;;
  esac
  shift
done

per_kind="${PER_KIND:-2000}"
subjects="${SUBJECTS:-20000}"
bin=build/src/cli/firebreak

if [ "$build" = 1 ]; then
  bash scripts/build.sh -- firebreak
fi
if [ ! -x "$bin" ]; then
  echo "bench_refusal_timing.sh: $bin not found (build it, or drop --no-build)" >&2
  exit 2
fi

dir=$(mktemp -d /tmp/fb-refusal.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [ "$keep" = 1 ]; then
    echo "kept $dir" >&2
  else
    rm -rf "$dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

demo_args=(demo --dir "$dir/force" --subjects "$subjects")
[ -n "${SEED:-}" ] && demo_args+=(--seed "$SEED")
if ! "$bin" "${demo_args[@]}" >"$dir/demo.out" 2>&1; then
  echo "bench_refusal_timing.sh: firebreak demo failed:" >&2
  cat "$dir/demo.out" >&2
  exit 2
fi
head -n 1 "$dir/demo.out"

# A free loopback port, written into the config; no access log.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
python3 - "$dir/force/firebreak.json" "$port" <<'PY'
import json, sys
path, port = sys.argv[1], sys.argv[2]
with open(path) as f:
    config = json.load(f)
config["listen"] = f"127.0.0.1:{port}"
config["access_log"] = False
with open(path, "w") as f:
    json.dump(config, f)
    f.write("\n")
PY

"$bin" serve --config "$dir/force/firebreak.json" 2>"$dir/serve.log" &
pid=$!

# Wait for /healthz (with the client certificate: mutual TLS), up to 60 s.
ready=0
for _ in $(seq 600); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "bench_refusal_timing.sh: firebreak serve exited:" >&2
    cat "$dir/serve.log" >&2
    exit 2
  fi
  if python3 - "$dir/force" "$port" <<'PY' 2>/dev/null
import http.client, ssl, sys
d, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(cafile=f"{d}/pki/ca.pem")
ctx.load_cert_chain(f"{d}/pki/clients/ie-ice-south.pem", f"{d}/pki/clients/ie-ice-south.key")
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=2)
c.request("GET", "/healthz")
sys.exit(0 if c.getresponse().status == 200 else 1)
PY
  then
    ready=1
    break
  fi
  sleep 0.1
done
if [ "$ready" != 1 ]; then
  echo "bench_refusal_timing.sh: the gateway did not answer /healthz on port $port within 60 s:" >&2
  cat "$dir/serve.log" >&2
  exit 2
fi

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$rev" != unknown ] && ! git diff --quiet HEAD -- src 2>/dev/null; then rev="$rev+uncommitted src changes"; fi
echo "firebreak $rev; gateway pid $pid on 127.0.0.1:$port; $subjects subjects; $(nproc) cores"

rc=0
python3 scripts/refusal_timing.py --demo "$dir/force" --url "https://127.0.0.1:$port" \
  --per-kind "$per_kind" ${pass[@]+"${pass[@]}"} || rc=$?
if [ "$rc" = 2 ] && ! kill -0 "$pid" 2>/dev/null; then
  echo "bench_refusal_timing.sh: the gateway exited during the run:" >&2
  tail -n 20 "$dir/serve.log" >&2
fi
exit "$rc"
