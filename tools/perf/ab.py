#!/usr/bin/env python3
"""ab.py FILTER ROUNDS COUNTER BINARY_A BINARY_B

A/B timing on a noisy machine: runs the two benchmark binaries in turns
(ABBA order), ROUNDS times each, with --benchmark_filter=FILTER, and prints
per benchmark the median and min of COUNTER (a kIsRate|kInvert counter,
shown in ns per item of wall time) and the ratio B/A. Copy the binaries out
of bazel-bin first (distinct paths), so a rebuild cannot swap one mid-run.
"""
import sys, subprocess, json, statistics, collections
filt, rounds, counter, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
res = {a: collections.defaultdict(list), b: collections.defaultdict(list)}
for r in range(rounds):
    for binp in ([a, b] if r % 2 == 0 else [b, a]):
        out = subprocess.run([binp, f"--benchmark_filter={filt}", "--benchmark_format=json", "--benchmark_min_time=0.3"], capture_output=True, text=True).stdout
        for x in json.loads(out)["benchmarks"]:
            v = x[counter]
            if not x["run_name"].endswith("/real_time"): v *= x["real_time"]/x["cpu_time"]
            res[binp][x["run_name"]].append(v*1e9)
for name in res[a]:
    ma, mb = statistics.median(res[a][name]), statistics.median(res[b][name])
    print(f"{name:60s} A {ma:7.2f} (min {min(res[a][name]):.2f})  B {mb:7.2f} (min {min(res[b][name]):.2f})  B/A {mb/ma:.3f}")
