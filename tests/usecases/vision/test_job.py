"""The vision job end to end through the local runner: defaults, a user's own folder, a (path, label) table, and
the model lifecycle when a user's classes replace the default ones in the same store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from shared.bundle import load_bundle
from shared.registry import SUPERSEDED_TAG
from shared.runner import TaskFailed, run_job
from shared.tables import LocalTableStore
from shared.task import InputError
from tests.usecases.vision.test_portable import load_isolated
from usecases.vision.generate import DEFECTS, write_defect_images

REPO_ROOT = Path(__file__).resolve().parents[3]
MODEL = "main.ml_use_cases.defect_classifier"
SMALL = {"n_images": "120", "n_score_images": "8", "max_epochs": "2", "min_epochs": "1", "num_processes": "1",
         "image_size": "16", "batch_size": "16"}


def reports(results) -> dict:  # list[TaskResult]
    return {r.task: r.report for r in results}


def run(warehouse: Path, overrides: dict[str, str], task: str | None = None) -> dict:
    return reports(run_job(load_bundle(REPO_ROOT), "vision", overrides=overrides, only_task=task,
                           warehouse=str(warehouse), echo=lambda _: None))


def renamed_defect_images(root: Path, count: int, seed: int, names: dict[str, str]) -> None:
    """The generated defect set with its class folders renamed: a user's data set with other classes."""
    write_defect_images(root, count, seed, size=32)
    for old, new in names.items():
        shutil.move(str(root / old), str(root / new))


@pytest.mark.slow
def test_job_on_defaults_reaches_95_percent_test_accuracy(spark, warehouse: Path, mlflow_store: str) -> None:
    by_task = reports(run_job(load_bundle(REPO_ROOT), "vision", warehouse=str(warehouse)))
    train = by_task["train"].metrics
    assert train["test_accuracy"] >= 0.95
    assert train["test_accuracy_logged_model"] == pytest.approx(train["test_accuracy"])
    assert train["num_processes"] == 2 and train["weights_identical_across_ranks"] == 1.0
    assert by_task["prepare"].rows_out == 800 and by_task["prepare"].rows_quarantined == 0
    tables = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    predictions = tables.read("image_predictions")
    assert predictions.columns == ["path", "label", "probability", "model_version"]
    assert predictions.count() == 40 and by_task["score"].metrics["accuracy_on_labelled_folders"] >= 0.9
    assert by_task["score"].metrics["accuracy_below_expected"] == 0.0
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    run_id = client.get_model_version(MODEL, "1").run_id
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"confusion_matrix.png", "sample_predictions.png", "training_summary.json"} <= artifacts
    assert len(client.get_metric_history(run_id, "val_loss")) == train["epochs_run"]


@pytest.mark.slow
def test_a_users_classes_replace_the_default_model_and_score_never_uses_the_old_one(
        spark, tmp_path: Path, warehouse: Path, mlflow_store: str) -> None:
    # 1. The default job, as a first user of the store would run it: v1 (defect classes) becomes champion.
    first = run(warehouse, {**SMALL, "generate_data": "true"})
    assert first["train"].metrics["promoted"] == 1.0
    # 2. A user's own folders with other classes, in the same store.
    names = dict(zip(DEFECTS, ("ok", "dent", "scuff", "pit"), strict=True))
    renamed_defect_images(tmp_path / "parts", 80, seed=5, names=names)
    renamed_defect_images(tmp_path / "new parts", 12, seed=9, names=names)
    mine = {**SMALL, "image_folder": str(tmp_path / "parts"), "score_folder": str(tmp_path / "new parts"),
            "classes": "ok,dent,scuff,pit", "generate_data": "false"}
    assert run(warehouse, mine, "prepare")["prepare"].rows_out == 80
    # Before training, the champion is still the defect model: scoring the user's images with it is refused.
    with pytest.raises(TaskFailed) as refused:
        run(warehouse, mine, "score")
    assert isinstance(refused.value.cause, InputError)
    assert "champion v1" in str(refused.value.cause) and "classes clean,crack,scratch,spot" in str(refused.value.cause)
    tables = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    assert {r["label"] for r in tables.read("image_predictions").collect()} <= set(DEFECTS)  # the old rows stand
    # 3. Training the user's model: the old champion cannot score its test split, so the new one is promoted.
    trained = run(warehouse, mine, "train")["train"].metrics
    assert trained["model_version"] == 2.0 and trained["promoted"] == 1.0
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "2"
    assert "knows classes clean,crack,scratch,spot" in client.get_model_version(MODEL, "1").tags[SUPERSEDED_TAG]
    tags = client.get_model_version(MODEL, "2").tags
    assert "cannot score" in tags["promotion_reason"]
    assert tags["input.prepared"].startswith("main.ml_use_cases.defect_images_prepared@v")
    assert tags["input.images"].startswith(str(tmp_path / "parts"))
    assert '"classes": "ok,dent,scuff,pit"' in tags["config"] and tags["git_commit"]
    assert tags["training_run_id"] == client.get_model_version(MODEL, "2").run_id
    # 4. Scoring now uses v2 and labels with the user's classes only.
    scored = run(warehouse, mine, "score")["score"]
    assert scored.rows_in == 12 and scored.rows_out == 12 and scored.metrics["model_version"] == 2.0
    predictions = tables.read("image_predictions").collect()
    assert {r["model_version"] for r in predictions} == {"2"}
    assert {r["label"] for r in predictions} <= {"ok", "dent", "scuff", "pit"}
    assert 0.0 <= scored.metrics["accuracy_on_labelled_folders"] <= 1.0 and scored.metrics["labelled_images"] == 12
    # 5. The registered model loads where this repository cannot be imported.
    isolated = load_isolated(f"models:/{MODEL}/2", mlflow_store, tmp_path)
    assert isolated["repo_modules_loaded"] == [] and isolated["labels"][0] in {"ok", "dent", "scuff", "pit"}


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
    by_task = run(warehouse, small)
    tables = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    reasons = {Path(r["path"]).name: r["quarantine_reason"] for r in tables.read("defect_images_quarantine").collect()}
    assert reasons == {"truncated.png": "truncated image data",
                       "odd.png": "unknown label 'smudge' (expected one of clean, crack, scratch, spot)"}
    assert by_task["prepare"].rows_out == 40 and by_task["train"].metrics["epochs_run"] == 2
    assert by_task["score"].rows_out == 41 and by_task["score"].rows_quarantined == 1  # the corrupt file
    again = run(warehouse, small, "train")["train"].metrics
    # Same data and split: the gate compares both models on it; the challenger must beat, not match, the champion.
    assert again["model_version"] == 2
    assert again["promoted"] == float(again["test_accuracy_logged_model"] > again["champion_test_accuracy_same_data"])


def test_prepare_from_a_path_label_table(spark, tmp_path: Path, warehouse: Path) -> None:
    write_defect_images(tmp_path / "imgs", 8, seed=1, size=32)
    rows = [f"{p},{p.parent.name}" for p in sorted((tmp_path / "imgs").rglob("*.png"))]
    listing = tmp_path / "listing.csv"
    listing.write_text("\n".join(["path,label", *rows, f"{tmp_path}/missing.png,spot", ",clean"]) + "\n")
    report = run(warehouse, {"image_table": str(listing), "generate_data": "false"}, "prepare")["prepare"]
    assert (report.rows_in, report.rows_out, report.rows_quarantined) == (10, 8, 2)
    tables = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    reasons = sorted(r["quarantine_reason"] for r in tables.read("defect_images_quarantine").collect())
    assert reasons == ["file could not be read", "path is null"]


def test_generate_never_writes_into_folders_the_user_named(spark, tmp_path: Path, warehouse: Path) -> None:
    mine, new = tmp_path / "my images", tmp_path / "my new images"
    mine.mkdir()
    new.mkdir()
    generated = run(warehouse, {"image_folder": str(mine), "score_folder": str(new), "generate_data": "true",
                                "n_images": "8", "n_score_images": "4"}, "generate")["generate"]
    assert generated.rows_out == 0 and not any(mine.iterdir()) and not any(new.iterdir())
    # A user's training folder and no score folder: no synthetic defects are generated to score either.
    generated = run(warehouse, {"image_folder": str(mine), "generate_data": "true", "n_images": "8",
                                "n_score_images": "4"}, "generate")["generate"]
    volume = LocalTableStore(spark, "main", "ml_use_cases", warehouse).volume_path("vision")
    assert generated.rows_out == 0 and not any(volume.rglob("*.png"))
    # The defaults write into the job's own volume, once.
    defaults = {"generate_data": "true", "n_images": "8", "n_score_images": "4"}
    assert run(warehouse, defaults, "generate")["generate"].rows_out == 12
    assert run(warehouse, defaults, "generate")["generate"].rows_out == 0
    assert len(list(volume.rglob("*.png"))) == 12 and not any(mine.iterdir())


def test_score_refuses_clearly_without_a_champion_or_a_score_folder(spark, tmp_path: Path, warehouse: Path,
                                                                    mlflow_store: str) -> None:
    with pytest.raises(TaskFailed) as no_model:
        run(warehouse, {"score_folder": str(tmp_path)}, "score")
    assert isinstance(no_model.value.cause, InputError) and "has no champion version" in str(no_model.value.cause)
    with pytest.raises(TaskFailed) as no_folder:  # a user's training images, and no folder of new images named
        run(warehouse, {"image_folder": str(tmp_path)}, "score")
    assert isinstance(no_folder.value.cause, InputError) and "score_folder is not set" in str(no_folder.value.cause)
