#!/usr/bin/python3
"""Writes the PNG fixtures of tests/test_image.c into tests/data/png/ with a PNG writer of its own
(zlib + struct, no libpng), so the C reader is checked against an independent encoder.

Every fixture is W x H = 5 x 3 pixels; sample k of pixel (x, y) is
    8 bits:  (37 x + 11 y + 71 k + 5) mod 256
    16 bits: (9973 x + 311 y + 17011 k + 101) mod 65536
    palette: index (x + 2 y) mod 4 into PALETTE below
(tests/test_image.c computes the same). Usage, from the repository root:
    /usr/bin/python3 tests/tools/make_pngs.py tests/data/png
"""
import os
import struct
import sys
import zlib

W, H = 5, 3
PALETTE = [(0, 0, 0), (255, 0, 0), (10, 200, 30), (255, 255, 255)]


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(color_type, bits, rows, extra=b"", interlace=0):
    ihdr = struct.pack(">IIBBBBB", W, H, bits, color_type, 0, 0, interlace)
    raw = b"".join(b"\x00" + r for r in rows)  # filter type 0 on every row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def s8(x, y, k):
    return (37 * x + 11 * y + 71 * k + 5) % 256


def s16(x, y, k):
    return (9973 * x + 311 * y + 17011 * k + 101) % 65536


def rows(channels, bits):
    out = []
    for y in range(H):
        r = b""
        for x in range(W):
            for k in range(channels):
                r += bytes([s8(x, y, k)]) if bits == 8 else struct.pack(">H", s16(x, y, k))
        out.append(r)
    return out


def main(outdir):
    os.makedirs(outdir, exist_ok=True)
    files = {}
    # color types: 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA
    for name, ctype, ch in (("gray", 0, 1), ("rgb", 2, 3), ("ga", 4, 2), ("rgba", 6, 4)):
        for bits in (8, 16):
            files[f"{name}{bits}.png"] = png(ctype, bits, rows(ch, bits))
    idx = [bytes([(x + 2 * y) % 4 for x in range(W)]) for y in range(H)]
    plte = chunk(b"PLTE", b"".join(bytes(p) for p in PALETTE))
    files["palette.png"] = png(3, 8, idx, plte)
    # palette with tRNS: entry 1 half transparent, the rest opaque (missing entries are 255)
    files["palette_trns.png"] = png(3, 8, idx, plte + chunk(b"tRNS", bytes([255, 128])))
    # 1-bit gray: pixel (x, y) is 1 where (x + y) is odd; rows padded to whole bytes
    bit_rows = []
    for y in range(H):
        v = 0
        for x in range(W):
            v |= ((x + y) & 1) << (7 - x)
        bit_rows.append(bytes([v]))
    files["gray1.png"] = png(0, 1, bit_rows)
    # Adam7: the 8-bit RGB pixels in seven passes, each a sub-image of rows (empty passes left out)
    ch = 3
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
    sub_rows = []
    for x0, y0, dx, dy in passes:
        xs = range(x0, W, dx)
        if not xs:
            continue
        for y in range(y0, H, dy):
            sub_rows.append(bytes(s8(x, y, k) for x in xs for k in range(ch)))
    files["rgb8_interlaced.png"] = png(2, 8, sub_rows, interlace=1)
    for name, data in files.items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/png")
