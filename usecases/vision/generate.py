"""Seeded synthetic defect-inspection images: textured surfaces with planted scratches, cracks, spots, or none."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

DEFECTS = ("clean", "crack", "scratch", "spot")


def _surface(rng: np.random.Generator, size: int) -> np.ndarray:
    """A brushed-metal surface in [0, 1]: base level, gentle gradient, streaks along rows, fine noise."""
    base = rng.uniform(0.4, 0.6)
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, 2 * math.pi)
    gradient = 0.06 * (np.cos(angle) * xx + np.sin(angle) * yy)
    streaks = np.repeat(rng.normal(0, 0.025, (size, 1)), size, axis=1)
    return base + gradient + streaks + rng.normal(0, 0.02, (size, size))


def _stroke_mask(size: int, points: Sequence[tuple[float, float]], width: int, blur: float) -> np.ndarray:
    """A [0, 1] mask of a polyline (drawn at 4x and downsampled so thin lines stay smooth)."""
    scale = 4
    canvas = Image.new("L", (size * scale, size * scale), 0)
    ImageDraw.Draw(canvas).line([(x * scale, y * scale) for x, y in points], fill=255, width=width * scale)
    canvas = canvas.resize((size, size), Image.Resampling.BOX)
    if blur:
        canvas = canvas.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(canvas, dtype=np.float64) / 255.0


def _scratch(rng: np.random.Generator, size: int) -> np.ndarray:
    """A long, straight, thin, bright line: a tool mark."""
    angle = rng.uniform(0, math.pi)
    length = rng.uniform(0.55, 0.9) * size
    cx, cy = rng.uniform(0.35, 0.65, 2) * size
    dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
    return 0.35 * _stroke_mask(size, [(cx - dx, cy - dy), (cx + dx, cy + dy)], width=max(1, size // 32), blur=0)


def _crack(rng: np.random.Generator, size: int) -> np.ndarray:
    """A dark jagged path that changes direction at every step, sometimes with a branch."""
    def walk(x: float, y: float, heading: float, steps: int) -> list[tuple[float, float]]:
        points = [(x, y)]
        for _ in range(steps):
            heading += rng.uniform(-0.9, 0.9)
            step = rng.uniform(0.06, 0.11) * size
            x, y = x + math.cos(heading) * step, y + math.sin(heading) * step
            points.append((x, y))
        return points

    heading = rng.uniform(0, 2 * math.pi)
    trunk = walk(*(rng.uniform(0.25, 0.75, 2) * size), heading, int(rng.integers(6, 10)))
    mask = _stroke_mask(size, trunk, width=max(1, size // 32), blur=0.4)
    if rng.random() < 0.5:
        fork = trunk[len(trunk) // 2]
        mask = np.maximum(mask, _stroke_mask(size, walk(*fork, heading + 1.2, 3), max(1, size // 32), 0.4))
    return -0.4 * mask


def _spot(rng: np.random.Generator, size: int) -> np.ndarray:
    """One to three round blobs, dark (pits) or bright (residue), soft-edged."""
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(1, 4))):
        r = rng.uniform(0.05, 0.11) * size
        cx, cy = rng.uniform(0.2, 0.8, 2) * size
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    mask = np.asarray(canvas.filter(ImageFilter.GaussianBlur(size / 64)), dtype=np.float64) / 255.0
    return (0.35 if rng.random() < 0.5 else -0.35) * mask


_PLANTERS = {"crack": _crack, "scratch": _scratch, "spot": _spot}


def make_image(defect: str, rng: np.random.Generator, size: int) -> Image.Image:
    """One grayscale part image of ``size`` x ``size`` pixels showing ``defect`` (one of DEFECTS)."""
    pixels = _surface(rng, size)
    if defect != "clean":
        pixels = pixels + _PLANTERS[defect](rng, size)
    return Image.fromarray((np.clip(pixels, 0, 1) * 255).round().astype(np.uint8), mode="L")


def write_defect_images(root: str | Path, count: int, seed: int, size: int = 64) -> dict[str, int]:
    """Write ``count`` PNGs as ``<root>/<defect>/<defect>_<i>.png``, classes in turn; return files per class.

    Each image has its own generator seeded from (seed, i), so the set is identical for a seed whatever the
    count, and image i is the same in a run of 100 or 1,000.
    """
    root = Path(root)
    written = {d: 0 for d in DEFECTS}
    for i in range(count):
        defect = DEFECTS[i % len(DEFECTS)]
        rng = np.random.default_rng([seed, i])
        folder = root / defect
        folder.mkdir(parents=True, exist_ok=True)
        make_image(defect, rng, size).save(folder / f"{defect}_{i:06d}.png", optimize=False)
        written[defect] += 1
    return written
