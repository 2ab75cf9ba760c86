"""Bad images, table-driven: each file of the catalogue gets its fixed reason from the decoder, the prepare task and
the score task; every file is counted (rows in = prepared + quarantined), and re-runs write the same reasons."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from shared.bundle import load_bundle
from shared.registry import model_name, register_model
from shared.runner import TaskFailed, run_job
from shared.tables import LocalTableStore
from shared.task import InputError
from shared.tracking import ensure_experiment
from tests.usecases.vision.bad_files import CASES, CLASSES, LABEL_CASES, TEST_MAX_PIXELS, encoded
from usecases.vision.config import VisionConfig
from usecases.vision.images import decode_file
from usecases.vision.job import check_training_data
from usecases.vision.logged_model import log_classifier
from usecases.vision.portable import build_network

REPO_ROOT = Path(__file__).resolve().parents[3]
SETTINGS = {"classes": ",".join(CLASSES), "max_image_pixels": str(TEST_MAX_PIXELS), "image_size": "16",
            "generate_data": "false"}


def write_catalogue(root: Path) -> dict[str, str | None]:
    """Every file of the catalogue under ``root``; returns relative path -> expected prepare reason."""
    expected: dict[str, str | None] = {}
    for rel, data, reason in [*CASES, *LABEL_CASES]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        expected[rel] = reason
    return expected


def rel_reasons(rows, root: Path) -> dict[str, str]:  # Spark rows
    return {Path(r["path"]).relative_to(root).as_posix(): r["quarantine_reason"] for r in rows}


@pytest.mark.parametrize("rel, data, expected", CASES, ids=[c[0] for c in CASES])
def test_decoder_gives_each_file_its_fixed_reason(tmp_path: Path, rel: str, data: bytes, expected: str | None) -> None:
    path = tmp_path / Path(rel).name
    path.write_bytes(data)
    first = decode_file(str(path), 16, "L", TEST_MAX_PIXELS)
    assert first[2] == expected
    assert (first[0] is None) == (expected is not None)
    assert decode_file(str(path), 16, "L", TEST_MAX_PIXELS)[2] == first[2]  # no addresses, nothing that varies


def test_prepare_counts_every_file_and_quarantines_each_with_its_reason(spark, tmp_path: Path,
                                                                        warehouse: Path) -> None:
    root = tmp_path / "inspection images"
    expected = write_catalogue(root)
    overrides = {**SETTINGS, "image_folder": str(root)}
    tables = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    quarantines = []
    for _ in range(2):  # a re-run over the same files writes the same quarantine
        report = run_job(load_bundle(REPO_ROOT), "vision", overrides=overrides, only_task="prepare",
                         warehouse=str(warehouse), echo=lambda _: None)[0].report
        assert report.rows_in == len(expected) == report.rows_out + report.rows_quarantined
        quarantines.append(rel_reasons(tables.read("defect_images_quarantine").collect(), root))
    assert quarantines[0] == quarantines[1] == {rel: r for rel, r in expected.items() if r is not None}
    prepared = {Path(r["path"]).relative_to(root).as_posix() for r in tables.read("defect_images_prepared").collect()}
    assert prepared == {rel for rel, r in expected.items() if r is None}


@pytest.mark.slow
def test_score_counts_every_file_and_refuses_the_same_files_for_the_same_reasons(
        spark, tmp_path: Path, warehouse: Path, mlflow_store: str) -> None:
    root = tmp_path / "new images"
    expected = write_catalogue(root)
    cfg = VisionConfig(classes=CLASSES, max_image_pixels=TEST_MAX_PIXELS, image_size=16, width=8)
    mlflow.set_experiment(experiment_id=ensure_experiment("/Shared/ml-use-cases"))  # artifacts in the temp home
    with mlflow.start_run():  # an untrained network is enough: this is about which files get a label
        info = log_classifier(build_network("compact_cnn", 1, len(CLASSES), 8), cfg, encoded("L"), tmp_path / "m")
    register_model(info.model_uri, model_name("main", "ml_use_cases", cfg.registered_model), "test_accuracy", 0.5)
    report = run_job(load_bundle(REPO_ROOT), "vision", overrides={**SETTINGS, "score_folder": str(root)},
                     only_task="score", warehouse=str(warehouse), echo=lambda _: None)[0].report
    tables = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    refused = {rel: r for rel, r in expected.items() if r is not None and not r.startswith("unknown label")}
    assert report.rows_in == len(expected) and report.rows_quarantined == len(refused)
    assert report.rows_out == len(expected) - len(refused)
    assert rel_reasons(tables.read("score_images_quarantine").collect(), root) == refused
    labelled = tables.read("image_predictions").collect()
    assert {r["label"] for r in labelled} <= set(CLASSES) and all(0 < r["probability"] <= 1 for r in labelled)


def test_training_on_one_class_is_refused(spark, tmp_path: Path, warehouse: Path, mlflow_store: str) -> None:
    root = tmp_path / "only clean"
    for i in range(12):
        (root / "clean").mkdir(parents=True, exist_ok=True)
        (root / "clean" / f"{i}.png").write_bytes(encoded("L", seed=i))
    overrides = {**SETTINGS, "image_folder": str(root), "score_folder": str(root)}
    run_job(load_bundle(REPO_ROOT), "vision", overrides=overrides, only_task="prepare", warehouse=str(warehouse),
            echo=lambda _: None)
    with pytest.raises(TaskFailed) as failed:
        run_job(load_bundle(REPO_ROOT), "vision", overrides=overrides, only_task="train", warehouse=str(warehouse),
                echo=lambda _: None)
    assert isinstance(failed.value.cause, InputError)
    assert "training images of 1 class(es) (clean)" in str(failed.value.cause)
    assert mlflow.search_registered_models() == []  # nothing was registered, let alone promoted


@pytest.mark.parametrize("counts, message", [
    ({}, "holds no images"),
    ({("train", "a"): 10, ("val", "a"): 2, ("test", "a"): 2}, "of 1 class(es) (a)"),
    ({("train", "a"): 10, ("train", "b"): 10, ("test", "a"): 2}, "no val images"),
    ({("train", "a"): 10, ("train", "b"): 10, ("val", "b"): 2}, "no test images"),
    ({("val", "a"): 10, ("val", "b"): 10, ("test", "a"): 2, ("train", "b"): 3}, "of 1 class(es) (b)"),
])
def test_check_training_data_refuses(counts: dict, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_training_data(counts, VisionConfig(classes=("a", "b")))


def test_check_training_data_names_declared_classes_without_training_images() -> None:
    counts = {("train", "a"): 10, ("train", "b"): 10, ("val", "a"): 2, ("test", "b"): 2}
    assert check_training_data(counts, VisionConfig(classes=("a", "b", "c"))) == ["c"]
