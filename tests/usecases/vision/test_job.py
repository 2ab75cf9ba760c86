"""The vision job end to end through the local runner: defaults, a user's own folder, a (path, label) table."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from shared.bundle import load_bundle
from shared.runner import run_job
from shared.tables import LocalTableStore
from usecases.vision.generate import write_defect_images

REPO_ROOT = Path(__file__).resolve().parents[3]
MODEL = "main.ml_use_cases.defect_classifier"


def reports(results) -> dict:  # noqa: ANN001 - list[TaskResult]
    return {r.task: r.report for r in results}


@pytest.mark.slow
def test_job_on_defaults_reaches_95_percent_test_accuracy(spark, warehouse: Path, mlflow_store: str) -> None:
    by_task = reports(run_job(load_bundle(REPO_ROOT), "vision", warehouse=str(warehouse)))
    train = by_task["train"].metrics
    assert train["test_accuracy"] >= 0.95
    assert train["num_processes"] == 2 and train["weights_identical_across_ranks"] == 1.0
    assert by_task["prepare"].rows_out == 800 and by_task["prepare"].rows_quarantined == 0
    tables = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    predictions = tables.read("image_predictions")
    assert predictions.columns == ["path", "label", "probability", "model_version"]
    assert predictions.count() == 40 and by_task["score"].metrics["accuracy_on_labelled_folders"] >= 0.9
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    run = client.get_run(client.get_model_version(MODEL, "1").run_id)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"confusion_matrix.png", "sample_predictions.png", "training_summary.json"} <= artifacts
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == train["epochs_run"]


@pytest.mark.slow
def test_job_on_a_users_folder_quarantines_corrupt_and_unknown(spark, tmp_path: Path, warehouse: Path,
                                                               mlflow_store: str) -> None:
    folder = tmp_path / "my images"
    write_defect_images(folder, 40, seed=5, size=32)
    (folder / "spot" / "truncated.png").write_bytes((folder / "spot" / "spot_000003.png").read_bytes()[:60])
    (folder / "smudge").mkdir()
    (folder / "smudge" / "odd.png").write_bytes((folder / "clean" / "clean_000000.png").read_bytes())
    small = {"image_folder": str(folder), "score_folder": str(folder), "num_processes": "1", "max_epochs": "2",
             "min_epochs": "1", "batch_size": "8", "generate_data": "false"}
    by_task = reports(run_job(load_bundle(REPO_ROOT), "vision", overrides=small, warehouse=str(warehouse)))
    tables = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    reasons = {Path(r["path"]).name: r["quarantine_reason"]
               for r in tables.read("defect_images_quarantine").collect()}
    assert set(reasons) == {"truncated.png", "odd.png"}
    assert reasons["truncated.png"].startswith("cannot decode image")
    assert reasons["odd.png"].startswith("unknown label 'smudge'")
    assert by_task["prepare"].rows_out == 40 and by_task["train"].metrics["epochs_run"] == 2
    assert by_task["score"].rows_out == 41 and by_task["score"].rows_quarantined == 1  # the corrupt file
    first = by_task["train"].metrics["test_accuracy"]
    again = reports(run_job(load_bundle(REPO_ROOT), "vision", overrides=small, only_task="train",
                            warehouse=str(warehouse)))["train"].metrics
    assert again["model_version"] == 2 and again["promoted"] == float(again["test_accuracy"] > first)


def test_prepare_from_a_path_label_table(spark, tmp_path: Path, warehouse: Path) -> None:
    write_defect_images(tmp_path / "imgs", 8, seed=1, size=32)
    rows = [f"{p},{p.parent.name}" for p in sorted((tmp_path / "imgs").rglob("*.png"))]
    listing = tmp_path / "listing.csv"
    listing.write_text("\n".join(["path,label", *rows, f"{tmp_path}/missing.png,spot", ",clean"]) + "\n")
    overrides = {"image_table": str(listing), "generate_data": "false"}
    report = reports(run_job(load_bundle(REPO_ROOT), "vision", overrides=overrides, only_task="prepare",
                             warehouse=str(warehouse)))["prepare"]
    assert (report.rows_in, report.rows_out, report.rows_quarantined) == (10, 8, 2)
    tables = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    assert tables.read("defect_images_quarantine").first()["quarantine_reason"] == "file could not be read"
    assert tables.read("image_list_quarantine").first()["quarantine_reason"] == "path is null"
