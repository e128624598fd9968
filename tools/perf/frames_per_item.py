#!/usr/bin/env python3
"""frames_per_item.py BINARY CALLGRIND_OUT ITEMS

Instructions, calls and pushes (register saves in prologues) executed per
item, in total and by function, from a callgrind file made with
--dump-instr=yes (cg_per_item.sh ... --dump-instr=yes). Only the binary's
own code counts (not libc or the dynamic loader's first-call lookups).

Why: on the machines here, time follows call frames more than
instructions. Measured inside the request/reply benchmark (session 12):
an extra out-of-line call cost about 1 ns, and about 2.6 ns when it saved
and restored six registers; 40 extra independent stores cost 0.17 ns
each; an extra uncontended RMW, or ten dependent loads feeding one,
nothing measurable. Forcing inline the functions GCC left out of line
took request/reply with Task from 20.5 to 14.5 calls and its tokio ratio
from 0.48-0.53 to 0.40-0.43, where a 9% cut in instructions alone had not
moved it. Watch the totals of every benchmark that shares the code: GCC
answers a forced inline by outlining something else when a function
outgrows its budget (the calls column shows it).
"""
import collections
import signal
import sys

import cgdata

signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet when piped into head


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, cg, items = sys.argv[1], sys.argv[2], float(sys.argv[3])
    counts = cgdata.instruction_counts(cg)
    instrs = collections.Counter()
    calls = collections.Counter()
    pushes = collections.Counter()
    for fn, addr, ins in cgdata.disassembly(binary):
        n = counts.get(addr)
        if not n:
            continue
        op = ins.split()[0] if ins else ''
        instrs[fn] += n
        if op.startswith('call'):
            calls[fn] += n
        elif op == 'push':
            pushes[fn] += n
    total = lambda c: sum(c.values()) / items
    print(f"per item: {total(instrs):.1f} instructions, {total(calls):.2f} calls, "
          f"{total(pushes):.2f} pushes")
    print(f"{'instr':>8} {'calls':>6} {'pushes':>6}  function (calls: those it makes)")
    for fn, n in instrs.most_common(40):
        if n / items < 0.5:
            break
        print(f"{n / items:8.1f} {calls[fn] / items:6.2f} {pushes[fn] / items:6.2f}  {fn[:110]}")


if __name__ == '__main__':
    main()
