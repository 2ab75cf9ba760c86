"""The whole out_of_stock job through the local runner: generated data, and a user's own files with bad rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from shared.bundle import load_bundle
from shared.runner import run_job
from shared.tables import LocalTableStore
from usecases.out_of_stock.alerts import EPISODE_COLUMNS, EPISODE_GAP_DAYS
from usecases.out_of_stock.generate import DAILY_COLUMNS, simulate_series

REPO_ROOT = Path(__file__).resolve().parents[3]
SMALL = {"n_stores": "2", "n_items": "60", "n_days": "150", "plot_top_items": "2"}


def store(spark, warehouse: Path) -> LocalTableStore:
    return LocalTableStore(spark, "main", "ml_use_cases", warehouse)


@pytest.mark.slow
def test_generated_data_meets_precision_recall_targets(spark, warehouse: Path, mlflow_store: str) -> None:
    run_job(load_bundle(REPO_ROOT), "out_of_stock", overrides=SMALL, warehouse=str(warehouse))
    tables = store(spark, warehouse)
    quality = {r["alert_type"]: r for r in tables.read("oos_evaluation").collect()}
    for alert_type in ("phantom_inventory", "safety_stock"):
        assert quality[alert_type]["truth_episodes"] >= 10
        assert quality[alert_type]["precision"] >= 0.9, quality[alert_type]
        assert quality[alert_type]["recall"] >= 0.9, quality[alert_type]
    runs = mlflow.search_runs(search_all_experiments=True, filter_string="tags.task = 'evaluate'")
    assert len(runs) == 1
    assert runs["metrics.slow_mover_zero_day_flag_rate"].iloc[0] <= 0.05
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(runs["run_id"].iloc[0], "plots")}
    assert artifacts == {"plots/actual_vs_expected_top_items.png", "plots/osa_heatmap.png"}
    for alert_type in ("phantom_inventory", "safety_stock"):  # per alert-day too (the maintainers' metric)
        assert quality[alert_type]["day_precision"] >= 0.8, quality[alert_type]
    alerts = tables.read("oos_alerts")
    assert alerts.columns == list(EPISODE_COLUMNS)
    alert_days = tables.read("oos_alert_days")
    # One row per episode; expanding them covers exactly the daily alert rows of the same type.
    assert alerts.agg(F.sum("days")).first()[0] == alert_days.count()
    assert alerts.filter(F.col("start_date") > F.col("end_date")).count() == 0
    daily = tables.read("osa_daily")
    assert daily.count() == 2 * 60 * 150
    assert {"store_closed", "safety_stock_alert", "alert_type"} <= set(daily.columns)


def user_files(tmp_path: Path, cut: int) -> tuple[Path, Path, Path]:
    """Past-only and past+future CSVs of 12 series with bad rows, and a lead-times CSV missing two series."""
    frames = [simulate_series(5, 0, item, 150, date(2024, 1, 1)) for item in range(12)]
    daily = pd.concat(frames, ignore_index=True)[list(DAILY_COLUMNS)]
    bad = daily.iloc[[40, 41]].copy()                            # a duplicate store-item-date (both copies go)
    negative = daily.iloc[[200]].copy().assign(on_hand_units=-3)  # negative stock replaces the real row
    daily = pd.concat([daily.drop(daily.index[[200]]), bad.iloc[[0]], negative])
    past, full = tmp_path / "past.csv", tmp_path / "full.csv"
    daily[daily["date"] < date(2024, 1, 1) + pd.Timedelta(days=cut)].to_csv(past, index=False)
    daily.to_csv(full, index=False)
    leads = pd.concat(frames)[["store_id", "item_id", "lead_time_days"]].drop_duplicates().iloc[2:]
    leads.iloc[0, 2] = -1                                        # invalid: quarantined, series without lead time
    orphan = pd.DataFrame({"store_id": ["S-none"], "item_id": ["I-none"], "lead_time_days": [3]})
    leads = pd.concat([leads, orphan])                          # a store-item the daily table does not have
    lead_path = tmp_path / "lead_times.csv"
    leads.to_csv(lead_path, index=False)
    return past, full, lead_path


@pytest.mark.slow
def test_users_own_files_bad_rows_and_no_future_leakage(spark, tmp_path: Path, mlflow_store: str) -> None:
    cut = 110
    past, full, leads = user_files(tmp_path, cut)
    outputs = {}
    for name, path in (("past", past), ("full", full)):
        warehouse = tmp_path / f"wh_{name}"
        params = {"store_item_daily_table": str(path), "lead_times_table": str(leads),
                  "ground_truth_table": "no_ground_truth_here", "generate_data": "false", "plot_top_items": "1"}
        results = run_job(load_bundle(REPO_ROOT), "out_of_stock", overrides=params, warehouse=str(warehouse))
        outputs[name] = store(spark, warehouse)
        detect = next(r.report for r in results if r.task == "detect")
        assert detect.metrics["lead_time_rows_unmatched"] == 1 and detect.metrics["series_without_lead_time"] == 3
    tables = outputs["full"]
    reasons = [r["quarantine_reason"] for r in tables.read("store_item_daily_quarantine").collect()]
    assert sum("duplicate key" in r for r in reasons) == 2
    assert sum("negative stock" in r for r in reasons) == 1
    assert [r["quarantine_reason"] for r in tables.read("lead_times_quarantine").collect()] == [
        "lead_time_days must be between 1 and 365"]
    assert tables.read("oos_lead_time_gaps").count() == 3
    assert tables.read("oos_prepared").filter("is_filled").count() == 2    # the rejected days are refilled
    last_past = date(2024, 1, 1) + pd.Timedelta(days=cut - 1)
    past_days = outputs["past"].read("oos_alert_days")
    full_days = tables.read("oos_alert_days").filter(F.col("date") <= F.lit(last_past))
    assert past_days.count() > 0
    assert_df_equality(full_days, past_days, ignore_row_order=True)
    # Episodes that ended before the cut (more than the episode gap before it) are final in both runs.
    settled = F.col("end_date") < F.lit(last_past - pd.Timedelta(days=EPISODE_GAP_DAYS))
    past_eps = outputs["past"].read("oos_alerts").filter(settled).drop("is_open")
    full_eps = tables.read("oos_alerts").filter(settled).drop("is_open")
    assert past_eps.count() > 0
    assert_df_equality(full_eps, past_eps, ignore_row_order=True)
