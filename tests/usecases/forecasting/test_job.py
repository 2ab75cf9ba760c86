"""The forecasting job end to end through the local runner: generated data, re-runs, MLflow model, a user's file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from pyspark.sql import functions as F

from shared.bundle import load_bundle
from shared.registry import model_name
from shared.runner import run_job
from shared.tables import LocalTableStore
from usecases.forecasting.generate import simulate_series
from usecases.forecasting.selection import SMOOTH_MODELS

REPO_ROOT = Path(__file__).resolve().parents[3]
KEYS = ["store_id", "item_id"]
SMALL = {"n_stores": "2", "n_items": "5", "n_days": "800", "horizon": "28", "backtest_folds": "2",
         "backtest_horizon": "28", "uncertainty_samples": "50", "intermittent_share": "0.1", "short_share": "0.1",
         "plot_series": "2"}


def quiet(_: str) -> None:
    """Runner echo sink."""


@pytest.mark.slow
def test_generated_run_beats_the_baseline_reruns_cleanly_and_the_model_reproduces_forecasts(
    spark, warehouse: Path, mlflow_store: str, tmp_path: Path
) -> None:
    bundle, scratch = load_bundle(REPO_ROOT), tmp_path / "scratch"
    overrides = {**SMALL, "scratch_dir": str(scratch)}
    run_job(bundle, "forecasting", overrides=overrides, warehouse=str(warehouse), echo=quiet)
    store = LocalTableStore(spark, "main", "ml_use_cases", warehouse)

    # Prophet beats seasonal-naive (lower MASE on the same scale) on >= 80% of the regular series, and so does
    # each series' chosen model; the choice and every candidate's score are recorded per series
    regular = (store.read("sales_series_truth").filter(F.col("series_kind") == "regular")
               .select(*[F.col(k).cast("string").alias(k) for k in KEYS]))
    metrics = store.read("forecast_metrics").toPandas()
    paired = (store.read("forecast_metrics").join(regular, KEYS).groupBy(*KEYS)
              .pivot("model", ["prophet", "seasonal_naive"]).agg(F.first("mase")).toPandas())
    assert len(paired) >= 5
    assert (paired["prophet"] < paired["seasonal_naive"]).mean() >= 0.8
    chosen = metrics[metrics["model"] == metrics["chosen_model"]].merge(regular.toPandas(), on=KEYS)
    naive = metrics[metrics["model"] == "seasonal_naive"].set_index(KEYS)["mase"]
    assert (chosen.set_index(KEYS)["mase"] < naive.reindex(chosen.set_index(KEYS).index)).mean() >= 0.8
    per_series = metrics.groupby(KEYS)
    assert (per_series["chosen_model"].nunique() == 1).all() and (per_series["selection_reason"].nunique() == 1).all()
    assert set(chosen["chosen_model"]) <= set(SMOOTH_MODELS)  # regular series are smooth: no intermittent method
    models = store.read("forecast_models").toPandas()
    assert (models["model"] == models["chosen_model"]).all() and models["error"].isna().all()

    first = store.read("forecasts").toPandas()
    series = store.read("sales_prepared").select(*KEYS).distinct().count()
    assert len(first) == series * 28 and not first.duplicated([*KEYS, "ds"]).any()
    assert first["yhat_lower"].notna().all() and list(scratch.iterdir()) == []

    # re-running the same training date leaves one copy of each forecast row
    for task in ("train_forecast", "publish"):
        run_job(bundle, "forecasting", overrides=overrides, only_task=task, warehouse=str(warehouse), echo=quiet)
    forecasts = store.read("forecasts").toPandas()
    assert len(forecasts) == len(first) and not forecasts.duplicated([*KEYS, "ds", "training_date"]).any()
    assert forecasts["run_id"].nunique() == 1 and store.read("forecast_models").count() == series

    # the registered pyfunc, loaded back from MLflow, reproduces the job's forecasts
    name = model_name("main", "ml_use_cases", "demand_forecaster")
    latest = max(int(v.version) for v in MlflowClient().search_model_versions(f"name='{name}'"))
    assert latest == 2 and str(MlflowClient().get_model_version_by_alias(name, "champion").version) == "1"
    model = mlflow.pyfunc.load_model(f"models:/{name}/{latest}")
    requests = forecasts[KEYS].drop_duplicates().assign(horizon=28)
    served = model.predict(requests).assign(ds=lambda d: pd.to_datetime(d["ds"]))
    joined = forecasts.assign(ds=pd.to_datetime(forecasts["ds"])).merge(served, on=[*KEYS, "ds"],
                                                                       suffixes=("", "_served"))
    assert len(joined) == len(forecasts)
    for column in ("yhat", "yhat_lower", "yhat_upper"):
        np.testing.assert_allclose(joined[column], joined[f"{column}_served"], rtol=1e-9)
    assert (joined["model"] == joined["model_served"]).all()


def user_sales(path: Path) -> Path:
    """A user's CSV keyed by (region, sku): four regular series, plus constant, all-NaN and two-point series."""
    end = dt.date(2024, 3, 31)
    frames = []
    for i in range(4):
        spec = pd.Series({"store": 1, "item": i, "level": 20.0 + 10 * i, "growth": 0.1, "yearly_amplitude": 0.1,
                          "yearly_phase": 0.0, "holiday_uplift": 0.0, "start_offset": 400})
        frames.append(simulate_series(spec, 11, end, []).assign(region="east", sku=f"sku-{i}"))
    days = pd.date_range(end=end, periods=200).date
    frames += [pd.DataFrame({"date": days, "units_sold": 5.0, "region": "west", "sku": "constant"}),
               pd.DataFrame({"date": days, "units_sold": np.nan, "region": "west", "sku": "all-nan"}),
               pd.DataFrame({"date": days[-2:], "units_sold": [1.0, 3.0], "region": "west", "sku": "two-points"}),
               pd.DataFrame({"date": [end], "units_sold": [-4.0], "region": "west", "sku": "negative"})]
    sales = pd.concat(frames)[["region", "sku", "date", "units_sold"]]
    sales.to_csv(path / "my_sales.csv", index=False)
    return path / "my_sales.csv"


@pytest.mark.slow
def test_users_file_with_other_keys_and_broken_series(spark, warehouse: Path, mlflow_store: str,
                                                      tmp_path: Path) -> None:
    csv = user_sales(tmp_path)
    overrides = {"sales_table": str(csv), "key_columns": "region,sku", "horizon": "14", "backtest_folds": "1",
                 "backtest_horizon": "14", "min_history_days": "60", "uncertainty_samples": "0",
                 "holidays_country": "", "plot_series": "1", "scratch_dir": str(tmp_path / "scratch")}
    results = run_job(load_bundle(REPO_ROOT), "forecasting", overrides=overrides, warehouse=str(warehouse),
                      echo=quiet)
    assert results[0].report.rows_out == 0  # a user's file is never overwritten by generation
    store = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    assert not store.exists("sales")

    reasons = {r["sku"]: r["quarantine_reason"]
               for r in store.read("sales_quarantine").select("sku", "quarantine_reason").collect()}
    assert reasons == {"negative": "units_sold must be >= 0", "all-nan": "no observed units_sold values",
                       "two-points": "too short: 2 observed days < min_history_days=60"}
    assert store.read("forecast_errors").count() == 0  # the constant series is chosen seasonal-naive, not failed
    metrics = store.read("forecast_metrics").toPandas()
    choice = metrics.groupby(["region", "sku"])[["chosen_model", "selection_reason"]].first()
    assert choice.loc[("west", "constant"), "chosen_model"] == "seasonal_naive"
    assert choice.loc[("west", "constant"), "selection_reason"].startswith("constant history")

    forecasts = store.read("forecasts").toPandas()
    per_series = forecasts.groupby(["region", "sku"]).size().to_dict()
    assert per_series == {("east", f"sku-{i}"): 14 for i in range(4)} | {("west", "constant"): 14}
    assert set(forecasts.loc[forecasts["sku"] == "constant", "yhat"]) == {5.0}
    assert forecasts["yhat_lower"].isna().all()  # no intervals asked for: none sampled
    used = forecasts.groupby(["region", "sku"])["model"].first()
    assert (used == choice["chosen_model"].reindex(used.index)).all()  # each series forecast by its choice

    # The same file re-run with the key columns spelled in another case: Spark matches them, and the tables the
    # first run wrote (keyed "region", "sku") are read back under this run's names, not lost to a KeyError.
    again = run_job(load_bundle(REPO_ROOT), "forecasting", warehouse=str(warehouse), echo=quiet,
                    overrides={**overrides, "key_columns": "Region,SKU"})
    assert {r.task: r.report.rows_out for r in again}["publish"] == 5 * 14
    assert store.read("forecasts").count() == len(forecasts)  # the training date's rows replaced, not added


@pytest.mark.slow
def test_a_single_ds_y_series_runs_with_its_own_column_names(spark, warehouse: Path, mlflow_store: str,
                                                              tmp_path: Path) -> None:
    """Prophet's ``ds,y`` shape, no key column, a few missing days: mapped by parameters, not by editing the file."""
    spec = pd.Series({"store": 1, "item": 1, "level": 40.0, "growth": 0.1, "yearly_amplitude": 0.2,
                      "yearly_phase": 0.0, "holiday_uplift": 0.0, "start_offset": 600})
    history = simulate_series(spec, 5, dt.date(2024, 3, 31), []).tail(500)
    history = history[~history["date"].between(dt.date(2023, 12, 1), dt.date(2023, 12, 10))]  # a closure
    csv = tmp_path / "one_series.csv"
    history.rename(columns={"date": "ds", "units_sold": "y"})[["ds", "y"]].to_csv(csv, index=False)
    overrides = {"sales_table": str(csv), "key_columns": "", "date_column": "ds", "target_column": "y",
                 "horizon": "14", "backtest_folds": "1", "backtest_horizon": "14", "uncertainty_samples": "0",
                 "holidays_country": "", "plot_series": "1", "scratch_dir": str(tmp_path / "scratch")}
    results = run_job(load_bundle(REPO_ROOT), "forecasting", overrides=overrides, warehouse=str(warehouse),
                      echo=quiet)
    rows = {r.task: r.report for r in results}
    assert rows["prepare"].rows_in == len(history)
    store = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    assert store.read("sales_quarantine").count() == 0
    forecasts = store.read("forecasts").toPandas()
    assert len(forecasts) == 14 and set(forecasts["series"]) == {"all"}
    assert forecasts["yhat"].notna().all()
    chosen = store.read("forecast_metrics").select("chosen_model").distinct().collect()
    assert len(chosen) == 1 and forecasts["model"].iloc[0] == chosen[0]["chosen_model"]

    name = model_name("main", "ml_use_cases", "demand_forecaster")
    latest = max(int(v.version) for v in MlflowClient().search_model_versions(f"name='{name}'"))
    served = mlflow.pyfunc.load_model(f"models:/{name}/{latest}").predict(pd.DataFrame({"series": ["all"],
                                                                                          "horizon": [14]}))
    np.testing.assert_allclose(served["yhat"], forecasts.sort_values("ds")["yhat"], rtol=1e-9)


@pytest.mark.slow
def test_transaction_level_sales_are_summed_per_day(spark, warehouse: Path, mlflow_store: str,
                                                    tmp_path: Path) -> None:
    """An order-line export: timestamps, several lines a day, a return (negative quantity) among them."""
    rng = np.random.default_rng(3)
    days = pd.date_range("2023-06-01", periods=120, freq="D")
    lines = pd.DataFrame({"StockCode": rng.choice(["85123A", "22423"], size=900),
                          "InvoiceDate": rng.choice(days, size=900) + pd.to_timedelta(rng.integers(8, 18, 900), "h"),
                          "Quantity": rng.integers(1, 12, size=900)})
    lines.loc[0, "Quantity"] = -5  # a return: quarantined by the units_sold >= 0 rule, not summed
    csv = tmp_path / "order_lines.csv"
    lines.to_csv(csv, index=False, date_format="%Y-%m-%d %H:%M:%S")
    overrides = {"sales_table": str(csv), "key_columns": "StockCode", "date_column": "InvoiceDate",
                 "target_column": "Quantity", "same_day_rows": "sum", "min_history_days": "60",
                 "fill_policy": "zero", "holidays_country": ""}
    results = run_job(load_bundle(REPO_ROOT), "forecasting", overrides=overrides, only_task="prepare",
                      warehouse=str(warehouse), echo=quiet)
    report = {r.task: r.report for r in results}["prepare"]
    store = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    kept = lines.iloc[1:].assign(date=lambda d: d["InvoiceDate"].dt.date)
    expected = kept.groupby(["StockCode", "date"])["Quantity"].sum().astype(float)
    prepared = store.read("sales_prepared").filter(~F.col("is_filled")).toPandas()
    got = prepared.set_index(["StockCode", "date"])["units_sold"].sort_index()
    pd.testing.assert_series_equal(got, expected.sort_index(), check_names=False)
    assert store.read("sales_quarantine").count() == 1 == report.rows_quarantined
    # rows in = the days' rows + the rows summed into them + quarantined
    assert report.rows_in == len(lines) == len(expected) + report.metrics["rows_summed_into_days"] + 1
