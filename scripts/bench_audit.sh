#!/usr/bin/env bash
# The audit's speed on a real demo log (docs/benchmarks.md, "## Audit").
# See --help.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
Fills a demo force's decision log through the real gateway (wrk over HTTPS,
a rotating mix of requests: Immigration Enforcement disclosures, council
safeguarding referrals, the force's own status checks, about random and
planted subjects; refusals included), stops it, then runs
`firebreak audit` on the log pinned to one core (taskset -c 0), ROUNDS
times, and prints the median entries/s of re-verification and of full
replay (open + decide again + guarantees), and the findings (expected: none).

  scripts/bench_audit.sh [--entries N] [--rounds N] [--subjects N] [--no-build] [--keep DIR]

--keep DIR moves the demo force (its log, keys and packs' config) to DIR
afterwards, for profiling or for trying `firebreak audit` by hand.

Defaults: 1,000,000 entries, 3 rounds, 20,000 subjects. Run under the build
lock on an otherwise idle machine:
  flock /tmp/firebreak-build.lock scripts/bench_audit.sh
Installs wrk, nginx-light and python3 when missing (scripts/setup.sh --bench).
EOF
}

entries=1000000
rounds=3
subjects=20000
build=1
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --entries) entries="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --subjects) subjects="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep) keep="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench_audit: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh --bench >/dev/null
[ "$build" = 1 ] && bash scripts/build.sh -- firebreak >/dev/null
bin=build/src/cli/firebreak
dir=$(mktemp -d /tmp/fb-audit.XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "$keep" ]; then rm -rf "$keep"; mv "$dir/force" "$keep"; echo "kept the force in $keep"; fi
  rm -rf "$dir"
}
trap cleanup EXIT

"$bin" demo --dir "$dir/force" --subjects "$subjects" --listen 127.0.0.1:0 >/dev/null
"$bin" serve --config "$dir/force/firebreak.json" --port-file "$dir/port" --no-access-log 2>"$dir/serve.log" &
pid=$!
for _ in $(seq 200); do [ -s "$dir/port" ] && break; sleep 0.1; done
port=$(cat "$dir/port")

# A wrk script cycling through 4,096 requests.
python3 - "$dir/force" "$subjects" > "$dir/mix.lua" <<'PY'
import json, random, sys
force, subjects = sys.argv[1], int(sys.argv[2])
tok = lambda org: open(f"{force}/tokens/{org}.token").read().strip()
random.seed(20261130)
cats = ["address", "contact", "identity", "nationality", "incident", "health"]
refs = [f"DEMO-R{i:02}" for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16)]
out = []
for i in range(4096):
    ref = random.choice(refs) if random.random() < 0.2 else f"EXC-{random.randint(1, subjects):07}"
    asked = sorted(set(random.sample(cats, random.randint(1, 3))))
    k = random.randrange(4)
    if k == 0:
        org, path, body = "ie-ice-south", "/v1/disclosures", dict(purpose="immigration-enforcement", action="disclose", legal_basis="iaa-1999-s20", user_role="immigration-officer")
    elif k == 1:
        org, path, body = "ie-ice-south", "/v1/disclosures", dict(purpose="criminal-investigation", action="disclose", legal_basis="iaa-1999-s20", user_role="immigration-officer")
    elif k == 2:
        org, path, body = "example-council", "/v1/disclosures", dict(purpose="safeguarding", action="referral", legal_basis="ukgdpr-6-1-e", user_role="social-worker")
    else:
        org, path, body = "example-constabulary", "/v1/decisions", dict(purpose="immigration-status-check", action="status-check", legal_basis="iaa-1999-s20", user_role="police-officer")
    body["categories"] = asked
    body["subject"] = {"reference": ref}
    out.append((path, tok(org), json.dumps(body)))
print("local reqs = {")
for path, token, body in out:
    print("  wrk.format('POST', %s, {['Content-Type']='application/json', ['Authorization']='Bearer %s'}, %s)," % (json.dumps(path), token, json.dumps(body)))
print("}")
print("local i = 0")
print("request = function() i = i + 1; return reqs[(i %% %d) + 1] end" % len(out))
PY

sequenced() {  # the published checkpoint's size
  sed -n 2p "$dir/force/log/checkpoint" 2>/dev/null || echo 0
}
echo "firebreak $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $(nproc) cores; $(date -u +%FT%TZ)"
echo "filling the log to $entries entries through the gateway ..."
start=$(date +%s)
while :; do
  n=$(sequenced || echo 0)
  [ -n "$n" ] && [ "${n%.*}" -ge "$entries" ] && break
  wrk -t2 -c128 -d10s -s "$dir/mix.lua" "https://127.0.0.1:$port" >/dev/null 2>&1
  echo "  $(sequenced) entries after $(( $(date +%s) - start )) s"
done
# The monitor following the live gateway over HTTPS into a fresh mirror
# (what an oversight body's first run does), timed end to end. The gateway's
# own writes are flushed first: the mirror's syncfs would wait for them.
sync
"$bin" monitor --quiet --log "https://127.0.0.1:$port/log/" --ca-file "$dir/force/pki/ca.pem" \
  --vkey "$dir/force/keys/log.vkey" --state "$dir/watch" | tee "$dir/monitor.txt"
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
# The physical limit of re-verification on this core: SHA-256 over entries
# of the log's mean size (every entry is hashed once; tiles add 1/128).
mean=$(python3 -c 'import os,sys; d=sys.argv[1]; n=int(open(d+"/checkpoint").read().split("\n")[1]); s=sum(os.path.getsize(os.path.join(r,f)) for r,_,fs in os.walk(d+"/tile/entries") for f in fs if ".p" not in r); print(max(1, s // max(1, (n//256)*256)))' "$dir/force/log")
sha=$(taskset -c 0 openssl speed -seconds 3 -bytes "$mean" sha256 2>/dev/null | awk '/^sha256/{print $2}' | tr -d k)
python3 -c 'import sys; m, k = int(sys.argv[1]), float(sys.argv[2]); print(f"mean entry {m} bytes; openssl sha256 on one core at that size: {k:,.0f} kB/s = {k*1000/m:,.0f} entries/s (hashing alone)")' "$mean" "$sha"

packs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["policy"]["packs"][0])' "$dir/force/firebreak.json")
results="$dir/results.txt"
: > "$results"
for r in $(seq "$rounds"); do
  set +e
  taskset -c 0 "$bin" audit --quiet --dir "$dir/force/log" --vkey "$dir/force/keys/log.vkey" \
    --audit-key "$dir/force/keys/audit.key" --packs "$(dirname "$packs")" --baseline "$packs" \
    --json "$dir/report.json" > "$dir/summary.txt"
  rc=$?
  set -e
  python3 - "$dir/report.json" "$rc" <<'PY' | tee -a "$results"
import json, sys
r = json.load(open(sys.argv[1]))
n = r["entries"]
print(n, n / r["seconds"]["verify"], n / r["seconds"]["replay"], len(r["findings"]), r["replayed"], r["partly_replayed"], sys.argv[2])
PY
done
cat "$dir/summary.txt"
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = lambda i: statistics.median(float(r[i]) for r in rows)
print(f"entries {rows[0][0]}; median of {len(rows)} rounds on one core: "
      f"re-verified {med(1):,.0f} entries/s, opened+replayed+checked {med(2):,.0f} entries/s; "
      f"findings {rows[0][3]} (exit {rows[0][6]}); replayed in full {rows[0][4]}, in part {rows[0][5]}")
PY
