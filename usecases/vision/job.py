"""Vision job tasks: generate -> prepare -> train -> score (thin: read, call the pure modules, write, log)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import mlflow
import numpy as np
import torch
from pyspark.sql import functions as F

from shared.config import ConfigError
from shared.contracts import REASON, ColumnSpec, Contract, RowRule
from shared.registry import model_name, register_model
from shared.tables import TableNotFoundError
from shared.task import TaskContext, TaskEntryPoint, TaskReport
from shared.tracking import log_dict, log_figure, log_metrics
from usecases.vision.config import VisionConfig
from usecases.vision.data import export_shards
from usecases.vision.evaluate import confusion_figure, confusion_matrix, evaluate_split, sample_grid_figure
from usecases.vision.generate import write_defect_images
from usecases.vision.images import (
    assign_splits,
    decode_images,
    flag_unknown_labels,
    images_from_folder,
    images_from_table,
    prepared_rows,
)
from usecases.vision.model import build_backbone
from usecases.vision.scoring import prediction_column
from usecases.vision.training import TrainSpec, run_distributed

IMAGE_LIST_CONTRACT = Contract(
    table="image_list",
    columns=(ColumnSpec("path", "string"), ColumnSpec("label", "string")),
    rules=(RowRule("path is empty", lambda: F.length(F.trim("path")) > 0),),
    unique_key=("path",),
)
DECODE_QUARANTINE = "defect_images_quarantine"
SCORE_QUARANTINE = "image_predictions_quarantine"


def data_root(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> Path:
    """The job's file area: a UC volume on Databricks, ``<warehouse>/_volumes/<catalog>/<schema>/vision`` locally."""
    return ctx.tables.volume_path("vision")


def image_root(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> Path:
    return Path(cfg.image_folder) if cfg.image_folder else data_root(ctx, cfg) / "defect_images"


def score_root(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> Path:
    return Path(cfg.score_folder) if cfg.score_folder else data_root(ctx, cfg) / "incoming"


def has_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def run_generate(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> TaskReport:
    """Write the seeded defect set (and a set of new images to score) as PNGs, only where no files exist yet."""
    written = 0
    targets = [(score_root(ctx, cfg), cfg.score_images, cfg.seed + 1)]
    if not cfg.image_table:
        targets.insert(0, (image_root(ctx, cfg), cfg.num_images, cfg.seed))
    for folder, count, seed in targets:
        if cfg.generate_data and not has_files(folder):
            written += sum(write_defect_images(folder, count, seed, cfg.generated_size).values())
    return TaskReport(rows_in=0, rows_out=written, balanced=False, metrics={"images_written": written})


def run_prepare(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> TaskReport:
    """Files -> decoded, resized, labelled, split rows in ``prepared_table``; rejects -> defect_images_quarantine."""
    if cfg.image_table:
        listing, rows_in = ctx.read_with_contract(cfg.image_table, IMAGE_LIST_CONTRACT)
        images = images_from_table(listing)
    else:
        root = image_root(ctx, cfg)
        if not has_files(root):
            raise TableNotFoundError(f"image folder {root} has no files (expected <label>/<file> PNG/JPEG files)")
        images = images_from_folder(ctx.spark, str(root))
        rows_in = images.count()
    decoded = flag_unknown_labels(decode_images(images, cfg.image_size, cfg.color_mode), cfg.classes).persist()
    try:
        valid = assign_splits(decoded.filter(F.col("reason").isNull()), cfg.val_fraction, cfg.test_fraction, cfg.seed)
        ctx.tables.write(prepared_rows(valid, cfg.classes, cfg.image_size, cfg.channels), cfg.prepared_table)
        rejected = decoded.filter(F.col("reason").isNotNull()).select(
            "path", "label", "source_mode", F.col("reason").alias(REASON))
        ctx.tables.write(rejected, DECODE_QUARANTINE)
    finally:
        decoded.unpersist()
    prepared = ctx.tables.read(cfg.prepared_table)
    splits = {r["split"]: r["count"] for r in prepared.groupBy("split").count().collect()}  # at most 3 rows
    rejects = ctx.tables.read(DECODE_QUARANTINE).count()
    return TaskReport(rows_in=rows_in, rows_out=sum(splits.values()), rows_quarantined=ctx.quarantined + rejects,
                      metrics={f"{s}_images": float(splits.get(s, 0)) for s in ("train", "val", "test")})


def training_processes(cfg: VisionConfig) -> tuple[int, bool]:
    """(processes, use_gpu): a GPU per process where CUDA exists and is allowed, else CPU processes."""
    use_gpu = cfg.accelerator == "gpu" or (cfg.accelerator == "auto" and torch.cuda.is_available())
    if use_gpu and not torch.cuda.is_available():
        raise ConfigError("accelerator=gpu but no CUDA device is visible")
    if use_gpu and cfg.local_mode:
        return min(cfg.num_processes, torch.cuda.device_count()), True
    return cfg.num_processes, use_gpu


def run_train(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> TaskReport:
    """Data-parallel training on the prepared table; logs metrics and figures; registers the model."""
    prepared = ctx.tables.read(cfg.prepared_table)
    shape_rows = prepared.select("image_size", "channels").distinct().limit(3).collect()
    shapes = {(r["image_size"], r["channels"]) for r in shape_rows}
    if shapes != {(cfg.image_size, cfg.channels)}:
        raise ConfigError(f"{cfg.prepared_table} holds images of (size, channels) {sorted(shapes)}, config wants "
                          f"({cfg.image_size}, {cfg.channels}): re-run prepare with the same image_size/color_mode")
    splits = {r["split"]: r["count"] for r in prepared.groupBy("split").count().collect()}
    processes, use_gpu = training_processes(cfg)
    scratch = data_root(ctx, cfg) / "scratch" / uuid.uuid4().hex
    try:
        for split, shards in (("train", processes), ("val", processes), ("test", 1)):
            export_shards(prepared, split, str(scratch / split), shards)
        with ctx.mlflow_run(cfg) as run:
            spec = TrainSpec(
                str(scratch / "train"), str(scratch / "val"), str(scratch / "result.pt"), len(cfg.classes),
                cfg.image_size, cfg.channels, cfg.backbone, cfg.width, cfg.backbone_weights, cfg.batch_size,
                cfg.learning_rate * processes, cfg.max_epochs, cfg.min_epochs, cfg.patience, cfg.min_delta, cfg.seed,
                use_gpu, mlflow.get_tracking_uri(), run.info.run_id,
            )
            result = run_distributed(ctx.spark, spec, processes, cfg.local_mode)
            net = build_backbone(cfg.backbone, cfg.channels, len(cfg.classes), cfg.width)
            net.load_state_dict(result["state_dict"])
            evaluation = evaluate_split(net, str(scratch / "test"), cfg.image_size, cfg.channels)
            metrics = {
                "test_accuracy": evaluation.accuracy, "epochs_run": float(len(result["history"])),
                "best_epoch": float(result["best_epoch"]), "best_val_loss": result["best_val_loss"],
                "num_processes": float(result["world_size"]), "learning_rate_scaled": spec.learning_rate,
                "weights_identical_across_ranks": float(len(set(result["digests"])) == 1),
            }
            log_metrics(metrics)
            counts = confusion_matrix(evaluation.y_true, evaluation.y_pred, len(cfg.classes))
            log_figure(confusion_figure(counts, cfg.classes), "confusion_matrix.png")
            log_figure(sample_grid_figure(evaluation, cfg.classes), "sample_predictions.png")
            log_dict({"history": result["history"], "confusion_matrix": counts.tolist(), "classes": list(cfg.classes)},
                     "training_summary.json")
            registration = log_and_register(net, cfg, metrics["test_accuracy"])
            metrics.update(model_version=float(registration.version), promoted=float(registration.promoted))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return TaskReport(rows_in=sum(splits.values()), rows_out=1, balanced=False, metrics=metrics)


def log_and_register(net: torch.nn.Module, cfg: VisionConfig, test_accuracy: float):  # noqa: ANN201 - Registration
    """Log the network with a signature and its preprocessing as metadata; register it, champion only if better."""
    from mlflow.models import infer_signature

    example = np.zeros((2, cfg.channels, cfg.image_size, cfg.image_size), dtype=np.float32)
    with torch.no_grad():
        signature = infer_signature(example, net.eval()(torch.from_numpy(example)).numpy())
    info = mlflow.pytorch.log_model(
        net, name="model", signature=signature, serialization_format="pickle",
        metadata={"classes": list(cfg.classes), "image_size": cfg.image_size, "color_mode": cfg.color_mode},
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "pillow"],
    )
    name = model_name(cfg.catalog, cfg.schema, cfg.registered_model)
    return register_model(info.model_uri, name, "test_accuracy", test_accuracy, higher_is_better=True)


def run_score(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> TaskReport:
    """Score every file under the score folder with the champion model into ``predictions_table``."""
    from mlflow.tracking import MlflowClient

    from shared.tracking import configure_tracking

    configure_tracking()
    name = model_name(cfg.catalog, cfg.schema, cfg.registered_model)
    version = MlflowClient().get_model_version_by_alias(name, "champion")
    uri = f"models:/{name}/{version.version}"
    meta = mlflow.models.get_model_info(uri).metadata or {}
    folder = score_root(ctx, cfg)
    if not has_files(folder):
        raise TableNotFoundError(f"score folder {folder} has no files")
    files = ctx.spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(str(folder))
    rows_in = files.count()
    predicted = files.select("path", prediction_column(
        F.col("content"), uri, mlflow.get_tracking_uri(), mlflow.get_registry_uri(),
        meta.get("classes", list(cfg.classes)), int(meta.get("image_size", cfg.image_size)),
        str(meta.get("color_mode", cfg.color_mode)),
    ).alias("p")).select("path", "p.*", F.lit(version.version).alias("model_version"))
    predicted = predicted.persist()
    try:
        ctx.tables.write(predicted.filter("reason IS NULL").drop("reason"), cfg.predictions_table)
        ctx.tables.write(predicted.filter("reason IS NOT NULL").select("path", F.col("reason").alias(REASON)),
                         SCORE_QUARANTINE)
    finally:
        predicted.unpersist()
    out = ctx.tables.read(cfg.predictions_table)
    rows_out, rejected = out.count(), ctx.tables.read(SCORE_QUARANTINE).count()
    truth = F.element_at(F.split("path", "/"), -2)
    labelled = out.filter(truth.isin(list(cfg.classes)))
    agree = labelled.agg(F.avg((F.col("label") == truth).cast("double")).alias("a")).first()["a"]
    metrics = {"model_version": float(version.version)}
    if agree is not None:
        metrics["accuracy_on_labelled_folders"] = float(agree)
    return TaskReport(rows_in=rows_in, rows_out=rows_out, rows_quarantined=rejected, metrics=metrics)


generate = TaskEntryPoint("vision", "generate", VisionConfig, run_generate)
prepare = TaskEntryPoint("vision", "prepare", VisionConfig, run_prepare)
train = TaskEntryPoint("vision", "train", VisionConfig, run_train)
score = TaskEntryPoint("vision", "score", VisionConfig, run_score)
