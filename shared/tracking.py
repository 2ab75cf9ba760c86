"""MLflow set-up and logging helpers: a SQLite store under .local locally, Databricks + Unity Catalog remotely."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow

from shared.env import local_home, on_databricks

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from pyspark.sql import DataFrame

    from shared.config import JobConfig
    from shared.tables import TableStore

SAMPLE_ROWS_MAX = 1000


def configure_tracking() -> str:
    """Point MLflow at the right store and registry; return the tracking URI.

    ``MLFLOW_TRACKING_URI`` always wins. On Databricks: tracking ``databricks``, registry ``databricks-uc``.
    Locally: ``sqlite:///<home>/mlflow.db`` (which also serves the model registry), artifacts beside it.
    """
    if os.environ.get("MLFLOW_TRACKING_URI"):
        uri = os.environ["MLFLOW_TRACKING_URI"]
    elif on_databricks():
        uri = "databricks"
        mlflow.set_registry_uri("databricks-uc")
    else:
        home = local_home()
        home.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{home / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    return uri


def local_artifact_root() -> str:
    """Where local experiments keep artifacts (a folder beside the SQLite store)."""
    return (local_home() / "mlartifacts").as_uri()


def ensure_experiment(name: str) -> str:
    """Create the experiment if absent (with a local artifact folder off Databricks); return its id."""
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    if on_databricks() or os.environ.get("MLFLOW_TRACKING_URI", "").startswith(("http", "databricks")):
        return mlflow.create_experiment(name)
    folder = name.strip("/").replace("/", "_")
    return mlflow.create_experiment(name, artifact_location=f"{local_artifact_root()}/{folder}")


def git_commit(deployed: str = "") -> str:
    """The code's commit: the deployed one (the ``git_commit`` job parameter, ``${bundle.git.commit}``), else
    ``$GIT_COMMIT`` (CI), else ``git rev-parse`` of this source tree, else unknown."""
    if deployed:
        return deployed
    if os.environ.get("GIT_COMMIT"):
        return os.environ["GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@contextmanager
def task_run(config: JobConfig, usecase: str, task: str, target: str,
             run_context: Mapping[str, str] | None = None) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run for one task: experiment from config, config as params, tags for commit, target and the
    Databricks job run (``job_run_id``) that started it."""
    configure_tracking()
    experiment_id = ensure_experiment(config.experiment)
    # Make it the active experiment while the run is open: nested runs (start_run(nested=True)) and any run
    # started without an experiment id then land here, not in experiment 0 "Default" with artifacts in ./mlruns.
    fluent = mlflow.tracking.fluent
    previous = getattr(fluent, "_active_experiment_id", None)
    previous_env = os.environ.get("MLFLOW_EXPERIMENT_ID")  # set_experiment sets it too
    mlflow.set_experiment(experiment_id=experiment_id)
    tags = {"usecase": usecase, "task": task, "target": target, "git_commit": git_commit(config.git_commit),
            **{k: v for k, v in (run_context or {}).items() if v}}
    try:
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"{usecase}.{task}", tags=tags) as run:
            log_config(config)
            yield run
    finally:
        fluent._active_experiment_id = previous
        if previous_env is None:
            os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        else:
            os.environ["MLFLOW_EXPERIMENT_ID"] = previous_env


def lineage_tags(tables: TableStore, inputs: Mapping[str, str], config: JobConfig,
                 training_run_id: str | None = None) -> dict[str, str]:
    """Tags that say where a model came from: each input table with its current version, the config, the code's
    commit and the training run. ``inputs`` maps a label (``transactions``) to the table name or file path."""
    tags = {f"input.{label}": f"{tables.display_name(name)}@{tables.current_version(name)}"
            for label, name in inputs.items() if name and tables.exists(name)}
    tags["config"] = json.dumps(config.as_params(), sort_keys=True)
    tags["git_commit"] = git_commit(config.git_commit)
    if training_run_id:
        tags["training_run_id"] = training_run_id
    return tags


def log_config(config: JobConfig) -> None:
    """Log every config field as an MLflow param."""
    mlflow.log_params(config.as_params())


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log numeric metrics, skipping None values."""
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None}, step=step)


def log_figure(fig: Figure, artifact_file: str) -> None:
    """Log a matplotlib figure as a PNG artifact and close it (figures leak memory in long jobs)."""
    import matplotlib.pyplot as plt

    mlflow.log_figure(fig, artifact_file)
    plt.close(fig)


def log_table_sample(df: DataFrame, artifact_file: str, limit: int = 100) -> None:
    """Log at most ``limit`` rows of a Spark DataFrame as a JSON table artifact (bounded collect)."""
    rows = max(0, min(limit, SAMPLE_ROWS_MAX))
    mlflow.log_table(df.limit(rows).toPandas(), artifact_file)


def log_text(text: str, artifact_file: str) -> None:
    """Log text (SQL, rules, reports) as an artifact."""
    mlflow.log_text(text, artifact_file)


def log_dict(data: Mapping[str, Any], artifact_file: str) -> None:
    """Log a JSON-serialisable mapping as an artifact."""
    mlflow.log_dict(dict(data), artifact_file)


def log_file(path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Log a local file as an artifact."""
    mlflow.log_artifact(str(path), artifact_path)


def scratch_dir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder for artifacts, removed when the context exits."""
    return tempfile.TemporaryDirectory(prefix=prefix)
