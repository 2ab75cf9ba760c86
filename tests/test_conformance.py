"""One shape for five use cases: the same checks run against every job, as statsforecast runs one suite per model.

Static checks (fast): the job's YAML parameters equal its config dataclass, every parameter has a meaning,
names follow the conventions (``*_table``, ``n_*``, ``ground_truth_table``, ``registered_model``), contracts live
in ``<usecase>/contracts.py``, the champion alias is the core's constant. Run checks (slow): a small end-to-end
run of each job writes only tables its config declares, plus ``<input>_quarantine`` for inputs it validated.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path

import pytest

from shared.bundle import load_bundle
from shared.bundle_sync import job_config_class, synced_text_for_job
from shared.config import describe
from shared.contracts import Contract
from shared.serverless import GUARD_ENV
from shared.task import quarantine_table

REPO_ROOT = Path(__file__).resolve().parents[1]
JOBS = ("fraud", "out_of_stock", "forecasting", "vision", "geospatial")
MODEL_JOBS = {"fraud", "forecasting", "vision"}
# Small runs for the run checks (seconds to a minute each on two cores).
SMALL = {
    "fraud": {"n_transactions": "6000", "max_train_rows": "4000", "depth_grid": "3,4", "cv_folds": "2"},
    "out_of_stock": {"n_stores": "2", "n_items": "10", "n_days": "120"},
    "forecasting": {"n_stores": "1", "n_items": "3", "n_days": "400", "horizon": "14", "backtest_folds": "1",
                    "backtest_horizon": "14", "uncertainty_samples": "0", "plot_series": "1"},
    "vision": {"n_images": "120", "n_score_images": "8", "max_epochs": "2", "min_epochs": "1",
               "num_processes": "1", "image_size": "16"},
    "geospatial": {"n_points": "2000", "n_zones": "9", "resolution": "9", "map_max_cells": "200"},
}
OLD_NAMES = {"rows", "stores", "items", "history_days", "num_images", "score_images", "truth_table",
             "points_truth_table"}


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(REPO_ROOT)


def _config_cls(bundle, job: str):
    return job_config_class(bundle, bundle.jobs[job])


def _package_sources(job: str) -> dict[str, str]:
    folder = REPO_ROOT / "usecases" / job
    return {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.py")}


@pytest.mark.parametrize("job", JOBS)
def test_yaml_parameters_equal_the_config(bundle, job: str) -> None:
    assert not synced_text_for_job(bundle, bundle.jobs[job]).stale, "run `usecases sync-bundle`"
    fields = [f.name for f in dataclasses.fields(_config_cls(bundle, job))]
    assert bundle.jobs[job].parameter_names == fields
    for task in bundle.jobs[job].tasks:
        assert not task.parameters and dict(task.named_parameters) == {"job_run_id": "{{job.run_id}}"}


@pytest.mark.parametrize("job", JOBS)
def test_every_parameter_has_a_meaning_and_a_conventional_name(bundle, job: str) -> None:
    infos = describe(_config_cls(bundle, job))
    assert all(i.help and len(i.help) > 10 for i in infos), [i.name for i in infos if not i.help]
    names = {i.name for i in infos}
    assert not names & OLD_NAMES
    tables = [i for i in infos if i.name.endswith("_table")]
    assert tables and all(i.type == "text" for i in tables)
    assert not [n for n in names if "truth" in n and n != "ground_truth_table"]
    assert ("registered_model" in names) == (job in MODEL_JOBS)


@pytest.mark.parametrize("job", JOBS)
def test_contracts_live_in_the_contracts_module(job: str) -> None:
    module = importlib.import_module(f"usecases.{job}.contracts")
    assert any(isinstance(v, Contract) or callable(v) for v in vars(module).values())
    for name, source in _package_sources(job).items():
        if name != "contracts.py":
            assert not re.search(r"\bContract\(", source), f"{job}/{name} declares a contract"


@pytest.mark.parametrize("job", JOBS)
def test_model_name_and_alias_come_from_config_and_core(bundle, job: str) -> None:
    cfg = _config_cls(bundle, job)()
    for name, source in _package_sources(job).items():
        assert '"champion"' not in source and "'champion'" not in source, f"{job}/{name}: use shared.registry.CHAMPION"
        if job in MODEL_JOBS and name != "config.py":
            assert f'"{cfg.registered_model}"' not in source, f"{job}/{name} names the model; use cfg.registered_model"


def _declared_tables(cfg) -> set[str]:
    return {getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name.endswith("_table") and getattr(cfg, f.name)}


def _quarantines(job: str) -> set[str]:
    module = importlib.import_module(f"usecases.{job}.contracts")
    names = set()
    for value in vars(module).values():
        if isinstance(value, Contract):
            names.add(quarantine_table(value.table))
        elif isinstance(value, str) and value.islower() and value.isidentifier():
            names.add(quarantine_table(value))  # a logical input name without a row contract (files)
    return names


@pytest.fixture(scope="module")
def small_job_runs(spark, tmp_path_factory: pytest.TempPathFactory):
    """Each job once, small, in one warehouse and MLflow store: (home, job -> task reports)."""
    import mlflow

    from shared.runner import run_job

    home = tmp_path_factory.mktemp("conformance")
    patch = pytest.MonkeyPatch()
    patch.setenv("USECASES_HOME", str(home))
    patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    bundle = load_bundle(REPO_ROOT)
    runs = {}
    for job in JOBS:
        results = run_job(bundle, job, {**SMALL[job], "generate_data": "true"}, warehouse=str(home / "warehouse"),
                          echo=lambda _: None)
        runs[job] = {r.task: r.report for r in results}
    yield home, runs
    patch.undo()


@pytest.fixture(scope="module")
def small_runs(small_job_runs):
    """job -> task reports of the small classic runs."""
    return small_job_runs[1]


@pytest.mark.slow
@pytest.mark.parametrize("job", JOBS)
def test_every_table_a_task_writes_is_declared(bundle, small_runs, job: str) -> None:
    cfg = _config_cls(bundle, job)()
    allowed = _declared_tables(cfg) | _quarantines(job)
    for task, report in small_runs[job].items():
        undeclared = set(report.tables_written) - allowed
        assert not undeclared, f"{job}.{task} wrote undeclared tables {sorted(undeclared)}"
        quarantines = {t for t in report.tables_written if t.endswith("_quarantine")}
        assert quarantines <= _quarantines(job)
    assert any(r.tables_written for r in small_runs[job].values())


@pytest.mark.slow
@pytest.mark.parametrize("job", JOBS)
def test_every_job_ends_with_its_headline_results(small_runs, job: str) -> None:
    """What the job found, in words, for the end-of-job summary (alerts by type, PR-AUC, accuracy, ...)."""
    lines = [line for report in small_runs[job].values() for line in report.summary]
    assert lines and all(isinstance(line, str) and len(line) > 20 for line in lines), lines

@pytest.mark.slow
def test_connect_mode_with_the_serverless_guard_gives_the_classic_tables(small_job_runs, tmp_path_factory) -> None:
    """``USECASES_SPARK_REMOTE=local[2] usecases run all`` at the small sizes, in its own process (Spark Connect
    to a local server, serverless guard on), writes the same tables as the classic in-process runs on the same
    seed: equal values, floats within 1e-6, trained image predictions within ``compare_runs.TRAINED_RTOL``."""
    import os
    import subprocess
    import sys

    from tests.support.compare_runs import compare_warehouses

    classic_home, _ = small_job_runs
    home = tmp_path_factory.mktemp("connect")
    params = ["--param", "generate_data=true"]
    for job, values in SMALL.items():
        for name, value in values.items():
            params += ["--param", f"{job}.{name}={value}"]
    env = {**os.environ, "USECASES_HOME": str(home), "USECASES_SPARK_REMOTE": "local[2]",
           "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}", "USECASES_PROGRESS": "off"}
    env.pop("USECASES_WAREHOUSE", None)
    env.pop(GUARD_ENV, None)  # the guard is on unless switched off
    cwd = tmp_path_factory.mktemp("connect-cwd")  # MLflow's ./mlruns default would land here
    repo_mlruns = sorted((REPO_ROOT / "mlruns").rglob("*"))
    done = subprocess.run([sys.executable, "-m", "shared.cli", "--bundle", str(REPO_ROOT), "run", "all", *params],
                          env={**env, "PYTHONPATH": str(REPO_ROOT)}, cwd=cwd, capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    _every_run_sits_in_its_jobs_experiment(home, cwd)
    assert sorted((REPO_ROOT / "mlruns").rglob("*")) == repo_mlruns  # nothing written into the checkout either
    tables, problems = compare_warehouses(classic_home / "warehouse", home / "warehouse")
    assert not problems, "\n".join(problems)
    assert {"fraud_scores", "oos_alerts", "forecasts", "image_predictions", "points_zoned"} <= set(tables)


def _every_run_sits_in_its_jobs_experiment(home: Path, cwd: Path) -> None:
    """After ``usecases run all`` on a fresh store: each job's runs (nested ones included) are in that job's
    experiment, nothing is in "Default", and no ``mlruns`` folder appeared."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    experiments = {e.experiment_id: e.name for e in client.search_experiments()}
    runs = client.search_runs(list(experiments), max_results=1000)
    assert {run.data.tags.get("usecase") for run in runs} >= set(MODEL_JOBS)
    by_id = {run.info.run_id: run for run in runs}

    def job_of(run) -> str:  # a nested run belongs to its parent's job
        parent = run.data.tags.get("mlflow.parentRunId")
        return run.data.tags.get("usecase") or (job_of(by_id[parent]) if parent in by_id else "?")

    assert any("mlflow.parentRunId" in run.data.tags for run in runs)  # nested runs are checked too
    for run in runs:
        name = experiments[run.info.experiment_id]
        assert name.endswith(f"ml-use-cases-{job_of(run)}"), (run.info.run_name, name)
    assert not [*cwd.rglob("mlruns"), *home.rglob("mlruns")]
