"""Images per second for one training epoch: Lightning Trainer versus a plain PyTorch loop (same model, data, batches).

The batches are decoded once into memory and fed to both in the same order, so the difference is the framework's
per-step overhead alone. Both start from the same seed and must end with the same weights.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torch.nn import functional as F

from usecases.vision.generate import DEFECTS, make_image
from usecases.vision.model import DefectClassifier, build_backbone


def make_batches(images: int, size: int, batch_size: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The generated defect set at ``size`` (drawn at 2x and downsampled, as prepare does), in fixed batches."""
    from PIL import Image

    pixels, labels = [], []
    for i in range(images):
        image = make_image(DEFECTS[i % 4], np.random.default_rng([seed, i]), 2 * size)
        pixels.append(np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32) / 255)
        labels.append(i % 4)
    order = np.random.default_rng(seed).permutation(images)
    x, y = torch.from_numpy(np.stack(pixels)[order][:, None]), torch.tensor(labels)[order]
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, images - batch_size + 1, batch_size)]


def fresh_model(seed: int, epochs: int) -> DefectClassifier:
    torch.manual_seed(seed)
    return DefectClassifier(build_backbone("compact_cnn", 1, len(DEFECTS), 16), 0.002, max_epochs=epochs)


def plain_epochs(batches: list, epochs: int, seed: int) -> tuple[list[tuple[float, float]], DefectClassifier]:
    """The loop Lightning replaces: forward, loss, backward, step; cosine schedule stepped per epoch."""
    module = fresh_model(seed, epochs)
    optimizer_config = module.configure_optimizers()
    optimizer, schedule = optimizer_config["optimizer"], optimizer_config["lr_scheduler"]
    times = []
    module.train()
    loader = torch.utils.data.DataLoader(batches, batch_size=None)  # the same loader Lightning gets
    for _ in range(epochs):
        started = (time.perf_counter(), time.process_time())
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(module.net(x), y).backward()
            optimizer.step()
        schedule.step()
        times.append((time.perf_counter() - started[0], time.process_time() - started[1]))
    return times, module


class EpochTimer(Callback):
    def __init__(self) -> None:
        self.times: list[tuple[float, float]] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = (time.perf_counter(), time.process_time())

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.times.append((time.perf_counter() - self.started[0], time.process_time() - self.started[1]))


def lightning_epochs(batches: list, epochs: int, seed: int) -> tuple[list[tuple[float, float]], DefectClassifier]:
    """The same model and batches through Trainer.fit (no validation, logger, checkpoints or progress bar)."""
    module, timer = fresh_model(seed, epochs), EpochTimer()
    with tempfile.TemporaryDirectory() as root:
        trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, callbacks=[timer], logger=False,
                            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                            limit_val_batches=0, default_root_dir=root)
        trainer.fit(module, torch.utils.data.DataLoader(batches, batch_size=None))
    return timer.times, module


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks vision")
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed run (best epoch counts)")
    parser.add_argument("--repeats", type=int, default=6, help="alternating plain/Lightning runs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    batches = make_batches(args.images, args.size, args.batch_size, args.seed)
    per_epoch = len(batches) * args.batch_size
    plain_times, lightning_times, paired_ratios = [], [], []
    for repeat in range(args.repeats):  # alternate (and swap who goes first) so drifting load hits both alike
        if repeat % 2:
            lightning_run, lit = lightning_epochs(batches, args.epochs, args.seed)
        plain_run, plain = plain_epochs(batches, args.epochs, args.seed)
        if not repeat % 2:
            lightning_run, lit = lightning_epochs(batches, args.epochs, args.seed)
        plain_times += plain_run
        lightning_times += lightning_run
        # CPU seconds of this process: with one thread they measure the work done, not the other tenants' load.
        paired_ratios.append(min(t[1] for t in lightning_run) / min(t[1] for t in plain_run))
    max_diff = max((a - b).abs().max().item() for a, b in zip(plain.net.state_dict().values(),
                                                               lit.net.state_dict().values(), strict=True))

    def throughput(times: list[tuple[float, float]], which: int, pick) -> float:
        return round(per_epoch / pick([t[which] for t in times]), 1)

    overhead = statistics.median(paired_ratios) - 1  # CPU time of adjacent runs: robust to other tenants' load
    return {
        "images_per_epoch": per_epoch, "image_size": args.size, "batch_size": args.batch_size,
        "threads": args.threads, "epochs_timed_each": len(plain_times),
        "plain_images_per_cpu_s": throughput(plain_times, 1, min),
        "lightning_images_per_cpu_s": throughput(lightning_times, 1, min),
        "plain_images_per_s_wall_best": throughput(plain_times, 0, min),
        "lightning_images_per_s_wall_best": throughput(lightning_times, 0, min),
        "plain_images_per_s_wall_median": throughput(plain_times, 0, statistics.median),
        "lightning_images_per_s_wall_median": throughput(lightning_times, 0, statistics.median),
        "lightning_overhead": round(overhead, 4), "paired_time_ratios": [round(r, 3) for r in paired_ratios],
        "target_overhead": 0.10, "within_target": overhead <= 0.10,
        "max_weight_difference": max_diff, "identical_weights": max_diff < 1e-5,
    }
