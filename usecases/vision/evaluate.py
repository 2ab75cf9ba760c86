"""Test-split evaluation of a trained network: predictions, accuracy, confusion matrix and sample-grid figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend must be chosen first
import numpy as np
import torch
from matplotlib.figure import Figure

from usecases.vision.data import iterate_split
from usecases.vision.portable import fast_input, fast_layout

GRID_SAMPLES = 16


@dataclass(frozen=True)
class Evaluation:
    """True and predicted class indices over a split, plus the first images for a picture of the predictions."""

    y_true: np.ndarray
    y_pred: np.ndarray
    samples: np.ndarray  # (n, C, H, W) in [0, 1]

    @property
    def accuracy(self) -> float:
        return float((self.y_true == self.y_pred).mean()) if len(self.y_true) else float("nan")


def evaluate_split(net: torch.nn.Module, folder: str, size: int, channels: int, batch_size: int = 256) -> Evaluation:
    """Stream an exported split through ``net`` once (eval mode, no gradients)."""
    fast_layout(net).eval()
    true, pred, samples = [], [], []
    with torch.no_grad():
        for x, y in iterate_split(folder, batch_size, size, channels):
            true.append(y.numpy())
            pred.append(net(fast_input(x)).argmax(1).numpy())
            if sum(len(s) for s in samples) < GRID_SAMPLES:
                samples.append(x.numpy())
    empty = np.zeros(0, dtype=np.int64)
    stacked = np.concatenate(samples)[:GRID_SAMPLES] if samples else np.zeros((0, channels, size, size))
    return Evaluation(np.concatenate(true) if true else empty, np.concatenate(pred) if pred else empty, stacked)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[i, j] = rows of true class i predicted as class j."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def confusion_figure(counts: np.ndarray, classes: Sequence[str]) -> Figure:
    """The confusion matrix as an annotated heat map."""
    fig, ax = plt.subplots(figsize=(1.2 * len(classes) + 2, 1.2 * len(classes) + 1.5))
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), value in np.ndenumerate(counts):
        ax.text(j, i, str(value), ha="center", va="center", color="white" if value > counts.max() / 2 else "black")
    fig.tight_layout()
    return fig


def sample_grid_figure(evaluation: Evaluation, classes: Sequence[str]) -> Figure:
    """A grid of test images titled 'predicted (true)', red where the prediction is wrong."""
    n = len(evaluation.samples)
    cols = 4
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.4 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        image = evaluation.samples[k].transpose(1, 2, 0)
        ax.imshow(image[..., 0] if image.shape[2] == 1 else image, cmap="gray", vmin=0, vmax=1)
        true, pred = classes[evaluation.y_true[k]], classes[evaluation.y_pred[k]]
        ax.set_title(f"{pred} ({true})", fontsize=9, color="black" if true == pred else "red")
    fig.tight_layout()
    return fig
