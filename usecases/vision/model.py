"""The classifier networks (a compact CNN by default) and the LightningModule that trains them."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

# A faster-moving BatchNorm average: with a few steps per epoch the default 0.1 leaves eval-mode statistics
# epochs behind the weights, and validation loss swings enough to trip early stopping.
BN_MOMENTUM = 0.3


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, momentum=BN_MOMENTUM),
                         nn.ReLU(inplace=True))


class CompactCNN(nn.Sequential):
    """Three conv blocks with pooling, global average pooling, a linear head: about 25k weights at width 16."""

    def __init__(self, channels: int, num_classes: int, width: int = 16) -> None:
        super().__init__(
            _conv_block(channels, width), nn.MaxPool2d(2),
            _conv_block(width, 2 * width), nn.MaxPool2d(2),
            _conv_block(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, num_classes),
        )


class _Residual(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_block(width, width), nn.Conv2d(width, width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(width, momentum=BN_MOMENTUM))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class TinyResNet(nn.Sequential):
    """A stem and two residual stages: more capacity for real photographs, still CPU-trainable."""

    def __init__(self, channels: int, num_classes: int, width: int = 16) -> None:
        super().__init__(
            _conv_block(channels, width), _Residual(width), nn.MaxPool2d(2),
            _conv_block(width, 2 * width), _Residual(2 * width), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, num_classes),
        )


BACKBONE_CLASSES = {"compact_cnn": CompactCNN, "tiny_resnet": TinyResNet}


def build_backbone(name: str, channels: int, num_classes: int, width: int, weights_path: str = "") -> nn.Module:
    """A fresh network, or one initialised from a user's state dict file (nothing is ever downloaded).

    Weights whose shape does not fit (for example a head trained for other classes) are skipped, so a
    backbone trained elsewhere can be fine-tuned here.
    """
    net = BACKBONE_CLASSES[name](channels, num_classes, width)
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

    def __init__(self, net: nn.Module, learning_rate: float, max_epochs: int) -> None:
        super().__init__()
        self.net, self.learning_rate, self.max_epochs = net, learning_rate, max_epochs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def on_train_epoch_start(self) -> None:
        self.loss_sum, self.loss_batches = torch.zeros((), device=self.device), 0

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        # Summed here and logged once per epoch: self.log on every step costs ~10% on a small CPU model.
        self.loss_sum, self.loss_batches = self.loss_sum + loss.detach(), self.loss_batches + 1
        return loss

    def on_train_epoch_end(self) -> None:
        self.log("train_loss", self.loss_sum / max(1, self.loss_batches), sync_dist=True)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", F.cross_entropy(logits, y), on_epoch=True, sync_dist=True, batch_size=len(y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean(), on_epoch=True, sync_dist=True, batch_size=len(y))

    def configure_optimizers(self):  # noqa: ANN201 - Lightning's optimizer config dict
        optimizer = torch.optim.AdamW(self.net.parameters(), lr=self.learning_rate, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, self.max_epochs))
        return {"optimizer": optimizer, "lr_scheduler": schedule}
