"""Decoding, quarantine reasons and the stratified split of the prepared-image table."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from usecases.vision.images import (
    assign_splits,
    decode_image,
    decode_images,
    flag_unknown_labels,
    images_from_folder,
)


def _encoded(mode: str, fmt: str = "PNG", size: tuple[int, int] = (20, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color=0 if mode in ("L", "1") else (0,) * len(mode)).save(buffer, format=fmt)
    return buffer.getvalue()


def test_decode_resizes_and_converts() -> None:
    pixels, mode, reason = decode_image(_encoded("RGB", "JPEG"), 8, "L")
    assert reason is None and mode == "RGB" and len(pixels) == 8 * 8
    pixels, _, _ = decode_image(_encoded("L"), 8, "RGB")
    assert len(pixels) == 8 * 8 * 3


def test_decode_gives_reasons_instead_of_raising() -> None:
    png = _encoded("L")
    assert "cannot decode" in decode_image(png[: len(png) // 2], 8, "L")[2]
    assert "cannot decode" in decode_image(b"not an image", 8, "L")[2]
    assert decode_image(_encoded("CMYK", "JPEG"), 8, "L")[2] == "unsupported image mode CMYK"
    assert "not a PNG or JPEG" in decode_image(_encoded("L", "GIF"), 8, "L")[2]
    assert decode_image(None, 8, "L")[2] == "file could not be read"


def test_corrupt_files_and_unknown_labels_are_flagged(spark, tmp_path: Path) -> None:
    for label, name, data in [("spot", "ok.png", _encoded("L")), ("spot", "broken.png", b"\x89PNG garbage"),
                              ("smudge", "other.png", _encoded("L")), ("clean", "cmyk.jpg", _encoded("CMYK", "JPEG"))]:
        (tmp_path / label).mkdir(exist_ok=True)
        (tmp_path / label / name).write_bytes(data)
    decoded = flag_unknown_labels(decode_images(images_from_folder(spark, str(tmp_path)), 8, "L"), ("clean", "spot"))
    reasons = {Path(r["path"]).name: r["reason"] for r in decoded.collect()}
    assert reasons["ok.png"] is None
    assert reasons["broken.png"].startswith("cannot decode image")
    assert reasons["other.png"].startswith("unknown label 'smudge'")
    assert reasons["cmyk.jpg"] == "unsupported image mode CMYK"


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
