#!/usr/bin/env python3
"""part-gptpatch.py IMAGE primary|backup OFFSET SIZE VALUE — write VALUE as a
little-endian integer of SIZE bytes (4 or 8) at OFFSET of the GPT header
(512-byte sectors) and fix the header CRC32 with Python's zlib, so that a
hostile field reaches the parser behind a valid checksum."""
import struct
import sys
import zlib

path, which, off, size, value = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5], 0)
with open(path, "r+b") as f:
    f.seek(0, 2)
    lba = 1 if which == "primary" else f.tell() // 512 - 1
    f.seek(lba * 512)
    hdr = bytearray(f.read(512))
    assert hdr[:8] == b"EFI PART"
    struct.pack_into("<I" if size == 4 else "<Q", hdr, off, value)
    hsize = min(struct.unpack_from("<I", hdr, 12)[0], 512)
    struct.pack_into("<I", hdr, 16, 0)
    struct.pack_into("<I", hdr, 16, zlib.crc32(bytes(hdr[:max(hsize, 92)])))
    f.seek(lba * 512)
    f.write(hdr)
