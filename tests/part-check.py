#!/usr/bin/env python3
"""part-check.py UVFS_JSON IMAGE — compare `uvfs info --json IMAGE` (the file
UVFS_JSON) with util-linux on the same image: the partition list with
`sfdisk --json IMAGE` (number, start, size, type, name, uuid, bootable) and
each filesystem with `blkid -p -o export -O START -S SIZE IMAGE` (type,
label, uuid, version). With no table, the whole image is probed. Prints one
line per difference; exit status 1 if there was any."""
import json
import subprocess
import sys

uv_path, image = sys.argv[1], sys.argv[2]
uv = json.load(open(uv_path))
bad = []


def blkid(off, size):
    r = subprocess.run(["blkid", "-p", "-o", "export", "-O", str(off), "-S", str(size), image],
                       capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition("=")
        out[k] = v.replace("\\ ", " ").replace("\\\\", "\\")
    return out


def check_fs(where, fs, off, size):
    b = blkid(off, size)
    btype = b.get("TYPE", "")
    if btype == "crypto_LUKS":  # uvfs says "luks", version "LUKS2"
        btype = "luks"
        if b.get("VERSION"):
            b["VERSION"] = "LUKS" + b["VERSION"]
    if not btype:
        if fs is not None:
            bad.append("%s: uvfs found %s, blkid nothing" % (where, fs["type"]))
        return
    if fs is None:
        bad.append("%s: blkid found %s, uvfs nothing" % (where, btype))
        return
    for key, val in (("type", btype), ("label", b.get("LABEL", "")), ("uuid", b.get("UUID", ""))):
        if fs[key] != val:
            bad.append("%s: %s is %r, blkid says %r" % (where, key, fs[key], val))
    if b.get("VERSION") == "Joliet Extension":  # too long for uvfs_fsinfo.version
        b["VERSION"] = "Joliet"
    if b.get("VERSION") and fs["version"] != b["VERSION"]:
        bad.append("%s: version is %r, blkid says %r" % (where, fs["version"], b["VERSION"]))


if uv["table"] is None:
    check_fs("whole image", uv["filesystem"], 0, uv["size"])
    if uv["partitions"]:
        bad.append("no table but %d partitions" % len(uv["partitions"]))
else:
    sf = json.loads(subprocess.run(["sfdisk", "--json", image], capture_output=True,
                                   text=True, check=True).stdout)["partitiontable"]
    ss = int(sf.get("sectorsize", 512))
    if uv["table"] != sf["label"]:
        bad.append("table %r, sfdisk says %r" % (uv["table"], sf["label"]))
    if uv["disk_id"].lower() != sf.get("id", "").lower():
        bad.append("disk id %r, sfdisk says %r" % (uv["disk_id"], sf.get("id")))
    want = {}
    for p in sf.get("partitions", []):
        n = int(p["node"][len(sf["device"]):].lstrip("p"))
        want[n] = p
    got = {p["number"]: p for p in uv["partitions"]}
    if sorted(want) != sorted(got):
        bad.append("partition numbers %s, sfdisk says %s" % (sorted(got), sorted(want)))
    for n in sorted(set(want) & set(got)):
        w, g = want[n], got[n]
        where = "partition %d" % n
        if g["start"] != w["start"] * ss or g["size"] != w["size"] * ss:
            bad.append("%s: %d+%d bytes, sfdisk says %d+%d" % (where, g["start"], g["size"],
                                                              w["start"] * ss, w["size"] * ss))
        if sf["label"] == "dos":
            if int(g["type"], 16) != int(w["type"], 16):
                bad.append("%s: type %s, sfdisk says %s" % (where, g["type"], w["type"]))
            if g["bootable"] != bool(w.get("bootable")):
                bad.append("%s: bootable %s" % (where, g["bootable"]))
            ext = int(w["type"], 16) in (0x05, 0x0F, 0x85)
            if g["extended"] != ext:
                bad.append("%s: extended %s" % (where, g["extended"]))
        else:
            for key in ("type", "uuid"):
                if g[key].upper() != w.get(key, "").upper():
                    bad.append("%s: %s %r, sfdisk says %r" % (where, key, g[key], w.get(key)))
            if g["name"] != w.get("name", ""):
                bad.append("%s: name %r, sfdisk says %r" % (where, g["name"], w.get("name")))
        if not g["extended"]:
            check_fs(where, g["filesystem"], g["start"], g["size"])

for b in bad:
    print("part-check: %s: %s" % (image, b))
sys.exit(1 if bad else 0)
