"""A catalogue of bad (and awkward but valid) image files with the reason each must get: one table for the
decoder's unit test, the prepare task's quarantine and the score task's quarantine."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

# The pixel limit the tests run with: small enough that a real 100 x 100 image trips it.
TEST_MAX_PIXELS = 5_000


def encoded(mode: str, fmt: str = "PNG", size: tuple[int, int] = (20, 20), seed: int = 0) -> bytes:
    """A seeded noise image (noise so compressed data is long enough to damage in the middle)."""
    rng = np.random.default_rng(seed)
    bands = len(Image.new(mode, (1, 1)).getbands())
    if mode in ("I;16", "I", "F"):
        image = Image.new(mode, size)
    else:
        data = rng.integers(0, 256, (size[1], size[0], bands), dtype=np.uint8)
        image = Image.fromarray(data[..., 0] if bands == 1 else data, "L" if bands == 1 else None)
        image = image.convert(mode) if image.mode != mode else image
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with a few bytes of data: a decompression-bomb probe."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def damaged_middle(data: bytes) -> bytes:
    """The file with 40 bytes in its middle zeroed: a corrupt compressed stream, same length."""
    middle = len(data) // 2
    return data[:middle] + b"\0" * 40 + data[middle + 40:]


# (relative path, file bytes, expected reason or None for a file that must be prepared)
CASES: list[tuple[str, bytes, str | None]] = [
    ("clean/good_l.png", encoded("L"), None),
    ("clean/good_rgb.jpg", encoded("RGB", "JPEG"), None),
    ("clean/cmyk.jpg", encoded("CMYK", "JPEG"), None),  # 8-bit CMYK converts
    ("clean/palette.png", encoded("P"), None),
    ("clean/gray_alpha.png", encoded("LA"), None),
    ("spot/rgba.png", encoded("RGBA"), None),
    ("spot/bilevel.png", encoded("1"), None),
    ("spot/_underscore.png", encoded("L", seed=3), None),  # Spark's file source would skip this name
    ("spot/.hidden.png", encoded("L", seed=4), None),       # and this one
    ("spot/empty.png", b"", "empty file (0 bytes)"),
    ("spot/truncated.png", encoded("L", size=(64, 64))[:200], "truncated image data"),
    ("spot/truncated.jpg", encoded("RGB", "JPEG", size=(64, 64))[:1500], "truncated image data"),
    ("spot/jpeg_header_cut.jpg", encoded("RGB", "JPEG", size=(64, 64))[:400], "corrupt or truncated JPEG header"),
    ("spot/header_cut.png", encoded("L")[:20], "corrupt or truncated PNG header"),
    ("spot/damaged.png", damaged_middle(encoded("L", size=(64, 64))),
     "corrupt image data (broken data stream when reading image file)"),
    ("spot/bomb.png", png_header_only(30_000, 30_000),
     "image too large: its header claims over 5,000 pixels (decompression-bomb guard)"),
    ("spot/over_limit.png", encoded("L", size=(100, 100)),
     "image too large: 100x100 = 10,000 pixels, over the limit of 5,000 (decompression-bomb guard)"),
    ("spot/sixteen_bit.png", encoded("I;16"),
     "unsupported image mode I;16 (16/32-bit and float images are refused: save them as 8-bit)"),
    ("spot/animation.gif", encoded("L", "GIF"), "not a PNG or JPEG image (format GIF)"),
    ("spot/notes.txt", b"inspection notes, not an image\n", "not an image (no known image format)"),
    ("spot/huge.bin", b"\0" * (4 * TEST_MAX_PIXELS + (1 << 20) + 1),
     "file too large: 1,068,577 bytes, over the 1,068,576 bytes an image within the pixel limit can take"),
]
# Files only the prepare task refuses (their folder is not one of the job's classes).
LABEL_CASES: list[tuple[str, bytes, str]] = [
    ("smudge/other_class.png", encoded("L", seed=5), "unknown label 'smudge' (expected one of clean, spot)"),
]
CLASSES = ("clean", "spot")
