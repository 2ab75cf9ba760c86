"""Every registered model loads where MLflow runs, not only where this project is installed.

A Model Serving endpoint, another workspace or a batch job with another environment installs a model's logged
requirements and nothing else; this project's wheel is on no package index. So each job runs small in one fresh
MLflow store, and each registered model's champion is loaded in a separate interpreter where importing
``usecases`` or ``shared`` is impossible (tests/support/isolated.py) and predicts on its logged input example
(or, for a model logged without one, an example built from the job's own tables). Its requirements must name
only packages from PyPI.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.bundle import load_bundle
from shared.bundle_sync import job_config_class
from shared.registry import CHAMPION, model_name
from shared.tables import LocalTableStore
from tests.support.isolated import predict_isolated

REPO_ROOT = Path(__file__).resolve().parents[1]
NOT_ON_PYPI = ("ml-use-cases", "ml_use_cases")
# job -> (small parameters, whether the job can run here)
JOBS = {
    "fraud": ({"n_transactions": "6000", "max_train_rows": "4000", "depth_grid": "3,4", "cv_folds": "2"}, True),
    "forecasting": ({"n_stores": "1", "n_items": "2", "n_days": "400", "horizon": "7", "backtest_folds": "1",
                     "backtest_horizon": "7", "uncertainty_samples": "0", "plot_series": "1"}, True),
    "vision": ({"n_images": "120", "n_score_images": "8", "max_epochs": "2", "min_epochs": "1", "num_processes": "1",
                "image_size": "16"}, importlib.util.find_spec("torch") is not None),
}


def _forecasting_example(tables: LocalTableStore, cfg) -> pd.DataFrame:  # the job's config
    """The demand_forecaster is logged without an input example: one published series, a 3-day horizon."""
    key = tables.read(cfg.forecasts_table).select(*cfg.keys).limit(1).toPandas()
    return key.astype(str).assign(horizon=np.int64(3))


def _tensor_example(signature) -> np.ndarray:  # an MLflow ModelSignature with a tensor input
    """Zeros shaped like the signature's tensor input (a variable dimension becomes 2)."""
    spec = signature.inputs.inputs[0]
    return np.zeros([2 if d == -1 else d for d in spec.shape], dtype=spec.type)


# Used only when a model has no logged input example.
EXAMPLES: dict[str, Callable[..., pd.DataFrame]] = {"forecasting": _forecasting_example}


class Store:
    """One fresh MLflow store and warehouse; each job runs (small) the first time a test asks for it."""

    def __init__(self, home: Path) -> None:
        self.home, self.uri, self.configs = home, f"sqlite:///{home / 'mlflow.db'}", {}

    def run(self, job: str):  # the job's config
        from shared.runner import run_job

        if job not in self.configs:
            small, runnable = JOBS[job]
            if not runnable:
                pytest.skip(f"{job} cannot run here (its extra is not installed)")
            bundle = load_bundle(REPO_ROOT)
            run_job(bundle, job, {**small, "generate_data": "true"}, warehouse=str(self.home / "warehouse"),
                    echo=lambda _: None)
            self.configs[job] = job_config_class(bundle, bundle.jobs[job])()
        return self.configs[job]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    import mlflow

    home = tmp_path_factory.mktemp("load-anywhere")
    created = Store(home)
    patch = pytest.MonkeyPatch()
    patch.setenv("USECASES_HOME", str(home))
    patch.setenv("MLFLOW_TRACKING_URI", created.uri)
    mlflow.set_tracking_uri(created.uri)
    yield created
    patch.undo()


@pytest.mark.slow
@pytest.mark.parametrize("job", JOBS)
def test_registered_model_loads_and_predicts_without_this_project(store: Store, spark, job: str,
                                                                  tmp_path: Path) -> None:
    import mlflow

    cfg = store.run(job)
    name = model_name(cfg.catalog, cfg.schema, cfg.registered_model)
    version = mlflow.MlflowClient().get_model_version_by_alias(name, CHAMPION).version
    model_uri = f"models:/{name}/{version}"
    requirements = Path(mlflow.pyfunc.get_model_dependencies(model_uri)).read_text().splitlines()
    assert not [r for r in requirements if r.strip().lower().startswith(NOT_ON_PYPI)], requirements
    info = mlflow.models.get_model_info(model_uri)
    example_path = None
    if info.saved_input_example_info is None:
        if info.signature is not None and info.signature.inputs.is_tensor_spec():
            example_path = tmp_path / "example.npy"
            np.save(example_path, _tensor_example(info.signature))
        else:
            example_path = tmp_path / "example.parquet"
            tables = LocalTableStore(spark, cfg.catalog, cfg.schema, store.home / "warehouse")
            EXAMPLES[job](tables, cfg).to_parquet(example_path)
    result = predict_isolated(model_uri, store.uri, example_path)
    assert result["project_modules_loaded"] == []
    assert result["rows"] >= 1
    assert result["files_left_in_cwd"] == [], "loading must not write into the working folder (e.g. ./mlruns)"


@pytest.mark.slow
def test_every_registered_model_is_covered(store: Store) -> None:
    """Each model job's model is a parameter above, and the jobs register no other model."""
    import mlflow

    configs = [store.run(job) for job, (_, runnable) in JOBS.items() if runnable]
    registered = {m.name for m in mlflow.MlflowClient().search_registered_models()}
    assert registered == {model_name(c.catalog, c.schema, c.registered_model) for c in configs}
