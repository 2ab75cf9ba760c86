"""MLflow tracking on a real SQLite store: runs carry config and tags; the champion alias only moves forward."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import pytest
from mlflow.tracking import MlflowClient

from shared.config import JobConfig
from shared.registry import (
    CHAMPION,
    SUPERSEDED_TAG,
    IncompatibleModelError,
    beats,
    model_name,
    register_model,
)
from shared.tracking import configure_tracking, log_figure, log_table_sample, task_run


@dataclass(frozen=True)
class DemoConfig(JobConfig):
    threshold: float = 0.5


class Constant(mlflow.pyfunc.PythonModel):
    """A tiny real pyfunc model."""

    def predict(self, context, model_input, params=None):
        return model_input.iloc[:, 0] * 0


def test_local_store_is_sqlite(mlflow_store: str) -> None:
    assert configure_tracking().startswith("sqlite:///")


def test_task_run_logs_config_tags_figure_and_sample(spark, mlflow_store: str) -> None:
    cfg = DemoConfig(experiment="/tests/demo", target="local", threshold=0.7)
    with task_run(cfg, "demo", "train", cfg.target) as run:
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        log_figure(fig, "plots/line.png")
        log_table_sample(spark.range(5000), "samples/rows.json", limit=50)
    data = MlflowClient().get_run(run.info.run_id).data
    assert data.params["threshold"] == "0.7" and data.params["catalog"] == "main"
    assert data.tags["usecase"] == "demo" and data.tags["task"] == "train" and data.tags["target"] == "local"
    assert data.tags["git_commit"]
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "plots")}
    assert artifacts == {"plots/line.png"}
    table = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/samples/rows.json")
    assert len(table["data"]) == 50


class Scored(mlflow.pyfunc.PythonModel):
    """A real pyfunc whose 'quality' on any data is its constant, and which knows its classes."""

    def __init__(self, quality: float, classes: str = "a,b") -> None:
        self.quality, self.classes = quality, classes

    def predict(self, context, model_input, params=None):
        return model_input.iloc[:, 0] * 0 + self.quality


def _log(quality: float, classes: str = "a,b") -> str:
    with mlflow.start_run():
        return mlflow.pyfunc.log_model(name="model", python_model=Scored(quality, classes),
                                       metadata={"classes": classes}).model_uri


def _scorer(classes: str):  # Callable[[str], float]
    """Score any model on 'the challenger's test data': it must know the same classes."""
    import pandas as pd

    def score(uri: str) -> float:
        model = mlflow.pyfunc.load_model(uri)
        if (model.metadata.metadata or {}).get("classes") != classes:
            raise IncompatibleModelError(f"model classes {model.metadata.metadata.get('classes')} != {classes}")
        return float(model.predict(pd.DataFrame({"x": [1.0]})).iloc[0])

    return score


def test_champion_moves_only_when_the_challenger_wins_on_the_same_data(mlflow_store: str) -> None:
    configure_tracking()
    name = model_name("main", "tests", "demo_model")
    client = MlflowClient()
    first = register_model(_log(0.80), name, "f1", 0.80, score_model=_scorer("a,b"), tags={"input.t": "v1"})
    assert first.promoted and first.previous_champion_value is None and first.reason == "no champion yet"
    assert client.get_model_version(name, first.version).tags["input.t"] == "v1"
    # The challenger reports 0.85 on its own split, but the champion scores 0.80 there: the challenger wins.
    challenger = _log(0.85)
    with mlflow.start_run() as run:
        better = register_model(challenger, name, "f1", 0.85, score_model=_scorer("a,b"))
    assert better.promoted and better.previous_champion_value == pytest.approx(0.80)
    logged = client.get_run(run.info.run_id).data.metrics
    assert logged["challenger_f1"] == pytest.approx(0.85) and logged["champion_f1_same_data"] == pytest.approx(0.80)
    worse = register_model(_log(0.70), name, "f1", 0.70, score_model=_scorer("a,b"))
    assert not worse.promoted and "does not beat" in worse.reason
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == better.version


def test_an_incompatible_champion_is_superseded_with_a_reason(mlflow_store: str) -> None:
    configure_tracking()
    name = model_name("main", "tests", "demo_classes")
    client = MlflowClient()
    old = register_model(_log(0.99, "a,b"), name, "accuracy", 0.99, score_model=_scorer("a,b"))
    new = register_model(_log(0.60, "x,y,z"), name, "accuracy", 0.60, score_model=_scorer("x,y,z"))
    assert new.promoted and "cannot score" in new.reason and new.previous_champion_version == old.version
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == new.version
    assert "x,y,z" in client.get_model_version(name, old.version).tags[SUPERSEDED_TAG]


def test_a_non_finite_metric_never_becomes_champion(mlflow_store: str) -> None:
    configure_tracking()
    name = model_name("main", "tests", "demo_inf")
    assert not register_model(_log(0.5), name, "mae", float("inf"), higher_is_better=False).promoted


def test_beats_rules() -> None:
    assert beats(0.5, None, True)
    assert beats(1.0, 2.0, False) and not beats(2.0, 1.0, False)
    assert not beats(float("nan"), 0.1, True)
    assert not beats(float("inf"), None, False) and not beats(float("-inf"), 0.1, True)
