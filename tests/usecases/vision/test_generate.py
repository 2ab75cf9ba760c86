"""The synthetic defect set: seeded, balanced, and each defect visibly changes the surface."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from usecases.vision.generate import DEFECTS, make_image, write_defect_images


def test_same_seed_same_files_and_balanced_classes(tmp_path: Path) -> None:
    first = write_defect_images(tmp_path / "a", 12, seed=7, size=32)
    write_defect_images(tmp_path / "b", 12, seed=7, size=32)
    assert first == {d: 3 for d in DEFECTS}
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert len(files_a) == 12
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_defects_depart_from_the_clean_surface() -> None:
    """Same generator state for the surface, so the difference is the planted defect alone."""
    clean = np.asarray(make_image("clean", np.random.default_rng(3), 64), dtype=float)
    for defect in ("crack", "scratch", "spot"):
        planted = np.asarray(make_image(defect, np.random.default_rng(3), 64), dtype=float)
        assert np.abs(planted - clean).max() > 40, defect
