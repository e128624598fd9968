#!/usr/bin/env bash
# cg_per_item.sh BINARY BENCHMARK ITEMS [valgrind options...]
#
# Instructions per item of one Google Benchmark case, counted by callgrind:
# repeatable whatever else the machine does (timings here are not). Runs
# exactly one iteration (--benchmark_min_time tiny), collects only inside
# the benchmark's own function (BM_Name(benchmark::State&)), and divides by
# ITEMS (what one iteration does: messages, round trips, tasks). Setup inside
# the function is included: choose ITEMS large enough that it is noise.
#
#   tools/perf/cg_per_item.sh /tmp/oneshot_benchmark BM_RequestReplyLocalExecutor 1000
#   tools/perf/cg_per_item.sh /tmp/mpsc_benchmark BM_Mpsc_Bounded_Local/producers:1 200000 --dump-instr=yes
#
# Pass --dump-instr=yes to use the output with asm_per_item.py or
# rmw_per_item.py. Prints the counts and the callgrind file's path.
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,14p "$0" >&2; exit 2; }
bin=$1 bench=$2 items=$3
shift 3
fn=${bench%%/*}
out_dir=${CG_OUT_DIR:-/tmp/weft-perf}
mkdir -p "$out_dir"
out="$out_dir/cg.$(basename "$bin").$(echo "$bench" | tr '/:' '__').out"
log="$out.log"
valgrind --tool=callgrind --callgrind-out-file="$out" "$@" \
  --toggle-collect="*::${fn}(benchmark::State&)" \
  "$bin" --benchmark_filter="^${bench}(\$|/)" --benchmark_min_time=0.000000001 >"$log" 2>&1
iters=$( (grep -E "^BM_" "$log" || true) | head -1 |
  awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/ && ($(i-1) == "ns" || $(i-1) == "ms" || $(i-1) == "us")) last = $i; print last}')
ir=$( (callgrind_annotate "$out" 2>/dev/null || true) | (grep -m1 "PROGRAM TOTALS" || true) | awk '{gsub(",", "", $1); print $1}')
if [ -z "$iters" ] || [ -z "$ir" ] || [ "$ir" -le 1 ]; then
  echo "cg_per_item: no count (is $fn the benchmark's function name? see $log)" >&2
  exit 1
fi
echo "$bench: $(python3 -c "print(round($ir / ($iters * $items), 1))") instructions per item ($ir in $iters iteration(s)); $out"
