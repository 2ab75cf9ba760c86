"""Accuracy of the vision job on a real 10-class image set: scikit-learn's handwritten digits, upscaled.

Source: ``sklearn.datasets.load_digits`` - 1,797 images of 8 x 8 pixels, 16 grey levels, of the digits 0-9 written
by 43 people: the test part of the UCI "Optical Recognition of Handwritten Digits" data set (Alpaydin & Kaynak,
1998), shipped inside the scikit-learn wheel, so nothing is downloaded. Each image is scaled to 0..255, upscaled
(bicubic) to ``--size`` pixels and written as ``<digit>/digit_<index>.png``; the job's prepare and train tasks then
run on that folder with the job's defaults except ``classes`` (0..9), in one MLflow store.

The two ways of doing the same work: training without augmentation, and with ``--augment`` (random shifts, applied
to training batches only), on the same prepared table and so the same test split. Each run's registered model is
also scored as MLflow logged it (through the pyfunc, on PNG files): that figure must equal the in-memory one.
Needs scikit-learn (the ``fraud`` extra, or ``all``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SOURCE = "sklearn.datasets.load_digits (UCI Optical Recognition of Handwritten Digits, 1,797 images, 8x8)"
TARGET_ACCURACY = 0.97


def write_digits(root: Path, size: int, limit: int | None = None) -> int:
    """The digits as ``<root>/<digit>/digit_<i>.png`` at ``size`` x ``size`` (8-bit greyscale); returns the count."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.images, digits.target
    if limit:
        images, labels = images[:limit], labels[:limit]
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        grey = Image.fromarray(np.round(image * 255 / 16).astype(np.uint8), mode="L")
        grey.resize((size, size), Image.Resampling.BICUBIC).save(folder / f"digit_{i:04d}.png")
    return len(labels)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the torchrun training processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks vision_digits")
    parser.add_argument("--size", type=int, default=32, help="side the 8x8 digits are upscaled to")
    parser.add_argument("--augment", default="shift", help="augmentation of the second run")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N digits (0: all 1,797)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="another job parameter for both runs (e.g. backbone=tiny_resnet)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="vision-digits-"))
    try:
        return _run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(args: argparse.Namespace, root: Path) -> dict:
    """Both runs in one store under ``root``."""
    from shared.bundle import load_bundle
    from shared.runner import parse_overrides, run_job
    from shared.spark import get_spark

    os.environ.setdefault("USECASES_HOME", str(root / "home"))
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'home' / 'mlflow.db'}")
    (root / "home").mkdir(parents=True, exist_ok=True)
    images = write_digits(root / "digits", args.size, args.limit or None)
    get_spark("bench-vision-digits").range(1).count()  # session start-up is not part of either measurement
    bundle = load_bundle(Path(__file__).resolve().parents[1])
    common = {"image_folder": str(root / "digits"), "score_folder": str(root / "digits"),
              "classes": ",".join(str(d) for d in range(10)), "image_size": str(args.size),
              "generate_data": "false", **parse_overrides(args.param)}
    warehouse = str(root / "warehouse")
    prepared = run_job(bundle, "vision", common, only_task="prepare", warehouse=warehouse, echo=lambda _: None)[0]
    runs = {}
    for augment in ("none", args.augment):
        started, cpu = time.perf_counter(), cpu_seconds()
        train = run_job(bundle, "vision", {**common, "augment": augment}, only_task="train", warehouse=warehouse,
                        echo=lambda _: None)[0].report
        metrics = train.metrics
        runs[augment] = {
            "test_accuracy": round(metrics["test_accuracy"], 4),
            "test_accuracy_logged_model": round(metrics["test_accuracy_logged_model"], 4),
            "epochs_run": int(metrics["epochs_run"]), "best_epoch": int(metrics["best_epoch"]),
            "train_wall_s": round(time.perf_counter() - started, 1),
            "train_cpu_s": round(cpu_seconds() - cpu, 1),
            "reaches_target": metrics["test_accuracy"] >= TARGET_ACCURACY,
        }
        print(f"augment={augment}: test accuracy {metrics['test_accuracy']:.4f} after {int(metrics['epochs_run'])} "
              f"epochs (best {int(metrics['best_epoch'])}), {runs[augment]['train_wall_s']} s wall")
    first, second = runs["none"], runs[args.augment]
    return {
        "source": SOURCE, "images": images, "image_size": args.size, "target_accuracy": TARGET_ACCURACY,
        "splits": {k.removesuffix("_images"): int(v) for k, v in prepared.report.metrics.items()},
        "settings": {k: v for k, v in common.items() if k not in ("image_folder", "score_folder")},
        "runs": runs,
        "accuracy_gain_from_augmentation": round(second["test_accuracy"] - first["test_accuracy"], 4),
        "identical_logged_model_accuracy": all(
            r["test_accuracy"] == r["test_accuracy_logged_model"] for r in runs.values()),
    }
