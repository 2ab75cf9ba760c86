"""Published outputs from the daily signals: one row per alert (``oos_alerts``) and daily OSA (``osa_daily``)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

ALERT_COLUMNS = ("date", "store_id", "item_id", "alert_type", "score", "expected_units", "actual_units",
                 "est_lost_units", "reason")


def build_alerts(signals: DataFrame) -> DataFrame:
    """Signals -> ``oos_alerts`` rows (ALERT_COLUMNS): availability and safety-stock alerts, one per type and day."""
    common = [F.col("date"), F.col("store_id"), F.col("item_id")]
    tail = [F.round("expected_units", 3).alias("expected_units"), F.col("units_sold").alias("actual_units")]
    avail = signals.filter(F.col("avail_alert").isNotNull()).select(
        *common, F.col("avail_alert").alias("alert_type"), F.round("avail_score", 6).alias("score"), *tail,
        F.round("est_lost_units", 3).alias("est_lost_units"), F.col("avail_reason").alias("reason"),
    )
    safety = signals.filter(F.col("ss_alert")).select(
        *common, F.lit("safety_stock").alias("alert_type"), F.round("ss_score", 6).alias("score"), *tail,
        F.lit(0.0).alias("est_lost_units"), F.col("ss_reason").alias("reason"),
    )
    return avail.unionByName(safety)


def build_osa_daily(signals: DataFrame) -> DataFrame:
    """``osa_daily``: date, store_id, item_id, expected_units, actual_units, osa_pct, est_lost_units,
    reported/estimated on-hand and the day's availability alert (null when none)."""
    return signals.select(
        "date", "store_id", "item_id",
        F.round("expected_units", 3).alias("expected_units"), F.col("units_sold").alias("actual_units"),
        F.round("osa_pct", 4).alias("osa_pct"), F.round("est_lost_units", 3).alias("est_lost_units"),
        F.col("on_hand_units"), F.col("est_true_on_hand"), F.col("avail_alert").alias("alert_type"),
    )
