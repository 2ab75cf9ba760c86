"""Early stopping rules, two-process data-parallel training (identical weights) and the GPU variant."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from tests.usecases.vision.test_data import write_shards
from usecases.vision.training import TrainSpec, build_trainer, run_distributed


class ScriptedLoss(L.LightningModule):
    """A module whose validation loss follows a fixed script, one value per epoch."""

    def __init__(self, losses: list[float]) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.losses = losses

    def training_step(self, batch, batch_idx):
        return (self.weight * batch[0]).sum()

    def validation_step(self, batch, batch_idx) -> None:
        self.log("val_loss", torch.tensor(self.losses[min(self.current_epoch, len(self.losses) - 1)]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def epochs_trained(losses: list[float], tmp_path: Path, **spec: float) -> int:
    loader = DataLoader(TensorDataset(torch.ones(4, 1)), batch_size=2)
    spec_ = TrainSpec(train_dir="", val_dir="", result_path="", num_classes=2, image_size=4, channels=1,
                      **spec)  # type: ignore[arg-type]
    trainer = build_trainer(spec_, 1, 1, [], str(tmp_path))
    trainer.fit(ScriptedLoss(losses), loader, loader)
    return trainer.current_epoch


def test_flat_loss_stops_after_patience_but_not_before_min_epochs(tmp_path: Path) -> None:
    flat = [1.0] * 30
    assert epochs_trained(flat, tmp_path, min_epochs=0, patience=2, max_epochs=20, min_delta=0.0) == 3
    assert epochs_trained(flat, tmp_path, min_epochs=7, patience=2, max_epochs=20, min_delta=0.0) == 7


def test_improvements_smaller_than_min_delta_do_not_count(tmp_path: Path) -> None:
    creeping = [1.0 - 0.001 * k for k in range(30)]  # improves by 0.001 per epoch
    assert epochs_trained(creeping, tmp_path, min_epochs=0, patience=2, max_epochs=8, min_delta=0.005) == 3
    assert epochs_trained(creeping, tmp_path, min_epochs=4, patience=2, max_epochs=8, min_delta=0.005) == 4
    assert epochs_trained(creeping, tmp_path, min_epochs=0, patience=2, max_epochs=8, min_delta=0.0005) == 8


def tiny_spec(tmp_path: Path, use_gpu: bool = False) -> TrainSpec:
    """Two classes on 4x4 images: class 0 dark, class 1 bright (shard i holds class i % 2)."""
    write_shards(tmp_path / "train", [6, 6, 6, 6])
    write_shards(tmp_path / "val", [4, 4])
    return TrainSpec(train_dir=str(tmp_path / "train"), val_dir=str(tmp_path / "val"),
                     result_path=str(tmp_path / "result.pt"), num_classes=4,
                     image_size=4, channels=1, width=4, batch_size=4, max_epochs=2, min_epochs=1, patience=1,
                     use_gpu=use_gpu)


def test_two_cpu_processes_end_with_identical_weights(spark, tmp_path: Path) -> None:
    result = run_distributed(spark, tiny_spec(tmp_path), num_processes=2, local_mode=True)
    assert result["world_size"] == 2
    assert len(result["digests"]) == 2 and result["digests"][0] == result["digests"][1]
    assert len(result["history"]) == 2 and all({"val_loss", "train_loss"} <= set(h) for h in result["history"])


@pytest.mark.gpu
def test_same_training_runs_on_cuda(spark, tmp_path: Path) -> None:
    result = run_distributed(spark, tiny_spec(tmp_path, use_gpu=True), num_processes=1, local_mode=True)
    assert result["world_size"] == 1 and len(result["history"]) == 2
