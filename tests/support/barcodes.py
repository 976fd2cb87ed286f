"""Reading the printed codes back as a scanner would: the SVG the server draws, or a
screenshot of the page in Chromium, turned into grey pixels and decoded by zxing-cpp (an
independent decoder, so the test does not trust the encoders it checks)."""

from __future__ import annotations

import re
import struct
import zlib

import zxingcpp

VIEWBOX = re.compile(r'viewBox="0 0 (\d+) (\d+)"')
RECT = re.compile(r"M(\d+) (\d+)h(\d+)v(\d+)h-\d+z")

Pixels = tuple[bytearray, int, int]  # grey bytes row by row, width, height


def svg_pixels(svg: str, scale: int = 4) -> Pixels:
    """The dark rectangles of one of our barcode SVGs on white, ``scale`` pixels a module."""
    found = VIEWBOX.search(svg)
    assert found, "no viewBox"
    width, height = int(found.group(1)) * scale, int(found.group(2)) * scale
    grey = bytearray(b"\xff" * (width * height))
    rects = RECT.findall(svg)
    assert rects, "no bars or modules drawn"
    for x, y, w, h in rects:
        x0, y0, w0, h0 = (int(v) * scale for v in (x, y, w, h))
        for row in range(y0, y0 + h0):
            grey[row * width + x0 : row * width + x0 + w0] = b"\x00" * w0
    return grey, width, height


def png_pixels(data: bytes) -> Pixels:
    """A PNG as Chromium writes a screenshot (8 bits, RGB or RGBA, not interlaced), grey."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    height = depth = colour = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 4 if colour == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    grey = bytearray(width * height)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        row = bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + a) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + b) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                row[i] = (row[i] + pred) & 0xFF
        for x in range(width):
            px = x * bpp
            grey[y * width + x] = (row[px] + row[px + 1] + row[px + 2]) // 3
        prev = row
    return grey, width, height


def decode(pixels: Pixels, downscale: bool = True) -> list[tuple[str, str]]:
    """(format, text) of every barcode zxing-cpp finds: ``QRCode``, ``Code128``...
    ``downscale=False`` reads the image at its own resolution only (an SVG drawn at a
    whole number of pixels a module): zxing-cpp's downscaled passes over such an exact
    drawing now and then find a second, wrong reading of a Code 128 whose check
    character happens to agree (GG04Q1CYM also read as GG&7Q'"YM)."""
    grey, width, height = pixels
    image = memoryview(bytes(grey)).cast("B", (height, width))
    found = zxingcpp.read_barcodes(image, try_downscale=downscale)
    return sorted((b.format.name, b.text) for b in found)
