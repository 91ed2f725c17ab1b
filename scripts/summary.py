#!/usr/bin/env python3
"""Print one 'N passed, N failed, N skipped' line for meson test logs.

Each test program prints its own closing line of that shape (tests/t.c and
tests/lib.sh); programs that print none count as one case by their result."""
import json
import re
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        print(f"summary: {path} missing", file=sys.stderr)
        continue
    for line in lines:
        t = json.loads(line)
        m = None
        for m in re.finditer(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$",
                             t.get("stdout", ""), re.M):
            pass
        if m:
            passed += int(m.group(1))
            failed += int(m.group(2))
            skipped += int(m.group(3) or 0)
            if t["result"] not in ("OK", "SKIP") and int(m.group(2)) == 0:
                failed += 1  # crashed or timed out after its summary
        elif t["result"] == "OK":
            passed += 1
        elif t["result"] == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
