"""Decoding, listing, quarantine reasons and the stratified split of the prepared-image table (the table of bad
files and their reasons is tests/usecases/vision/test_bad_input.py)."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from usecases.vision.images import (
    assign_splits,
    decode_images,
    flag_unknown_labels,
    images_from_folder,
    list_files,
)
from usecases.vision.portable import decode_image


def _encoded(mode: str, fmt: str = "PNG", size: tuple[int, int] = (20, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color=0 if mode in ("L", "1") else (0,) * len(mode)).save(buffer, format=fmt)
    return buffer.getvalue()


def test_decode_resizes_and_converts() -> None:
    pixels, mode, reason = decode_image(_encoded("RGB", "JPEG"), 8, "L")
    assert reason is None and mode == "RGB" and len(pixels) == 8 * 8
    pixels, _, _ = decode_image(_encoded("L"), 8, "RGB")
    assert len(pixels) == 8 * 8 * 3
    pixels, mode, reason = decode_image(_encoded("CMYK", "JPEG"), 8, "RGB")  # CMYK converts, it is 8-bit
    assert reason is None and mode == "CMYK" and len(pixels) == 8 * 8 * 3


def test_exif_orientation_is_applied_before_resizing() -> None:
    image = Image.new("L", (4, 2), 0)
    image.putpixel((0, 0), 255)  # top-left bright
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=exif)
    pixels, _, reason = decode_image(buffer.getvalue(), 4, "L")
    upright = np.frombuffer(pixels, dtype=np.uint8).reshape(4, 4)
    assert reason is None and upright[0, -1] > 100 and upright[0, 0] < 100  # the bright corner moved right


def test_corrupt_files_and_unknown_labels_are_flagged(spark, tmp_path: Path) -> None:
    for label, name, data in [("spot", "ok.png", _encoded("L")), ("spot", "broken.png", b"\x89PNG garbage"),
                              ("smudge", "other.png", _encoded("L")), ("clean", "cmyk.jpg", _encoded("CMYK", "JPEG"))]:
        (tmp_path / label).mkdir(exist_ok=True)
        (tmp_path / label / name).write_bytes(data)
    decoded = flag_unknown_labels(decode_images(images_from_folder(spark, str(tmp_path)), 8, "L"), ("clean", "spot"))
    reasons = {Path(r["path"]).name: r["reason"] for r in decoded.collect()}
    assert reasons["ok.png"] is None and reasons["cmyk.jpg"] is None
    assert reasons["broken.png"] == "corrupt or truncated PNG header"
    assert reasons["other.png"].startswith("unknown label 'smudge'")


def test_listing_holds_every_file_spark_would_skip(tmp_path: Path) -> None:
    """Spark's binaryFile source drops empty files and names starting with '.' or '_': the listing keeps them."""
    for rel in ("a/x.png", "a/.hidden.png", "a/_under.png", "_b/y.png", "a/empty.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"" if "empty" in rel else b"x")
    assert [Path(p).relative_to(tmp_path).as_posix() for p in list_files(str(tmp_path))] == sorted(
        ["a/x.png", "a/.hidden.png", "a/_under.png", "_b/y.png", "a/empty.png"])
    assert list_files(f"file:{tmp_path}") == list_files(str(tmp_path))


@settings(max_examples=8, deadline=None)
@given(
    counts=st.lists(st.integers(1, 40), min_size=1, max_size=3),
    val_fraction=st.floats(0.05, 0.4), test_fraction=st.floats(0.05, 0.4), seed=st.integers(0, 1000),
)
def test_split_is_stratified_and_seeded(spark, counts: list[int], val_fraction: float, test_fraction: float,
                                        seed: int) -> None:
    rows = [(f"/img/{label}/{i}.png", str(label)) for label, n in enumerate(counts) for i in range(n)]
    df = spark.createDataFrame(rows, "path string, label string")
    got = Counter((r["label"], r["split"]) for r in assign_splits(df, val_fraction, test_fraction, seed).collect())
    for label, n in enumerate(counts):
        test = got.get((str(label), "test"), 0)
        val_and_test = test + got.get((str(label), "val"), 0)
        assert test_fraction * n <= test < test_fraction * n + 1  # ceil: each label gets its share
        assert (test_fraction + val_fraction) * n <= val_and_test < (test_fraction + val_fraction) * n + 1
        assert val_and_test + got.get((str(label), "train"), 0) == n


def test_split_depends_on_seed_only(spark) -> None:
    df = spark.createDataFrame([(f"/img/{i}.png", "a") for i in range(30)], "path string, label string")
    runs = [sorted(assign_splits(df, 0.2, 0.2, seed).collect()) for seed in (1, 1, 2)]
    assert runs[0] == runs[1] and runs[0] != runs[2]
