#!/usr/bin/env python3
"""asm_per_item.py BINARY CALLGRIND_OUT ITEMS FUNCTION_SUBSTRING

The disassembly of every function whose demangled name contains
FUNCTION_SUBSTRING, each instruction prefixed by how many times it ran per
item, from a callgrind file made with --dump-instr=yes. Opt builds carry no
line tables: this is how to see where a function's instructions go.
Pipe through `grep -v "^  0.00"` to hide what did not run.
"""
import signal
import sys

import cgdata

signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet when piped into head


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    binary, cg, items, sub = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    counts = cgdata.instruction_counts(cg)
    shown, total = None, 0.0
    for fn, addr, ins in cgdata.disassembly(binary):
        if sub not in fn:
            continue
        if fn != shown:
            print(f"\n== {fn[:200]}")
            shown = fn
        c = counts.get(addr, 0) / items
        total += c
        print(f"{c:6.2f}  {addr:x}  {ins}")
    print(f"\ntotal per item in matching functions: {total:.1f}")


if __name__ == '__main__':
    main()
