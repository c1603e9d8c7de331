"""Writes seed inputs for tests/fuzz/fuzz_python.c: for a few built-in
layouts, a memory image holding one well-formed code object (name and
file str objects, a line table bytes object) the first frame points at,
so that mutations start from objects leakscope really parses.

  python3 python_seeds.py OUTDIR
"""
import os
import struct
import sys

BASE = 0x500000000000
BLOB = 1024
# layout choice byte -> (co_filename, co_qualname, co_firstlineno, co_linetable,
#                        str ascii header size, line table bytes)
LAYOUTS = {
    0: (96, 104, 36, 112, 48, bytes([0, 1, 8, 1, 8, 1])),             # 3.6, co_lnotab
    3: (104, 112, 40, 120, 48, bytes([0, 1, 8, 1, 8, 1])),            # 3.9
    4: (104, 112, 40, 120, 48, bytes([8, 1, 0, 1, 6, 1, 4, 0x80])),   # 3.10
    5: (112, 128, 72, 136, 48, bytes([0x80, 0x00, 0xd8, 0x08, 0x09])),  # 3.11 locations
    6: (112, 128, 68, 136, 40, bytes([0x80, 0x00, 0xd8, 0x08, 0x09])),  # 3.12
}


def put(img, off, data):
    img[off:off + len(data)] = data


def ascii_str(img, off, text, hdr):
    put(img, off + 16, struct.pack("<q", len(text)))
    put(img, off + 32, struct.pack("<I", 1 << 2 | 1 << 5 | 1 << 6))   # kind 1, compact, ascii
    put(img, off + hdr, text.encode() + b"\0")


def seed(choice):
    fname, qname, first, ltab, hdr, table = LAYOUTS[choice]
    img = bytearray(0x800)
    put(img, 0, struct.pack("<Q", 0x100))            # the frame's code object
    code = 0x100
    put(img, code + fname, struct.pack("<Q", BASE + 0x400))
    put(img, code + qname, struct.pack("<Q", BASE + 0x500))
    put(img, code + first, struct.pack("<i", 10))
    put(img, code + ltab, struct.pack("<Q", BASE + 0x600))
    ascii_str(img, 0x400, "app/service.py", hdr)
    ascii_str(img, 0x500, "Cache.put", hdr)
    put(img, 0x600 + 16, struct.pack("<q", len(table)))
    put(img, 0x600 + 32, table)
    return bytes([choice]) + bytes(BLOB) + bytes(img)


def debug_offsets_313():
    """A 3.13 _Py_DebugOffsets blob (the values of tests/unit/test_python.c)."""
    v = [0] * (BLOB // 8)
    fields = {1: 0x030d00f0, 3 + 2: 632, 6 + 3: 7344, 19 + 2: 8, 19 + 4: 72, 19 + 6: 160,
              28 + 1: 8, 28 + 2: 0, 28 + 3: 56, 28 + 5: 70, 34 + 1: 112, 34 + 3: 128,
              34 + 4: 136, 34 + 5: 68, 34 + 9: 200, 64 + 1: 16, 64 + 2: 32, 67 + 1: 32,
              67 + 2: 16, 67 + 3: 40}
    for i, val in fields.items():
        v[i] = val
    return b"xdebugpy" + struct.pack(f"<{len(v) - 1}Q", *v[1:])


def main(out):
    os.makedirs(out, exist_ok=True)
    for choice in LAYOUTS:
        with open(os.path.join(out, f"layout{choice}"), "wb") as f:
            f.write(seed(choice))
    with open(os.path.join(out, "debug_offsets_313"), "wb") as f:
        f.write(bytes([6]) + debug_offsets_313() + seed(6)[1 + BLOB:])   # 3.12-like objects


main(sys.argv[1])
