#!/usr/bin/env python3
"""cli-json.py — check the CLI's --json output (read from stdin).

  cli-json.py valid                 parse only (strict: no NaN, no duplicates)
  cli-json.py names HOSTDIR [IGN]   the "name" fields of the array, encoded back
                                    to bytes with surrogateescape, equal the
                                    names in HOSTDIR (minus IGN)
  cli-json.py get INDEX KEY         print element INDEX's KEY
  cli-json.py find NAME KEY         print KEY of the element whose name is NAME
"""
import json
import os
import sys


def strict_pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate key %r" % k)
        d[k] = v
    return d


def bad_constant(c):
    raise ValueError("bad constant %r" % c)


def main():
    raw = sys.stdin.buffer.read()
    data = json.loads(raw.decode("utf-8"), object_pairs_hook=strict_pairs,
                      parse_constant=bad_constant)
    cmd = sys.argv[1]
    if cmd == "valid":
        return 0
    if cmd == "names":
        want = set(os.listdir(os.fsencode(sys.argv[2])))
        if len(sys.argv) > 3:
            want.discard(os.fsencode(sys.argv[3]))
        got = [os.fsencode(o["name"]) for o in data if o["name"] not in (".", "..")]
        if len(sys.argv) > 3:
            got = [g for g in got if g != os.fsencode(sys.argv[3])]
        if len(got) != len(set(got)) or set(got) != want:
            print("names differ:\n got  %r\n want %r" % (sorted(got), sorted(want)))
            return 1
        return 0
    if cmd == "get":
        print(data[int(sys.argv[2])][sys.argv[3]])
        return 0
    if cmd == "find":
        for o in data:
            if o.get("name") == sys.argv[2]:
                print(o[sys.argv[3]])
                return 0
        print("no element named %r" % sys.argv[2], file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
