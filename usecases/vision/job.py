"""Vision job tasks: generate -> prepare -> train -> score (thin: read, call the pure modules, write, log)."""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

import mlflow
import torch
from pyspark.sql import functions as F

from shared.config import ConfigError
from shared.contracts import REASON
from shared.registry import CHAMPION, model_name, register_model
from shared.task import InputError, TaskContext, TaskEntryPoint, TaskReport
from shared.tracking import lineage_tags, log_dict, log_figure, log_metrics
from usecases.vision import contracts
from usecases.vision.config import VisionConfig
from usecases.vision.data import export_shards
from usecases.vision.evaluate import confusion_figure, confusion_matrix, evaluate_split, sample_grid_figure
from usecases.vision.generate import write_defect_images
from usecases.vision.images import (
    assign_splits,
    decode_images,
    flag_unknown_labels,
    images_from_table,
    list_files,
    listing_frame,
    prepared_rows,
)
from usecases.vision.logged_model import (
    first_test_image,
    incompatibilities,
    log_classifier,
    model_metadata,
    test_split_scorer,
)
from usecases.vision.model import build_backbone
from usecases.vision.scoring import accuracy_check, prediction_column
from usecases.vision.training import TrainSpec, run_distributed

log = logging.getLogger("usecases.vision")


def data_root(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> Path:
    """The job's file area: a UC volume on Databricks, ``<warehouse>/_volumes/<catalog>/<schema>/vision`` locally."""
    return ctx.tables.volume_path("vision")


def uses_generated_images(cfg: VisionConfig) -> bool:
    """Whether the job trains on the generated defect set (the user named neither a folder nor a table)."""
    return not cfg.image_folder and not cfg.image_table


def image_root(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> Path:
    return Path(cfg.image_folder) if cfg.image_folder else data_root(ctx, cfg) / "defect_images"


def score_root(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> Path:
    return Path(cfg.score_folder) if cfg.score_folder else data_root(ctx, cfg) / "incoming"


def has_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def run_generate(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> TaskReport:
    """Write the seeded defect set and a set of new images to score as PNGs, into the job's own volume only.

    Never into a folder the user named (``image_folder``, ``score_folder``), never where files exist, and no
    generated images to score beside a user's own training data (a model of their classes has nothing to say
    about synthetic defects).
    """
    written = 0
    targets = []
    if uses_generated_images(cfg):
        targets.append((image_root(ctx, cfg), cfg.n_images, cfg.seed))
        if not cfg.score_folder:
            targets.append((score_root(ctx, cfg), cfg.n_score_images, cfg.seed + 1))
    for folder, count, seed in targets:
        if cfg.generate_data and not has_files(folder):
            written += sum(write_defect_images(folder, count, seed, cfg.generated_size).values())
    return TaskReport(rows_in=0, rows_out=written, balanced=False, metrics={"images_written": written})


def folder_files(folder: Path, what: str) -> list[str]:
    """Every file under ``folder``; an InputError naming the folder when there is none."""
    paths = list_files(str(folder)) if folder.is_dir() else []
    if not paths:
        raise InputError(f"{what} {folder} has no files (expected <label>/<file> PNG/JPEG files)")
    return paths


def run_prepare(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> TaskReport:
    """Files -> decoded, resized, labelled, split rows in ``prepared_table``; rejects -> defect_images_quarantine.

    Every file under the folder is one row in: it ends up prepared or quarantined with a reason.
    """
    if cfg.image_table:
        listing, rows_in = ctx.read_with_contract(cfg.image_table, contracts.IMAGES)
        images = images_from_table(listing)
    else:
        paths = folder_files(image_root(ctx, cfg), "image folder")
        images, rows_in = listing_frame(ctx.spark, paths), len(paths)
    decoded_frame = decode_images(images, cfg.image_size, cfg.color_mode, cfg.max_image_pixels)
    # Decoding feeds the prepared table and the quarantine: stage it once (serverless has no cache).
    with ctx.staged(flag_unknown_labels(decoded_frame, cfg.classes), "decoded") as decoded:
        valid = assign_splits(decoded.filter(F.col("reason").isNull()), cfg.val_fraction, cfg.test_fraction, cfg.seed)
        ctx.tables.write(prepared_rows(valid, cfg.classes, cfg.image_size, cfg.channels), cfg.prepared_table)
        rejected = decoded.filter(F.col("reason").isNotNull()).select("path", "label", "source_mode",
                                                                          F.col("reason").alias(REASON))
        ctx.add_to_quarantine(contracts.IMAGES.table, rejected)
    prepared = ctx.tables.read(cfg.prepared_table)
    splits = {r["split"]: r["count"] for r in prepared.groupBy("split").count().collect()}  # at most 3 rows
    return TaskReport(rows_in=rows_in, rows_out=sum(splits.values()), rows_quarantined=ctx.quarantined,
                      metrics={f"{s}_images": float(splits.get(s, 0)) for s in ("train", "val", "test")})


def training_processes(cfg: VisionConfig) -> tuple[int, bool]:
    """(processes, use_gpu): a GPU per process where CUDA exists and is allowed, else CPU processes."""
    use_gpu = cfg.accelerator == "gpu" or (cfg.accelerator == "auto" and torch.cuda.is_available())
    if use_gpu and not torch.cuda.is_available():
        raise ConfigError("accelerator=gpu but no CUDA device is visible")
    if use_gpu and cfg.local_mode:
        return min(cfg.num_processes, torch.cuda.device_count()), True
    return cfg.num_processes, use_gpu


def check_training_data(counts: Mapping[tuple[str, str], int], cfg: VisionConfig) -> list[str]:
    """Refuse prepared data a classifier cannot honestly learn from; return the declared classes it lacks.

    ``counts`` maps (split, label) to images. Fewer than two classes among the training images (a one-class
    "classifier" scores 1.0 on its own test split and would be promoted), or an empty train, validation or test
    split (no early stopping, no test accuracy) raise an InputError.
    """
    table = cfg.prepared_table
    if not counts:
        raise InputError(f"{table} holds no images: every image was quarantined (see defect_images_quarantine) "
                         "or the input is empty")
    trained = sorted({label for (split, label), n in counts.items() if split == "train" and n > 0})
    if len(trained) < 2:
        raise InputError(f"{table} holds training images of {len(trained)} class(es) ({', '.join(trained) or 'none'})"
                         f"; a classifier needs at least two of the job's classes ({', '.join(cfg.classes)})")
    for split in ("train", "val", "test"):
        if not any(n for (s, _), n in counts.items() if s == split):
            raise InputError(f"{table} has no {split} images: add images or change val_fraction/test_fraction")
    return [c for c in cfg.classes if c not in trained]


def run_train(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> TaskReport:
    """Data-parallel training on the prepared table; logs metrics and figures; registers the model behind the
    fair gate (the champion is scored on this run's test split; an incompatible champion is superseded)."""
    prepared = ctx.tables.read(cfg.prepared_table)
    shape_rows = prepared.select("image_size", "channels").distinct().limit(3).collect()
    shapes = {(r["image_size"], r["channels"]) for r in shape_rows}
    if shapes and shapes != {(cfg.image_size, cfg.channels)}:
        raise ConfigError(f"{cfg.prepared_table} holds images of (size, channels) {sorted(shapes)}, config wants "
                          f"({cfg.image_size}, {cfg.channels}): re-run prepare with the same image_size/color_mode")
    # At most 3 splits x len(classes) rows: prepared rows carry only the job's classes.
    counts = {(r["split"], r["label"]): r["count"] for r in prepared.groupBy("split", "label").count().collect()}
    missing = check_training_data(counts, cfg)
    if missing:
        log.warning("vision.train: no training images of class(es) %s; the model cannot learn them",
                    ", ".join(missing))
    processes, use_gpu = training_processes(cfg)
    scratch = data_root(ctx, cfg) / "scratch" / uuid.uuid4().hex
    try:
        for split, shards in (("train", processes), ("val", processes), ("test", 1)):
            export_shards(prepared, split, str(scratch / split), shards)
        with ctx.mlflow_run(cfg) as run:
            if missing:
                mlflow.set_tag("classes_without_training_images", ",".join(missing))
            spec = TrainSpec(
                str(scratch / "train"), str(scratch / "val"), str(scratch / "result.pt"), len(cfg.classes),
                cfg.image_size, cfg.channels, cfg.backbone, cfg.width, cfg.backbone_weights, cfg.batch_size,
                cfg.learning_rate * processes, cfg.max_epochs, cfg.min_epochs, cfg.patience, cfg.min_delta, cfg.seed,
                use_gpu, mlflow.get_tracking_uri(), run.info.run_id, cfg.augment,
            )
            result = run_distributed(ctx.spark, spec, processes, cfg.local_mode)
            net = build_backbone(cfg.backbone, cfg.channels, len(cfg.classes), cfg.width)
            net.load_state_dict(result["state_dict"])
            test_dir = str(scratch / "test")
            evaluation = evaluate_split(net, test_dir, cfg.image_size, cfg.channels)
            metrics = {
                "test_accuracy": evaluation.accuracy, "epochs_run": float(len(result["history"])),
                "best_epoch": float(result["best_epoch"]), "best_val_loss": result["best_val_loss"],
                "num_processes": float(result["world_size"]), "learning_rate_scaled": spec.learning_rate,
                "weights_identical_across_ranks": float(len(set(result["digests"])) == 1),
                "classes_trained": float(len(cfg.classes) - len(missing)),
            }
            counts_matrix = confusion_matrix(evaluation.y_true, evaluation.y_pred, len(cfg.classes))
            log_figure(confusion_figure(counts_matrix, cfg.classes), "confusion_matrix.png")
            log_figure(sample_grid_figure(evaluation, cfg.classes), "sample_predictions.png")
            log_dict({"history": result["history"], "confusion_matrix": counts_matrix.tolist(),
                      "classes": list(cfg.classes)}, "training_summary.json")
            info = log_classifier(net, cfg, first_test_image(test_dir, cfg), scratch / "model")
            score = test_split_scorer(cfg, test_dir)
            # The figure the gate compares is the logged model's own accuracy, computed the way the champion's is.
            metrics["test_accuracy_logged_model"] = score(info.model_uri)
            log_metrics(metrics)
            inputs = {"prepared": cfg.prepared_table, "images": cfg.image_table or str(image_root(ctx, cfg))}
            registration = register_model(
                info.model_uri, model_name(cfg.catalog, cfg.schema, cfg.registered_model), "test_accuracy",
                metrics["test_accuracy_logged_model"], higher_is_better=True, score_model=score,
                tags=lineage_tags(ctx.tables, inputs, cfg, run.info.run_id),
            )
            metrics.update(model_version=float(registration.version), promoted=float(registration.promoted))
            if registration.previous_champion_value is not None:
                metrics["champion_test_accuracy_same_data"] = registration.previous_champion_value
            log.info("vision.train: model v%s %s: %s", registration.version,
                     "promoted" if registration.promoted else "not promoted", registration.reason)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return TaskReport(rows_in=sum(counts.values()), rows_out=1, balanced=False, metrics=metrics)


def champion_for(cfg: VisionConfig) -> tuple[str, str, dict]:
    """(version, uri, metadata) of the champion, refused with an InputError when it cannot label this job's images.

    The job's ``classes`` always has a value (its default is the generated set's four defect classes), so a model
    trained for other classes is never used on this job's images, whether the user set ``classes`` or not.
    """
    from mlflow.tracking import MlflowClient

    name = model_name(cfg.catalog, cfg.schema, cfg.registered_model)
    try:
        version = str(MlflowClient().get_model_version_by_alias(name, CHAMPION).version)
    except mlflow.exceptions.MlflowException as exc:
        raise InputError(f"model {name} has no {CHAMPION} version: run the train task first") from exc
    uri = f"models:/{name}/{version}"
    meta = model_metadata(uri)
    problems = incompatibilities(meta, cfg.classes, cfg.image_size, cfg.color_mode)
    if problems:
        raise InputError(f"{CHAMPION} v{version} of {name} cannot label this job's images: {'; '.join(problems)}. "
                         "Run the train task with this configuration (it promotes a compatible model), or set "
                         "classes/image_size/color_mode to the model's")
    return version, uri, meta


def expected_accuracy(cfg: VisionConfig, version: str) -> float:
    """The champion's test accuracy as registered (the ``metric.test_accuracy`` tag the core sets), NaN if absent."""
    from mlflow.tracking import MlflowClient

    name = model_name(cfg.catalog, cfg.schema, cfg.registered_model)
    tag = MlflowClient().get_model_version(name, version).tags.get("metric.test_accuracy")
    try:
        return float(tag) if tag is not None else float("nan")
    except ValueError:
        return float("nan")


def run_score(ctx: TaskContext[VisionConfig], cfg: VisionConfig) -> TaskReport:
    """Score every file under the score folder with the champion into ``predictions_table``.

    The champion must be compatible with the job (classes, image size, colour mode) or nothing is labelled. Where
    score images sit in class-named folders, their accuracy is logged and checked against the model's own.
    """
    from shared.tracking import configure_tracking

    if not cfg.score_folder and not uses_generated_images(cfg):
        raise InputError("score_folder is not set: with your own training images the generated score set does not "
                         "apply; set --score_folder to the folder of images to classify")
    configure_tracking()
    version, uri, _ = champion_for(cfg)
    paths = folder_files(score_root(ctx, cfg), "score folder")
    listing = listing_frame(ctx.spark, paths)
    with ctx.mlflow_run(cfg):
        mlflow.set_tags({"model_uri": uri, "model_version": version})
        predicted = listing.select("path", prediction_column(
            F.col("path"), uri, mlflow.get_tracking_uri(), mlflow.get_registry_uri(), cfg.max_image_pixels,
        ).alias("p")).select("path", "p.*", F.lit(version).alias("model_version"))
        # Scoring feeds the predictions and the quarantine: stage it once (serverless has no cache).
        with ctx.staged(predicted, "predicted") as scored:
            ctx.tables.write(scored.filter("reason IS NULL").drop("reason"), cfg.predictions_table)
            rejected = ctx.add_to_quarantine(contracts.SCORE_IMAGES, scored.filter("reason IS NOT NULL")
                                             .select("path", F.col("reason").alias(REASON)))
        out = ctx.tables.read(cfg.predictions_table)
        truth = F.element_at(F.split("path", "/"), -2)
        row = out.agg(F.count(F.lit(1)).alias("rows"), F.count(F.when(truth.isin(list(cfg.classes)), 1)).alias("n"),
                      F.count(F.when(truth.isin(list(cfg.classes)) & (F.col("label") == truth), 1)).alias("ok")).first()
        metrics = {"model_version": float(version), "images_scored": float(row["rows"]),
                   "images_quarantined": float(rejected), "labelled_images": float(row["n"])}
        if row["n"]:
            check = accuracy_check(int(row["ok"]), int(row["n"]), expected_accuracy(cfg, version),
                                   cfg.max_accuracy_drop)
            metrics.update(accuracy_on_labelled_folders=check.accuracy, accuracy_upper_bound=check.upper_bound,
                           model_test_accuracy=check.expected, accuracy_below_expected=float(check.warn))
            if check.warn:
                log.warning("vision.score: %s", check.message())
                mlflow.set_tag("accuracy_warning", check.message())
        log_metrics(metrics)
    return TaskReport(rows_in=len(paths), rows_out=int(row["rows"]), rows_quarantined=rejected, metrics=metrics)


generate = TaskEntryPoint("vision", "generate", VisionConfig, run_generate)
prepare = TaskEntryPoint("vision", "prepare", VisionConfig, run_prepare)
train = TaskEntryPoint("vision", "train", VisionConfig, run_train)
score = TaskEntryPoint("vision", "score", VisionConfig, run_score)
