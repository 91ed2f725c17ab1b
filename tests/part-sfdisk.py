#!/usr/bin/env python3
"""part-sfdisk.py — turn `sfdisk --json IMAGE` (stdin) into the canonical lines
that tests/test-part.c prints for uvfs_image_info, so the two can be compared:

    table LABEL ID
    N START_BYTES SIZE_BYTES TYPE boot=0|1 ext=0|1 uuid=UUID name=NAME

MBR types become "0xNN"; byte values use the table's sector size."""
import json
import sys

t = json.load(sys.stdin)["partitiontable"]
ss = int(t.get("sectorsize", 512))
dev = t.get("device", "")
label = t["label"]
print("table %s %s" % (label, t.get("id", "")))
for p in t.get("partitions", []):
    node = p["node"]
    num = int(node[len(dev):].lstrip("p")) if node.startswith(dev) else int(
        "".join(c for c in node if c.isdigit())[-3:])
    if label == "dos":
        ty = int(p["type"], 16)
        typ = "0x%02x" % ty
        boot = 1 if p.get("bootable") else 0
        ext = 1 if ty in (0x05, 0x0F, 0x85) else 0
    else:
        typ = p["type"].upper()
        boot = 1 if "LegacyBIOSBootable" in p.get("attrs", "") else 0
        ext = 0
    print("%d %d %d %s boot=%d ext=%d uuid=%s name=%s" % (
        num, p["start"] * ss, p["size"] * ss, typ, boot, ext,
        p.get("uuid", "").upper(), p.get("name", "")))
