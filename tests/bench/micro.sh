#!/usr/bin/env bash
# tests/bench/micro.sh — builds and runs pgmorph_bench (Google Benchmark: every tests/bench/*.cpp)
# and prints the items/s of each benchmark, the median of --repetitions runs. The combined
# decode + transform benchmarks (BM_Pipeline_*, tests/bench/PipelineBench.cpp: wal2json v2 text of
# dispatch changes in, TargetWrites of the example mapping out, one thread) are checked against
# the goal of 1,000,000 changes/s on one core.
#
# items/s is Google Benchmark's: items per second of the benchmark thread's CPU time. The wall
# clock rate is printed next to it; the two differ when other processes compete for the cores
# (the 1-minute load average of the machine is printed too).
#
# Usage: tests/bench/micro.sh [--filter REGEX] [--repetitions N (3)] [--strict]
#   --strict: exit 3 when a combined benchmark misses the goal (otherwise only build or run
#   failures make the exit status non-zero).
# Env:   BUILD_DIR (build): where to configure and build pgmorph_bench.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
filter=. reps=3 strict=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --filter) filter=$2; shift 2 ;;
    --repetitions) reps=$2; shift 2 ;;
    --strict) strict=1; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $reps =~ ^[1-9][0-9]*$ ]] || { echo "--repetitions takes a positive integer" >&2; exit 2; }

echo "building pgmorph_bench in $BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" >/dev/null
cmake --build "$BUILD_DIR" -j2 --target pgmorph_bench
bin=$BUILD_DIR/tests/bench/pgmorph_bench
[[ -x $bin ]] || { echo "FAIL: $bin was not built" >&2; exit 1; }

out=$(mktemp /tmp/pgmorph-micro-XXXXXX.json)
trap 'rm -f "$out"' EXIT
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
PGMORPH_SOURCE_DIR=$ROOT "$bin" --benchmark_filter="$filter" --benchmark_repetitions="$reps" \
  --benchmark_out="$out" --benchmark_out_format=json
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# The JSON report has one "key": value per line; each run is one object of "benchmarks". With
# repetitions, the aggregate objects with "aggregate_name": "median" are the ones to report.
summary=$(awk -v reps="$reps" '
  function value(line) { sub(/^[^:]*: */, "", line); sub(/,$/, "", line); gsub(/"/, "", line); return line }
  /"benchmarks": \[/ { inside = 1; next }
  !inside { next }
  /^    {/ { name = type = agg = real = cpu = items = err = msg = ""; next }
  /^      "name":/ { name = value($0) }
  /^      "run_type":/ { type = value($0) }
  /^      "aggregate_name":/ { agg = value($0) }
  /^      "real_time":/ { real = value($0) }
  /^      "cpu_time":/ { cpu = value($0) }
  /^      "items_per_second":/ { items = value($0) }
  /^      "error_occurred":/ { err = value($0) }
  /^      "error_message":/ { msg = value($0); gsub(/ /, "_", msg) }
  /^    }/ {
    if (err == "true") { if (!seen[name]++) printf "ERROR %s %s\n", name, msg; next }
    if (reps > 1 ? (type != "aggregate" || agg != "median") : type != "iteration") next
    if (items == "") next
    sub(/_median$/, "", name)
    printf "OK %s %.0f %.0f\n", name, items, items * cpu / real
  }' "$out")

status=0
echo
echo "==== micro-benchmarks: pgmorph_bench (median of $reps) ===="
echo "date $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $load_start at start, $load_end at end"
printf '%-44s %16s %16s\n' benchmark "items/s (CPU)" "items/s (wall)"
while read -r kind name a b; do
  [[ -n $kind ]] || continue
  if [[ $kind == ERROR ]]; then
    printf '%-44s ERROR: %s\n' "$name" "${a//_/ }"
    status=1
    continue
  fi
  printf '%-44s %16s %16s\n' "$name" "$(sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$a")" \
    "$(sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$b")"
done <<<"$summary"
combined=$(awk '$1 == "OK" && $2 ~ /^BM_Pipeline_/' <<<"$summary")
if [[ -n $combined ]]; then
  while read -r _ name rate _; do
    verdict=$(awk -v r="$rate" 'BEGIN { print (r >= 1000000) ? "MET" : "MISSED" }')
    echo "goal decode+transform >= 1,000,000 changes/s on one core, $name: $verdict"
    [[ $verdict == MET || $strict -eq 0 ]] || status=3
  done <<<"$combined"
fi
exit "$status"
