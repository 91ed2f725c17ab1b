#!/usr/bin/env python3
"""cgtop.py — summarise a callgrind profile: the top functions by self and
inclusive instruction count (Ir), with how many times each was called.

  valgrind --tool=callgrind --callgrind-out-file=cg.out build/bench/uvfs-bench read img /big/file /dev/null
  python3 bench/cgtop.py cg.out [N]

Needs callgrind_annotate (valgrind). Standard library only."""
import re
import subprocess
import sys


def annotate(path, *opts):
    return subprocess.run(["callgrind_annotate", *opts, path], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, check=True).stdout.decode(errors="replace")


LINE = re.compile(r"^\s*([\d,]+)\s+\([\s\d.]+%\)\s+([<*>])?\s*(\S.*?)(?:\s+\(([\d,]+)x\))?\s+\[(.*)\]\s*$")


def short(fn, obj):
    name = fn.split(":", 1)[1] if ":" in fn else fn
    lib = obj.rsplit("/", 1)[-1]
    return "%s [%s]" % (name, lib)


def main():
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    calls, incl = {}, {}
    acc = 0
    for line in annotate(path, "--tree=caller", "--inclusive=yes").splitlines():
        m = LINE.match(line)
        if not m:
            acc = 0
            continue
        ir, mark, fn, cnt, obj = m.groups()
        key = short(fn, obj)
        if mark == "<":
            acc += int((cnt or "0").replace(",", ""))
        elif mark == "*":
            calls[key] = acc
            incl[key] = int(ir.replace(",", ""))
            acc = 0
    total = 0
    rows = []
    for line in annotate(path, "--inclusive=no").splitlines():
        if "PROGRAM TOTALS" in line:
            total = int(line.split()[0].replace(",", ""))
            continue
        m = re.match(r"^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(\S.*?)\s+\[(.*)\]\s*$", line)
        if m:
            rows.append((int(m.group(1).replace(",", "")), short(m.group(2), m.group(3))))
    print("total Ir: %d" % total)
    print("%12s %6s %12s %6s %10s  %s" % ("self Ir", "self%", "incl Ir", "incl%", "calls", "function"))
    for ir, key in rows[:n]:
        inc = incl.get(key, 0)
        print("%12d %5.1f%% %12d %5.1f%% %10s  %s" % (ir, 100.0 * ir / total, inc, 100.0 * inc / total,
                                                   calls.get(key, "?"), key))


if __name__ == "__main__":
    main()
