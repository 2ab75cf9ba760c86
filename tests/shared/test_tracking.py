"""MLflow tracking on a real SQLite store: runs carry config and tags; the champion alias only moves forward."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import pytest  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from shared.config import JobConfig  # noqa: E402
from shared.registry import CHAMPION, beats, model_name, register_model  # noqa: E402
from shared.tracking import configure_tracking, log_figure, log_table_sample, task_run  # noqa: E402


@dataclass(frozen=True)
class DemoConfig(JobConfig):
    threshold: float = 0.5


class Constant(mlflow.pyfunc.PythonModel):
    """A tiny real pyfunc model."""

    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
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


def test_champion_alias_moves_only_when_the_metric_improves(mlflow_store: str) -> None:
    configure_tracking()
    name = model_name("main", "tests", "demo_model")
    client = MlflowClient()

    def log_and_register(value: float):
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(name="model", python_model=Constant())
        return register_model(info.model_uri, name, "f1", value, higher_is_better=True)

    first = log_and_register(0.80)
    assert first.promoted and first.previous_champion_value is None
    worse = log_and_register(0.70)
    assert not worse.promoted and worse.previous_champion_value == pytest.approx(0.80)
    assert client.get_model_version_by_alias(name, CHAMPION).version == first.version
    better = log_and_register(0.90)
    assert better.promoted
    assert client.get_model_version_by_alias(name, CHAMPION).version == better.version


def test_beats_rules() -> None:
    assert beats(0.5, None, True)
    assert beats(1.0, 2.0, False) and not beats(2.0, 1.0, False)
    assert not beats(float("nan"), 0.1, True)
