#!/usr/bin/env python3
"""Runs tokio's reference cases and weft's matching benchmarks in turns, in
one window, and prints each pair's medians and their ratio (weft / tokio).

  tools/tokio_reference/compare.sh [--rounds N] [--only SUBSTRING]

Called by compare.sh, which installs and builds what is needed and passes
the binaries. A "round" runs, for each tokio case (3 inner rounds of at
least 0.5 s), the case and right beside it the weft benchmarks paired with
it (3 repetitions of at least 0.5 s each); tokio goes first in odd rounds
and last in even ones, so both sides see the same machine. All figures are
per item of wall time. The ratio column is the median over rounds
of the per-round ratio; min and max show the machine's noise.
"""
import argparse
import json
import re
import statistics
import subprocess
import sys

# (label, tokio case, weft binary key, weft benchmark name, weft counter)
PAIRS = [
    # executor (issue 4)
    ("spawn+join, sequential, current-thread", "spawn_join_sequential/current_thread",
     "local", "BM_SpawnJoinSequential/10000", "per_task"),
    ("spawn+join, batch 1000 from outside, 1 worker", "spawn_join_batch_1000/workers:1",
     "pool", "BM_PoolSpawnJoinBatchFromOutside/workers:1/spin_us:0/real_time", "ns_per_task"),
    ("spawn+join, batch 1000 from outside, 2 workers", "spawn_join_batch_1000/workers:2",
     "pool", "BM_PoolSpawnJoinBatchFromOutside/workers:2/spin_us:0/real_time", "ns_per_task"),
    ("yield ping-pong (tokio)", "yield_ping_pong/current_thread",
     "local", "BM_YieldPingPong/100000", "per_yield"),
    ("yield ping-pong (futures LocalPool)", "yield_ping_pong/futures_local_pool",
     "local", "BM_YieldPingPong/100000", "per_yield"),
    ("RSS bytes per parked task", "memory_per_parked_task/current_thread",
     "local", "BM_MemoryPerParkedTask/1000000/iterations:1", "bytes_per_task"),
    # channels (issue 5)
    ("mpsc bounded 1P/1C, current-thread (Task)", "mpsc_bounded_1p1c/current_thread",
     "mpsc", "BM_Mpsc_Bounded_Local/producers:1", "ns_per_msg"),
    ("mpsc bounded 1P/1C, current-thread (combinators)", "mpsc_bounded_1p1c/current_thread",
     "mpsc", "BM_Mpsc_Bounded_Local_Combinator/producers:1", "ns_per_msg"),
    ("mpsc unbounded 1P/1C, current-thread (Task)", "mpsc_unbounded_1p1c/current_thread",
     "mpsc", "BM_Mpsc_Unbounded_Local/producers:1", "ns_per_msg"),
    ("mpsc unbounded 1P/1C, current-thread (combinators)", "mpsc_unbounded_1p1c/current_thread",
     "mpsc", "BM_Mpsc_Unbounded_Local_Combinator/producers:1", "ns_per_msg"),
    ("mpsc bounded 1P/1C, 2 workers (Task)", "mpsc_bounded_1p1c/workers:2",
     "mpsc", "BM_Mpsc_Bounded_Pool2/producers:1/real_time", "ns_per_msg"),
    ("mpsc bounded 1P/1C, 2 workers (combinators)", "mpsc_bounded_1p1c/workers:2",
     "mpsc", "BM_Mpsc_Bounded_Pool2_Combinator/producers:1/real_time", "ns_per_msg"),
    ("mpsc unbounded 1P/1C, 2 workers (Task)", "mpsc_unbounded_1p1c/workers:2",
     "mpsc", "BM_Mpsc_Unbounded_Pool2/producers:1/real_time", "ns_per_msg"),
    ("mpsc unbounded 1P/1C, 2 workers (combinators)", "mpsc_unbounded_1p1c/workers:2",
     "mpsc", "BM_Mpsc_Unbounded_Pool2_Combinator/producers:1/real_time", "ns_per_msg"),
    ("futures mpsc on LocalPool vs mpsc (Task)", "mpsc_bounded_1p1c/futures_local_pool",
     "mpsc", "BM_Mpsc_Bounded_Local/producers:1", "ns_per_msg"),
    ("futures mpsc on LocalPool vs mpsc (combinators)", "mpsc_bounded_1p1c/futures_local_pool",
     "mpsc", "BM_Mpsc_Bounded_Local_Combinator/producers:1", "ns_per_msg"),
    ("futures mpsc on LocalPool vs local_mpsc (Task)", "mpsc_bounded_1p1c/futures_local_pool",
     "mpsc", "BM_LocalMpsc_Bounded_Local/producers:1", "ns_per_msg"),
    ("futures mpsc on LocalPool vs local_mpsc (combinators)", "mpsc_bounded_1p1c/futures_local_pool",
     "mpsc", "BM_LocalMpsc_Bounded_Local_Combinator/producers:1", "ns_per_msg"),
    ("oneshot request/reply, current-thread (Task)", "oneshot_request_reply/current_thread",
     "oneshot", "BM_RequestReplyLocalExecutor/1000", "per_round_trip"),
    ("oneshot request/reply, current-thread (combinators)", "oneshot_request_reply/current_thread",
     "oneshot", "BM_RequestReplyLocalExecutorCombinator/1000", "per_round_trip"),
    ("  same, weft's single-thread channels (Task)", "oneshot_request_reply/current_thread",
     "oneshot", "BM_LocalRequestReplyLocalExecutor/1000", "per_round_trip"),
    ("  same, weft's single-thread channels (combinators)", "oneshot_request_reply/current_thread",
     "oneshot", "BM_LocalRequestReplyLocalExecutorCombinator/1000", "per_round_trip"),
    ("oneshot request/reply, 2 workers (Task)", "oneshot_request_reply/workers:2",
     "oneshot", "BM_RequestReplyThreadPool2/1000/real_time", "per_round_trip"),
    ("oneshot request/reply, 2 workers (combinators)", "oneshot_request_reply/workers:2",
     "oneshot", "BM_RequestReplyThreadPool2Combinator/1000/real_time", "per_round_trip"),
]

TOKIO_LINE = re.compile(r"^(\S+)\s+([0-9.]+) ")


def run_tokio(binary, case):
    """One tokio case (its own process: a case's filter is a substring of its name)."""
    out = subprocess.run([binary, "3", case], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = TOKIO_LINE.match(line)
        if m and m.group(1) == case:
            return float(m.group(2))
    return None


def per_item_wall(run, counter):
    """A run's counter, per item of wall time (as the tokio side measures).

    Rate counters (kIsRate | kInvert) are seconds per item of CPU time unless
    the benchmark uses real time (its name ends in /real_time); CPU time
    leaves out the time the process was descheduled, which would favour
    weft on a busy machine, so those are scaled by real / CPU time.
    """
    v = run[counter]
    if counter == "bytes_per_task":
        return v
    if not run["run_name"].endswith("/real_time") and run.get("cpu_time"):
        v *= run["real_time"] / run["cpu_time"]
    return v


def run_weft(binaries, pairs):
    got = {}
    for key, binary in binaries.items():
        names = sorted({p[3] for p in pairs if p[2] == key})
        if not names:
            continue
        # Benchmark names carry "/args"; the filter matches the base name.
        # RSS growth is only seen by a process's first run: memory benchmarks
        # get a process of their own and no repetitions.
        bases = sorted({n.split("/")[0] for n in names})
        memory = [b for b in bases if "Memory" in b]
        timed = [b for b in bases if b not in memory]
        runs = {}
        for group, reps in ([timed, 3], [memory, 1]):
            if not group:
                continue
            filt = "^(" + "|".join(group) + ")/"
            out = subprocess.run(
                [binary, f"--benchmark_filter={filt}", f"--benchmark_repetitions={reps}",
                 "--benchmark_report_aggregates_only=false", "--benchmark_format=json"],
                check=True, capture_output=True, text=True).stdout
            for b in json.loads(out)["benchmarks"]:
                if b.get("run_type") != "iteration" or b.get("error_occurred"):
                    continue
                runs.setdefault(b["run_name"], []).append(b)
        for name in names:
            for p in PAIRS:
                if p[3] != name:
                    continue
                vals = [per_item_wall(r, p[4]) for r in runs.get(name, []) if p[4] in r]
                if not vals:
                    continue
                v = statistics.median(vals)
                if p[4] != "bytes_per_task":
                    v *= 1e9  # rate counters are reported in seconds per item
                got[(name, p[4])] = v
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="", help="run the pairs whose label contains this")
    ap.add_argument("--tokio", required=True)
    ap.add_argument("--weft", action="append", default=[], help="key=path (local, pool, mpsc, oneshot)")
    a = ap.parse_args()
    binaries = dict(kv.split("=", 1) for kv in a.weft)
    pairs = [p for p in PAIRS if a.only in p[0]]
    ratios = {p[0]: [] for p in pairs}
    tok_all = {p[0]: [] for p in pairs}
    weft_all = {p[0]: [] for p in pairs}
    # Each tokio case right next to the weft benchmarks it is compared with
    # (seconds apart, not minutes: this machine's speed drifts), tokio first
    # in odd rounds and last in even ones, so a drift within a pair cancels
    # over the rounds.
    cases = list(dict.fromkeys(p[1] for p in pairs))
    for r in range(a.rounds):
        print(f"round {r + 1}/{a.rounds} ...", file=sys.stderr, flush=True)
        for case in cases:
            case_pairs = [p for p in pairs if p[1] == case]
            if r % 2 == 0:
                tv = run_tokio(a.tokio, case)
                w = run_weft(binaries, case_pairs)
            else:
                w = run_weft(binaries, case_pairs)
                tv = run_tokio(a.tokio, case)
            for p in case_pairs:
                if tv is not None and (p[3], p[4]) in w:
                    wv = w[(p[3], p[4])]
                    tok_all[p[0]].append(tv)
                    weft_all[p[0]].append(wv)
                    ratios[p[0]].append(wv / tv)
    print(f"{'pair (medians over rounds)':54} {'tokio':>8} {'weft':>8} {'weft/tokio':>10}  (min..max per round)")
    for p in pairs:
        rs = ratios[p[0]]
        if not rs:
            print(f"{p[0]:54} missing")
            continue
        unit = "B" if p[4] == "bytes_per_task" else "ns"
        print(f"{p[0]:54} {statistics.median(tok_all[p[0]]):6.1f}{unit:2} "
              f"{statistics.median(weft_all[p[0]]):6.1f}{unit:2} {statistics.median(rs):10.2f}"
              f"  ({min(rs):.2f}..{max(rs):.2f})")


if __name__ == "__main__":
    main()
