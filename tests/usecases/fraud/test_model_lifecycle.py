"""A retrain with another feature spec in the same store: the new model is promoted because the champion cannot
score its held-out data, the old version is tagged with why, and the score task never feeds an input to a model
that cannot read it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.bundle import load_bundle
from shared.registry import CHAMPION, SUPERSEDED_TAG
from shared.runner import run_job
from shared.tables import LocalTableStore
from usecases.fraud import job
from usecases.fraud.generate import generate_transactions

REPO_ROOT = Path(__file__).resolve().parents[3]
SMALL = {"max_train_rows": "4000", "max_eval_rows": "3000", "depth_grid": "3,4", "cv_folds": "2",
         "test_fraction": "0.3", "generate_data": "false"}
NAME = "main.ml_use_cases.fraud_tree"


def _reports(results) -> dict[str, object]:
    return {r.task: r.report for r in results}


@pytest.mark.slow
def test_retrain_with_another_feature_spec_supersedes_an_incompatible_champion(
        spark, tmp_path: Path, mlflow_store: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import mlflow

    base = generate_transactions(spark, 6000, seed=5).toPandas()
    with_risk, without_risk = tmp_path / "with_risk.parquet", tmp_path / "without_risk.parquet"
    base.assign(risk=np.random.default_rng(5).random(len(base))).to_parquet(with_risk)
    base.to_parquet(without_risk)
    warehouse = tmp_path / "warehouse"
    bundle = load_bundle(REPO_ROOT)
    first = _reports(run_job(bundle, "fraud", {**SMALL, "transactions_table": str(with_risk), "extra_features": "risk"},
                             warehouse=str(warehouse), echo=lambda _: None))
    assert first["compile"].metrics["promoted"] == 1.0
    client = mlflow.MlflowClient()
    v1 = mlflow.models.get_model_info(f"models:/{NAME}/1")
    assert "risk" in v1.signature.inputs.input_names()

    second = _reports(run_job(bundle, "fraud", {**SMALL, "transactions_table": str(without_risk)},
                              warehouse=str(warehouse), echo=lambda _: None))
    compiled = second["compile"].metrics
    assert compiled["promoted"] == 1.0 and compiled["model_version"] == 2.0
    assert "champion_pr_auc_same_data" not in compiled  # nothing to compare: the champion could not score it
    assert "cannot score" in client.get_model_version(NAME, "2").tags["promotion_reason"]
    assert "risk" in client.get_model_version(NAME, "1").tags[SUPERSEDED_TAG]
    assert second["score"].metrics["model_version"] == 2.0
    scores = LocalTableStore(spark, "main", "ml_use_cases", warehouse).read("fraud_scores")
    assert {r.model_version for r in scores.select("model_version").distinct().collect()} == {"2"}

    # Were the old model champion again, scoring this input must fail with one line, not score with it.
    client.set_registered_model_alias(NAME, CHAMPION, "1")
    monkeypatch.setenv("USECASES_WAREHOUSE", str(warehouse))
    monkeypatch.setattr("sys.argv", ["fraud-score", f"--transactions_table={without_risk}"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        job.score()
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert len(lines) == 1 and f"{CHAMPION} {NAME} v1 cannot score" in lines[0] and "lacks column(s) risk" in lines[0]
    assert {r.model_version for r in scores.select("model_version").distinct().collect()} == {"2"}  # untouched
