#!/usr/bin/env python3
"""rmw_per_item.py BINARY CALLGRIND_OUT ITEMS

Atomic read-modify-writes (x86 lock-prefixed instructions and xchg with
memory) executed per item, in total and per instruction site, from a
callgrind file made with --dump-instr=yes (cg_per_item.sh ... --dump-instr=yes).
Callgrind counts them repeatably: the evidence for "one RMW fewer".
Whether that shows in time is another question: replacing one uncontended
RMW of the request/reply round trip by a plain store did not (A/B 1.015).
"""
import collections
import re
import signal
import sys

import cgdata

signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet when piped into head


def is_rmw(ins):
    return re.match(r'lock\b', ins) or (re.match(r'xchg\s', ins) and '(' in ins)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, cg, items = sys.argv[1], sys.argv[2], float(sys.argv[3])
    sites = {addr: (fn, ins) for fn, addr, ins in cgdata.disassembly(binary) if is_rmw(ins)}
    counts = cgdata.instruction_counts(cg)
    per = collections.Counter()
    for addr, site in sites.items():
        if counts.get(addr):
            per[site] += counts[addr]
    print(f"RMWs per item: {sum(per.values()) / items:.2f}")
    for (fn, ins), c in per.most_common(30):
        if c / items < 0.005:
            break
        print(f"{c / items:8.2f}  {ins:40s} {fn[:120]}")


if __name__ == '__main__':
    main()
