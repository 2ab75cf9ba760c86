"""Data-parallel training: the per-rank function run by torchrun (via TorchDistributor) and its launcher."""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities import rank_zero_only

from usecases.vision.data import ShardedImageDataModule
from usecases.vision.model import DefectClassifier, build_backbone
from usecases.vision.portable import fast_layout

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from usecases.vision.config import VisionConfig

EPOCH_METRICS = ("train_loss", "val_loss", "val_acc")


@dataclass(frozen=True, kw_only=True)
class TrainSpec:
    """Everything a rank needs, as plain values (pickled by TorchDistributor into each torchrun process).

    Keyword-only: twenty settings of the same few types are easy to pass in the wrong order positionally.
    """

    train_dir: str
    val_dir: str
    result_path: str
    num_classes: int
    image_size: int
    channels: int
    backbone: str = "compact_cnn"
    width: int = 16
    backbone_weights: str = ""
    batch_size: int = 32
    learning_rate: float = 0.002  # already scaled by the number of processes
    max_epochs: int = 30
    min_epochs: int = 8
    patience: int = 4
    min_delta: float = 0.005
    seed: int = 42
    use_gpu: bool = False
    tracking_uri: str = ""
    run_id: str = ""
    augment: str = "none"

    @classmethod
    def from_config(cls, cfg: VisionConfig, *, train_dir: str, val_dir: str, result_path: str, processes: int,
                    use_gpu: bool, tracking_uri: str, run_id: str) -> TrainSpec:
        """The job's settings, named one by one; the learning rate scales with the number of processes."""
        return cls(
            train_dir=train_dir, val_dir=val_dir, result_path=result_path, num_classes=len(cfg.classes),
            image_size=cfg.image_size, channels=cfg.channels, backbone=cfg.backbone, width=cfg.width,
            backbone_weights=cfg.backbone_weights, batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate * processes, max_epochs=cfg.max_epochs, min_epochs=cfg.min_epochs,
            patience=cfg.patience, min_delta=cfg.min_delta, seed=cfg.seed, use_gpu=use_gpu,
            tracking_uri=tracking_uri, run_id=run_id, augment=cfg.augment,
        )


class EpochMetricsLogger(Callback):
    """Keeps per-epoch metrics and, on rank 0 only, logs them to an existing MLflow run (step = epoch)."""

    def __init__(self, tracking_uri: str, run_id: str) -> None:
        self.tracking_uri, self.run_id = tracking_uri, run_id
        self.history: list[dict[str, float]] = []
        self.started = (time.perf_counter(), time.process_time())

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = (time.perf_counter(), time.process_time())

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Callbacks run before the module's own epoch-end hook, so the train loss is reduced here (all ranks).
        mean = pl_module.loss_sum / max(1, pl_module.loss_batches)  # type: ignore[operator]
        self._record(trainer, float(trainer.strategy.reduce(mean, reduce_op="mean")))

    @rank_zero_only
    def _record(self, trainer: L.Trainer, train_loss: float) -> None:
        row = {k: float(trainer.callback_metrics[k]) for k in EPOCH_METRICS if k in trainer.callback_metrics}
        row["train_loss"] = train_loss
        # Training and validation of the epoch on rank 0: wall seconds, and CPU seconds of this rank's process.
        row["epoch_wall_s"] = time.perf_counter() - self.started[0]
        row["epoch_cpu_s"] = time.process_time() - self.started[1]
        self.history.append({"epoch": float(trainer.current_epoch), **row})
        if self.run_id:
            from mlflow.entities import Metric
            from mlflow.tracking import MlflowClient

            now = int(1000 * time.time())
            metrics = [Metric(k, v, now, trainer.current_epoch) for k, v in row.items()]
            MlflowClient(self.tracking_uri or None).log_batch(self.run_id, metrics=metrics)


class BestWeights(Callback):
    """Restores the weights of the epoch with the lowest validation loss when training ends.

    val_loss is synced across ranks, so every rank picks the same epoch and the weights stay identical.
    """

    def __init__(self) -> None:
        self.best_loss, self.best_epoch, self.state = float("inf"), -1, None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loss = trainer.callback_metrics.get("val_loss")
        if loss is not None and float(loss) < self.best_loss:
            self.best_loss, self.best_epoch = float(loss), trainer.current_epoch
            self.state = copy.deepcopy(pl_module.state_dict())

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.state is not None:
            pl_module.load_state_dict(self.state)


def build_trainer(spec: TrainSpec, world: int, local_world: int, callbacks: list[Callback],
                  root_dir: str) -> L.Trainer:
    """A Trainer with early stopping (min_delta, patience) that cannot stop before ``min_epochs``."""
    stopper = EarlyStopping(monitor="val_loss", mode="min", min_delta=spec.min_delta, patience=spec.patience)
    strategy: Any = "auto"
    if world > 1:
        strategy = DDPStrategy(process_group_backend="nccl" if spec.use_gpu else "gloo")
    return L.Trainer(
        accelerator="gpu" if spec.use_gpu else "cpu", devices=local_world, num_nodes=max(1, world // local_world),
        strategy=strategy, min_epochs=spec.min_epochs, max_epochs=spec.max_epochs,
        callbacks=[stopper, *callbacks], logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, default_root_dir=root_dir, deterministic=True,
    )


def weight_digest(net: torch.nn.Module) -> str:
    """A hash of every parameter and buffer: equal on two ranks iff their weights are bit-identical."""
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def gather_digests(net: torch.nn.Module) -> list[str]:
    """Every rank's weight digest (rank order), collected from all processes."""
    mine = weight_digest(net)
    if not torch.distributed.is_available() or not torch.distributed.is_initialized():
        return [mine]
    gathered: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, mine)
    return [str(d) for d in gathered]


def fit_on_rank(spec: TrainSpec) -> None:
    """Train on this rank's shard; rank 0 writes weights, history and all ranks' digests to ``result_path``.

    Runs inside a torchrun process (RANK/WORLD_SIZE set) or alone. Returns None on every rank because
    TorchDistributor's wrapper lets every rank write its return value to the same file.
    """
    if os.environ.get("USECASES_VERBOSE", "") in ("", "0"):  # a fresh process: the run's quiet settings again
        from shared.noise import quiet_third_party

        quiet_third_party()
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))  # ranks must not oversubscribe cores
    L.seed_everything(spec.seed, workers=True, verbose=False)
    net = fast_layout(build_backbone(spec.backbone, spec.channels, spec.num_classes, spec.width,
                                     spec.backbone_weights))
    module = DefectClassifier(net, spec.learning_rate, spec.max_epochs, spec.augment)
    data = ShardedImageDataModule(spec.train_dir, spec.val_dir, rank, world, spec.batch_size, spec.image_size,
                                  spec.channels, spec.seed)
    metrics, best = EpochMetricsLogger(spec.tracking_uri, spec.run_id), BestWeights()
    trainer = build_trainer(spec, world, local_world, [metrics, best], str(Path(spec.result_path).parent))
    trainer.fit(module, datamodule=data)
    digests = gather_digests(net)
    if rank == 0:
        result = {
            "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
            "history": metrics.history, "epochs_run": trainer.current_epoch, "world_size": world,
            "best_epoch": best.best_epoch, "best_val_loss": best.best_loss,
            "digests": digests,
        }
        tmp = f"{spec.result_path}.tmp"
        torch.save(result, tmp)
        os.replace(tmp, spec.result_path)


def spark_has_gpus(spark: SparkSession) -> bool:
    """Whether Spark itself was given GPU resources (TorchDistributor's use_gpu requires that).

    Read from the session conf, which classic and Spark Connect sessions both expose (Connect has no context).
    """
    keys = ("spark.task.resource.gpu.amount", "spark.driver.resource.gpu.amount", "spark.executor.resource.gpu.amount")
    return any(str(spark.conf.get(key, "0") or "0") not in ("0", "0.0") for key in keys)


def run_distributed(spark, spec: TrainSpec, num_processes: int, local_mode: bool) -> dict[str, Any]:
    """Launch ``fit_on_rank`` on ``num_processes`` ranks with TorchDistributor; return rank 0's result."""
    from pyspark.ml.torch.distributor import TorchDistributor

    distributor = TorchDistributor(num_processes=num_processes, local_mode=local_mode,
                                   use_gpu=spec.use_gpu and spark_has_gpus(spark))
    if os.environ.get("USECASES_VERBOSE", "") in ("", "0"):
        # Its constructor sets its logger back to INFO ("Started/Finished local training"), so quiet it here.
        distributor.logger.setLevel(logging.WARNING)
    # torchrun announces "Setting OMP_NUM_THREADS ..." for every run where it is unset; each rank sets its own
    # torch thread count anyway (fit_on_rank), so give torchrun the same figure and keep the run's output clean.
    threads = str(max(1, (os.cpu_count() or 1) // max(1, num_processes)))
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ.setdefault("OMP_NUM_THREADS", threads)
    try:
        distributor.run(fit_on_rank, spec)
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)
    return torch.load(spec.result_path, map_location="cpu", weights_only=False)
