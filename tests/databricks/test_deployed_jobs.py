"""Smoke test of a DEPLOYED bundle on a real workspace: each job runs at a small size and leaves its tables and models.

It deploys nothing. First deploy, then point the test at the workspace and the target you deployed:

    databricks bundle deploy -t dev
    DATABRICKS_HOST=https://<workspace> DATABRICKS_TOKEN=<token> USECASES_TARGET=dev \\
        .venv/bin/python -m pytest -m databricks tests/databricks -v

(any databricks-sdk authentication works: a profile with DATABRICKS_CONFIG_PROFILE, OAuth, a PAT). Each job is
found by the name the bundle gives it (``[dev <you>] fraud`` in development mode, ``fraud`` in production), run with
``run_now(job_parameters=...)`` at the sizes below (job parameters, exactly as ``databricks bundle run --params``
sends them), and must end in SUCCESS within ``USECASES_RUN_TIMEOUT_MIN`` minutes (default 60). Then its output
tables must exist in ``<catalog>.<schema>`` (the values the job ran with) and its registered model must have a
``champion`` alias. Without ``DATABRICKS_HOST`` every test here is skipped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import pytest

from shared.bundle import load_bundle
from shared.bundle_sync import job_config_class

pytestmark = [
    pytest.mark.databricks,
    pytest.mark.skipif(not os.environ.get("DATABRICKS_HOST"), reason="needs DATABRICKS_HOST (a deployed bundle)"),
]
REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = {
    "fraud": {"n_transactions": "20000", "max_train_rows": "10000", "depth_grid": "3,5"},
    "out_of_stock": {"n_stores": "2", "n_items": "20", "n_days": "120"},
    "forecasting": {"n_stores": "1", "n_items": "4", "n_days": "400", "horizon": "14", "backtest_folds": "1",
                    "backtest_horizon": "14", "uncertainty_samples": "0"},
    "vision": {"n_images": "200", "n_score_images": "8", "max_epochs": "2", "min_epochs": "1"},
    "geospatial": {"n_points": "5000", "n_zones": "9", "resolution": "9"},
}
# Tables each job must leave behind (its main outputs; quarantine tables are written whenever inputs are read).
OUTPUTS = {
    "fraud": ("features_table", "scores_table", "rules_table", "review_queue_table"),
    "out_of_stock": ("signals_table", "alerts_table", "osa_daily_table"),
    "forecasting": ("prepared_table", "metrics_table", "forecasts_table"),
    "vision": ("prepared_table", "predictions_table"),
    "geospatial": ("points_indexed_table", "points_zoned_table", "zone_stats_table"),
}


@pytest.fixture(scope="module")
def workspace():
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient()


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(REPO_ROOT)


def _deployed_job(workspace, name: str) -> int:  # WorkspaceClient
    """The job id of the deployed job whose name is ``name`` or ``[dev <user>] name``."""
    target = os.environ.get("USECASES_TARGET", "dev")
    matches = [j for j in workspace.jobs.list(name=None) if j.settings and j.settings.name
               and (j.settings.name == name or (target != "prod" and j.settings.name.endswith(f"] {name}")))]
    if not matches:
        pytest.fail(f"no deployed job named {name!r} (deploy the bundle with -t {target} first)")
    return max(matches, key=lambda j: j.created_time or 0).job_id


@pytest.mark.parametrize("job", sorted(SMALL))
def test_job_runs_and_leaves_its_tables_and_model(workspace, bundle, job: str) -> None:
    from databricks.sdk.service.jobs import RunResultState

    config = job_config_class(bundle, bundle.jobs[job])
    job_id = _deployed_job(workspace, bundle.jobs[job].name)
    deployed = workspace.jobs.get(job_id).settings
    defaults = {p.name: p.default for p in (deployed.parameters or [])}
    assert set(defaults) == {f.name for f in dataclasses.fields(config)}, "deployed job parameters differ"
    params = {**SMALL[job], "generate_data": "true"}
    timeout = dt.timedelta(minutes=int(os.environ.get("USECASES_RUN_TIMEOUT_MIN", "60")))
    run = workspace.jobs.run_now(job_id, job_parameters=params).result(timeout=timeout)
    assert run.state and run.state.result_state == RunResultState.SUCCESS, run.state
    catalog, schema = defaults["catalog"], defaults["schema"]
    cfg = config(catalog=catalog, schema=schema)
    for field in OUTPUTS[job]:
        full_name = f"{catalog}.{schema}.{getattr(cfg, field)}"
        assert workspace.tables.exists(full_name).table_exists, f"{job} left no table {full_name}"
    if hasattr(cfg, "registered_model"):
        model = workspace.registered_models.get(f"{catalog}.{schema}.{cfg.registered_model}", include_aliases=True)
        assert any(alias.alias_name == "champion" for alias in (model.aliases or [])), f"{model.full_name}: no champion"
