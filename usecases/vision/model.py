"""The LightningModule that trains a classifier network, its training-batch augmentation, and backbone set-up.

The networks themselves live in ``portable.py`` (self-contained, logged with the model); this module adds what
only training needs.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

from usecases.vision.config import AUGMENTATIONS
from usecases.vision.portable import build_network, fast_input


def augment_batch(x: torch.Tensor, kind: str) -> torch.Tensor:
    """A randomly changed copy of a (N, C, H, W) batch (see ``AUGMENTATIONS`` in config for the kinds); draws from
    torch's global generator, which each rank seeds."""
    if kind == "none":
        return x
    n, _, h, w = x.shape
    if "shift" in kind:
        pad = max(1, min(h, w) // 8)
        padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
        dy = torch.randint(0, 2 * pad + 1, (n,)).tolist()
        dx = torch.randint(0, 2 * pad + 1, (n,)).tolist()
        x = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    if "flip" in kind:
        flip_w = (torch.rand(n) < 0.5).view(n, 1, 1, 1).to(x.device)
        flip_h = (torch.rand(n) < 0.5).view(n, 1, 1, 1).to(x.device)
        x = torch.where(flip_w, x.flip(-1), x)
        x = torch.where(flip_h, x.flip(-2), x)
    return x


def build_backbone(name: str, channels: int, num_classes: int, width: int, weights_path: str = "") -> nn.Module:
    """A fresh network, or one initialised from a user's state dict file (nothing is ever downloaded).

    Weights whose shape does not fit (for example a head trained for other classes) are skipped, so a
    backbone trained elsewhere can be fine-tuned here.
    """
    net = build_network(name, channels, num_classes, width)
    if weights_path:
        state = torch.load(Path(weights_path), map_location="cpu", weights_only=True)
        own = net.state_dict()
        fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        if not fitting:
            raise ValueError(f"no weights in {weights_path} fit backbone {name!r}")
        net.load_state_dict(fitting, strict=False)
    return net


class DefectClassifier(L.LightningModule):
    """Cross-entropy training of ``net``; logs train_loss, val_loss and val_acc per epoch (synced across ranks)."""

    def __init__(self, net: nn.Module, learning_rate: float, max_epochs: int, augment: str = "none") -> None:
        super().__init__()
        if augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}")
        self.net, self.learning_rate, self.max_epochs, self.augment = net, learning_rate, max_epochs, augment

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def on_train_epoch_start(self) -> None:
        self.loss_sum, self.loss_batches = torch.zeros((), device=self.device), 0

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.net(fast_input(augment_batch(x, self.augment))), y)
        # Summed here and logged once per epoch: self.log on every step costs ~10% on a small CPU model.
        self.loss_sum, self.loss_batches = self.loss_sum + loss.detach(), self.loss_batches + 1
        return loss

    def on_train_epoch_end(self) -> None:
        self.log("train_loss", self.loss_sum / max(1, self.loss_batches), sync_dist=True)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self.net(fast_input(x))
        self.log("val_loss", F.cross_entropy(logits, y), on_epoch=True, sync_dist=True, batch_size=len(y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean(), on_epoch=True, sync_dist=True, batch_size=len(y))

    def configure_optimizers(self):  # Lightning's optimizer config dict
        optimizer = torch.optim.AdamW(self.net.parameters(), lr=self.learning_rate, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, self.max_epochs))
        return {"optimizer": optimizer, "lr_scheduler": schedule}
