"""Shared by asm_per_item.py and rmw_per_item.py: reading a callgrind file
made with --dump-instr=yes, and a binary's disassembly."""
import collections
import re
import subprocess

# A cost line: instruction address (absolute, relative, or "*" = same),
# line number (any form), cost.
_COST = re.compile(r'^(0x[0-9a-f]+|\+\d+|-\d+|\*)\s+(?:[-+*]?\d*)\s+(\d+)')


def instruction_counts(path):
    """Executions per instruction address (self cost; calls' inclusive
    cost lines only move the current address)."""
    counts = collections.Counter()
    last = 0
    with open(path) as f:
        for line in f:
            is_call = line.startswith('calls=')
            if is_call:
                line = next(f, '')
            m = _COST.match(line)
            if not m:
                continue
            p = m.group(1)
            if p.startswith('0x'):
                last = int(p, 16)
            elif p[0] in '+-':
                last += int(p)
            if not is_call:
                counts[last] += int(m.group(2))
    return counts


def disassembly(binary):
    """Yields (function, address, instruction text) for every instruction."""
    out = subprocess.run(['objdump', '-d', '--no-show-raw-insn', '-C', binary],
                         capture_output=True, text=True, check=True).stdout
    fn = None
    for line in out.splitlines():
        m = re.match(r'^([0-9a-f]+) <(.*)>:', line)
        if m:
            fn = m.group(2)
            continue
        m = re.match(r'^\s+([0-9a-f]+):\s+(.*)$', line)
        if m and fn is not None:
            yield fn, int(m.group(1), 16), m.group(2)
