#!/usr/bin/env python3
"""part-gptname.py IMAGE N NAME — set the name of GPT entry N (1-based) in
both the primary and the backup partition arrays of IMAGE (512-byte sectors)
to NAME encoded as UTF-16LE (so characters outside the BMP become surrogate
pairs, which sfdisk cannot write), and fix every CRC32 with Python's zlib."""
import struct
import sys
import zlib

path, n, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "r+b") as f:
    f.seek(0, 2)
    last = f.tell() // 512 - 1
    for lba in (1, last):
        f.seek(lba * 512)
        hdr = bytearray(f.read(512))
        assert hdr[:8] == b"EFI PART", "no GPT header at LBA %d" % lba
        hsize = struct.unpack_from("<I", hdr, 12)[0]
        ent_lba, count, esize = struct.unpack_from("<QII", hdr, 72)
        f.seek(ent_lba * 512)
        arr = bytearray(f.read(count * esize))
        raw = name.encode("utf-16-le")[:72].ljust(72, b"\0")
        off = (n - 1) * esize + 56
        arr[off:off + 72] = raw
        f.seek(ent_lba * 512)
        f.write(arr)
        struct.pack_into("<I", hdr, 88, zlib.crc32(bytes(arr)))
        struct.pack_into("<I", hdr, 16, 0)
        struct.pack_into("<I", hdr, 16, zlib.crc32(bytes(hdr[:hsize])))
        f.seek(lba * 512)
        f.write(hdr)
