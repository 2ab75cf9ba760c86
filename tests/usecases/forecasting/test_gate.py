"""The demand_forecaster gate: any registered version scored on this run's last backtest window, the same way as
the challenger; incompatible versions refused with the reason; the registered pyfunc serves without this repo."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from shared.registry import IncompatibleModelError, model_name
from shared.tracking import ensure_experiment
from usecases.forecasting.backtest import backtest_one_series
from usecases.forecasting.config import ForecastingConfig
from usecases.forecasting.gate import GateData, gate_series, load_recipe, mean_score, refit_last_fold
from usecases.forecasting.generate import simulate_series
from usecases.forecasting.mlflow_logging import log_and_register_forecaster
from usecases.forecasting.model import ForecastSettings, fit_settings, forecast_one_series

END = dt.date(2024, 6, 30)
KEYS = ["store_id", "item_id"]
HORIZON = 14


def _series(item: int, days: int = 300, level: float = 20.0) -> pd.DataFrame:
    spec = pd.Series({"store": 1, "item": item, "level": level, "growth": 0.1, "yearly_amplitude": 0.1,
                      "yearly_phase": 0.0, "holiday_uplift": 0.0, "start_offset": days})
    sold = simulate_series(spec, 7, END, [])
    calendar = pd.DataFrame({"date": pd.date_range(end=END, periods=days).date})
    frame = calendar.merge(sold[["date", "units_sold"]], on="date", how="left").fillna({"units_sold": 0.0})
    return frame.assign(store_id="1", item_id=str(item))[[*KEYS, "date", "units_sold"]]


@pytest.fixture(scope="module")
def run_tables(spark, tmp_path_factory: pytest.TempPathFactory):
    """One small run's prepared rows, backtest metrics and forecast_models rows, as the job writes them."""
    cfg = ForecastingConfig(horizon=HORIZON, backtest_folds=2, backtest_horizon=HORIZON, uncertainty_samples=0,
                            holidays_country="", candidate_models=("seasonal_naive", "auto_ets", "tsb"),
                            intermittent_adi=0)
    settings = ForecastSettings.from_config(cfg, str(tmp_path_factory.mktemp("scratch")))
    prepared = pd.concat([_series(1), _series(2, level=8.0), _series(3, level=40.0)], ignore_index=True)
    metrics, results = [], []
    for _, pdf in prepared.groupby(KEYS):
        m = backtest_one_series(pdf, KEYS, settings, cfg.backtest_folds, HORIZON, 28)
        metrics.append(m)
        results.append(forecast_one_series(pdf.assign(chosen_model=m["chosen_model"].iloc[0]), KEYS, settings))
    metrics_pdf = pd.concat(metrics, ignore_index=True).assign(training_date=END)
    results_pdf = pd.concat(results, ignore_index=True).assign(training_date=END)
    from usecases.forecasting.backtest import metrics_schema
    from usecases.forecasting.model import result_schema

    return {"cfg": cfg, "settings": settings, "prepared_pdf": prepared,
            "prepared": spark.createDataFrame(prepared, "store_id string, item_id string, date date, "
                                                        "units_sold double"),
            "metrics": spark.createDataFrame(metrics_pdf, metrics_schema(KEYS) + ", training_date date"),
            "results": spark.createDataFrame(results_pdf, result_schema(KEYS) + ", training_date date"),
            "metrics_pdf": metrics_pdf, "results_pdf": results_pdf}


def _gate(spark, t) -> GateData:
    challenger = gate_series(t["results"], t["metrics"], KEYS)
    return GateData(spark, KEYS, challenger, t["metrics"], t["prepared"], t["settings"], HORIZON)


def test_the_challenger_is_scored_on_its_models_last_fold(spark, run_tables) -> None:
    value, n = mean_score(gate_series(run_tables["results"], run_tables["metrics"], KEYS))
    m, r = run_tables["metrics_pdf"], run_tables["results_pdf"]
    used = r[["store_id", "item_id", "model"]].merge(m, on=[*KEYS, "model"])
    assert n == 3 and value == pytest.approx(used["last_fold_smape"].mean())


def test_the_gate_mean_does_not_depend_on_row_order(spark) -> None:
    values = [0.1, 0.2, 0.3]
    assert sum(values) != sum(reversed(values))  # a double sum does depend on it
    means = {mean_score(spark.createDataFrame([(v,) for v in order], "score double").coalesce(1))
             for order in (values, values[::-1], values[1:] + values[:1])}
    assert len(means) == 1 and means.pop() == (pytest.approx(0.2, rel=1e-15), 3)


def test_a_champion_with_this_runs_settings_reuses_the_backtest_and_equals_a_refit(spark, run_tables) -> None:
    gate = _gate(spark, run_tables)
    models = {("1", str(i)): "seasonal_naive" for i in (1, 2, 3)}
    reused = gate.score_version(KEYS, models, fit_settings(run_tables["settings"]))
    # other fit settings force a refit of every series; the same settings give the same numbers
    other = {**fit_settings(run_tables["settings"]), "seed": 99}  # seasonal-naive ignores the seed
    refitted = gate.score_version(KEYS, models, other)
    assert reused == pytest.approx(refitted, rel=1e-9)
    point = dataclasses.replace(run_tables["settings"], uncertainty_samples=0)
    direct = np.mean([refit_last_fold(pdf.assign(model="seasonal_naive"), KEYS, point, HORIZON)["score"].iloc[0]
                      for _, pdf in run_tables["prepared_pdf"].groupby(KEYS)])
    assert reused == pytest.approx(direct, rel=1e-9)


def test_a_champion_using_a_kind_the_backtest_did_not_try_is_refitted(spark, run_tables) -> None:
    gate = _gate(spark, run_tables)
    models = {("1", "1"): "croston_optimized", ("1", "2"): "seasonal_naive", ("1", "3"): "seasonal_naive"}
    score = gate.score_version(KEYS, models, fit_settings(run_tables["settings"]))
    point = dataclasses.replace(run_tables["settings"], uncertainty_samples=0)
    pdf = run_tables["prepared_pdf"]
    first = refit_last_fold(pdf[pdf["item_id"] == "1"].assign(model="croston_optimized"), KEYS, point, HORIZON)
    m = run_tables["metrics_pdf"]
    naive = m[(m["model"] == "seasonal_naive") & (m["item_id"] != "1")]["last_fold_smape"]
    assert score == pytest.approx((first["score"].iloc[0] + naive.sum()) / 3, rel=1e-9)


@pytest.mark.parametrize(("keys", "models", "recorded", "message"), [
    (["store", "item"], {("1", "1"): "seasonal_naive"}, {}, "keyed by"),
    (KEYS, {("1", "1"): "seasonal_naive", ("1", "2"): "seasonal_naive"}, {}, "no model for 1 of this run's series"),
    (KEYS, {("1", str(i)): "neural_net" for i in (1, 2, 3)}, {}, "model kinds this code does not know"),
])
def test_an_incompatible_champion_is_refused_with_the_reason(spark, run_tables, keys, models, recorded,
                                                           message) -> None:
    with pytest.raises(IncompatibleModelError, match=message):
        _gate(spark, run_tables).score_version(keys, models, recorded)


BLOCKER = textwrap.dedent("""
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in ("usecases", "shared"):
                raise ImportError(f"{name} must not be needed to serve the model")
    sys.meta_path.insert(0, Block())
    import mlflow, pandas as pd
    model = mlflow.pyfunc.load_model(sys.argv[1])
    out = model.predict(pd.DataFrame({"store_id": ["1"], "item_id": ["2"], "horizon": [5]}))
    print(len(out), out["model"].iloc[0])
""")


def test_registration_gate_lineage_and_serving_without_this_repository(spark, run_tables, mlflow_store: str,
                                                                       tmp_path: Path) -> None:
    cfg, t = run_tables["cfg"], run_tables
    gate = _gate(spark, t)
    name = model_name(cfg.catalog, cfg.schema, cfg.registered_model)
    tags = {"input.sales": "main.ml_use_cases.sales@3", "git_commit": "abc"}
    mlflow.set_experiment(experiment_id=ensure_experiment("/gate-test"))
    with mlflow.start_run():
        first = log_and_register_forecaster(t["results"], cfg, END, gate, tags)
    with mlflow.start_run():
        second = log_and_register_forecaster(t["results"], cfg, END, gate, tags)
    assert first.promoted and first.reason == "no champion yet"
    # the same models scored on the same window: equal figures, so the champion stays
    assert second.previous_champion_value == second.value and not second.promoted  # exactly equal, not just close
    version = MlflowClient().get_model_version(name, second.version)
    assert version.tags["input.sales"] == "main.ml_use_cases.sales@3" and version.tags["git_commit"] == "abc"
    start = END - dt.timedelta(days=HORIZON - 1)
    assert version.tags["gate_window"] == f"{start}..{END}" and version.tags["gate_series"] == "3"
    assert np.isfinite(float(version.tags["metric.gate_smape"]))

    keys, models, recorded = load_recipe(f"models:/{name}/{second.version}")
    assert keys == KEYS and recorded == json.loads(json.dumps(fit_settings(t["settings"])))
    assert models == {tuple(r[:2]): r[2] for r in t["results_pdf"][[*KEYS, "model"]].itertuples(index=False)}

    script = tmp_path / "serve.py"
    script.write_text(BLOCKER)
    done = subprocess.run([sys.executable, str(script), f"models:/{name}/{second.version}"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=600,
                          env={"MLFLOW_TRACKING_URI": mlflow_store, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == "5"


def test_a_version_registered_before_the_gate_is_incompatible(mlflow_store: str, tmp_path: Path) -> None:
    from usecases.forecasting import forecaster_model

    series, meta = tmp_path / "series.jsonl", tmp_path / "meta.json"
    series.write_text(json.dumps({"key": ["1", "1"], "model": "seasonal_naive", "state": json.dumps(
        {"last_date": "2024-06-30", "season_values": [1.0] * 7, "residual_sd": 0.0, "interval_width": 0.9})}) + "\n")
    meta.write_text(json.dumps({"key_columns": KEYS, "seed": 1, "intervals": False}))
    with mlflow.start_run(experiment_id=ensure_experiment("/gate-test-old")):
        info = mlflow.pyfunc.log_model(name="model", python_model=forecaster_model.__file__,
                                       artifacts={"series_models": str(series), "meta": str(meta)},
                                       pip_requirements=["mlflow"])
    with pytest.raises(IncompatibleModelError, match="records no fit settings"):
        load_recipe(info.model_uri)
