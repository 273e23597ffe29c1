#!/usr/bin/env bash
# Runs the libFuzzer targets (docs/fuzzing.md). See --help.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(parser_fuzz request_fuzz scenario_fuzz http_fuzz wire_fuzz config_fuzz reporting_fuzz note_fuzz c2sp_fuzz wal_fuzz entry_fuzz witness_protocol_fuzz replay_fuzz)
# Where each target's seed corpus lives (beside the code it attacks).
corpus_of() {
  case "$1" in
    parser_fuzz) echo src/policy/testdata/fuzz/parser_fuzz ;;
    request_fuzz|scenario_fuzz) echo "src/engine/testdata/fuzz/$1" ;;
    wire_fuzz|config_fuzz|reporting_fuzz) echo "src/gateway/testdata/fuzz/$1" ;;
    note_fuzz|c2sp_fuzz|wal_fuzz|witness_protocol_fuzz) echo "src/ledger/testdata/fuzz/$1" ;;
    entry_fuzz) echo src/entry/testdata/fuzz/entry_fuzz ;;
    http_fuzz) echo src/http/testdata/fuzz/http_fuzz ;;
    replay_fuzz) echo src/oversight/audit/testdata/fuzz/replay_fuzz ;;
    *) return 1 ;;
  esac
}

usage() {
  cat <<EOF
Builds the fuzz targets with clang (libFuzzer, ASan, UBSan) into build-fuzz/
and runs them.

  scripts/fuzz.sh TARGET [SECONDS]   run one target (default 60 s)
  scripts/fuzz.sh all SECONDS        run each target in turn, then minimise
                                     the checked-in corpora with what was found
  scripts/fuzz.sh --list             the targets

Targets: ${targets[*]}
New inputs go to build-fuzz/corpus/TARGET (not checked in); a crash is written
to TARGET's crash folder beside its corpus (…/testdata/fuzz/TARGET-crashes/),
which the normal test run replays, so that a crash found once is a failing
test until it is fixed. Each run prints libFuzzer's final stats line (execs,
exec/s, coverage) as "RESULT target=… seconds=… …". Take the build lock:
  flock /tmp/firebreak-build.lock scripts/fuzz.sh all 600
EOF
}

[ $# -ge 1 ] || { usage; exit 2; }
case "$1" in
  -h|--help) usage; exit 0 ;;
  --list) printf '%s\n' "${targets[@]}"; exit 0 ;;
esac
what="$1"
secs="${2:-60}"

bash scripts/setup.sh --fuzz >/dev/null
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DFIREBREAK_FUZZ=ON -DFIREBREAK_BENCHMARKS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if [ "$what" = all ]; then list=("${targets[@]}"); else list=("$what"); fi
for t in "${list[@]}"; do
  corpus_of "$t" >/dev/null || { echo "fuzz: unknown target $t (see --list)" >&2; exit 2; }
done
ninja -C build-fuzz "${list[@]}"

for t in "${list[@]}"; do
  seeds=$(corpus_of "$t")
  work=build-fuzz/corpus/$t
  crashes="$seeds-crashes"
  mkdir -p "$work" "$crashes"
  echo "== $t for ${secs}s (seeds $seeds)"
  log=build-fuzz/$t.log
  bin=$(find build-fuzz/src -name "$t" -type f -perm -u+x | head -1)
  set +e
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$bin" "$work" "$seeds" -max_total_time="$secs" -max_len=65536 -timeout=1 \
    -rss_limit_mb=2048 -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  rate=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
  cov=$(grep -E '#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -1 | grep -oE 'cov: [0-9]+' | awk '{print $2}' || true)
  echo "RESULT target=$t seconds=$secs execs=${runs:-?} exec_per_sec=${rate:-?} coverage=${cov:-?} exit=$rc"
  rmdir "$crashes" 2>/dev/null || echo "   crash inputs in $crashes (see $log)"
  if [ "$what" = all ] && [ $rc -eq 0 ]; then
    # Merge what was found into the seeds, keeping only inputs that add coverage.
    tmp=$(mktemp -d)
    "$bin" -merge=1 "$tmp" "$seeds" "$work" >/dev/null 2>&1 || true
    if [ -n "$(ls -A "$tmp")" ]; then
      rm -f "$seeds"/*
      cp "$tmp"/* "$seeds"/
    fi
    rm -rf "$tmp"
    echo "   corpus $seeds: $(ls "$seeds" | wc -l) files, $(du -sh "$seeds" | cut -f1)"
  fi
done
