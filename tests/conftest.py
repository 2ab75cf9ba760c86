"""Session-wide fixtures: one local SparkSession, a temporary warehouse and MLflow store per test."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Set before any Spark or MLflow import can read them: a small driver, two cores, local state in a temp folder.
_SESSION_HOME = tempfile.mkdtemp(prefix="usecases-tests-")
os.environ.setdefault("USECASES_HOME", _SESSION_HOME)
os.environ.setdefault("USECASES_SPARK_MASTER", "local[2]")
os.environ.setdefault("USECASES_DRIVER_MEMORY", "2g")
# A test without its own store logs here, never to ./mlruns in the checkout.
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_SESSION_HOME}/mlflow.db"  # never a developer's own store
os.environ.setdefault("USECASES_PROGRESS", "off")  # tests read stderr; progress lines have their own test
os.environ.pop("DATABRICKS_RUNTIME_VERSION", None)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_MATERIAL = REPO_ROOT.parent / "shared"  # material beside the checkout; tests using it skip without it


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _cuda_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def spark():
    """The one SparkSession of the test run (local[2], UI off, UTC, Arrow on)."""
    from shared.spark import get_spark

    session = get_spark("ml-use-cases-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session", autouse=True)
def _session_mlflow_experiment() -> Iterator[None]:
    """Runs of tests without their own store go to the session store, in an experiment whose artifacts live in
    the session's temporary home (a fresh store's "Default" would put them in ./mlruns of the checkout)."""
    import mlflow

    from shared.tracking import ensure_experiment

    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    mlflow.set_experiment(experiment_id=ensure_experiment("/tests"))
    yield


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """An empty local warehouse folder for one test."""
    path = tmp_path / "warehouse"
    path.mkdir()
    return path


@pytest.fixture
def tables(spark, warehouse: Path):
    """A LocalTableStore over the test's warehouse."""
    from shared.tables import LocalTableStore

    return LocalTableStore(spark, "test_catalog", "test_schema", warehouse)


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite MLflow tracking store and artifact folder for one test."""
    import mlflow

    home = tmp_path / "home"
    home.mkdir()
    uri = f"sqlite:///{home / 'mlflow.db'}"
    # A module-scoped store (a whole job run shared by a test module) is put back afterwards.
    previous_uri, previous_experiment = mlflow.get_tracking_uri(), mlflow.tracking.fluent._active_experiment_id
    monkeypatch.setenv("USECASES_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.tracking.fluent._active_experiment_id = None  # no experiment of an earlier test's store
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    # Runs started without an experiment go to one whose artifacts live in the temporary home: a fresh store's
    # "Default" experiment keeps artifacts in ./mlruns, which would land in the checkout.
    from shared.tracking import ensure_experiment

    mlflow.set_experiment(experiment_id=ensure_experiment("/tests"))
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(previous_uri)
    mlflow.tracking.fluent._active_experiment_id = previous_experiment
