"""Published outputs from the daily signals.

- ``oos_alert_days``: one row per alert type and store-item-day (the daily flag a dashboard plots);
- ``oos_alerts``: one row per alert EPISODE (what a person acts on): a maximal run of alert days of one type
  for one store-item in which consecutive alert days are at most ``EPISODE_GAP_DAYS`` OPEN days apart
  (days the store was closed do not count in the gap, so a holiday does not split an episode);
- ``osa_daily``: one row per store-item-day with expected vs actual sales, OSA %, closure and alert flags.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

EPISODE_GAP_DAYS = 2
KEY = ["store_id", "item_id"]
ALERT_DAY_COLUMNS = ("date", "store_id", "item_id", "alert_type", "score", "expected_units", "actual_units",
                     "est_lost_units", "reason", "open_day")
EPISODE_COLUMNS = ("store_id", "item_id", "alert_type", "start_date", "end_date", "days", "is_open", "score",
                   "expected_units", "actual_units", "est_lost_units", "reason", "first_reason")


def build_alert_days(signals: DataFrame) -> DataFrame:
    """Signals -> ALERT_DAY_COLUMNS: availability and safety-stock alerts, one row per type and day.

    ``open_day`` numbers the series' open days (a closed day shares its number with the open day before),
    so episode gaps are measured in open days. ``est_lost_units`` of a safety-stock day is the expected
    shortfall over the lead time (units an order placed that day would arrive too late for).
    """
    upto = Window.partitionBy(*KEY).orderBy("date").rowsBetween(Window.unboundedPreceding, 0)
    numbered = signals.withColumn("open_day", F.sum((~F.col("store_closed")).cast("int")).over(upto))
    common = [F.col("date"), F.col("store_id"), F.col("item_id")]
    tail = [F.round("expected_units", 3).alias("expected_units"), F.col("units_sold").alias("actual_units")]
    avail = numbered.filter(F.col("avail_alert").isNotNull()).select(
        *common, F.col("avail_alert").alias("alert_type"), F.round("avail_score", 6).alias("score"), *tail,
        F.round("est_lost_units", 3).alias("est_lost_units"), F.col("avail_reason").alias("reason"), "open_day",
    )
    safety = numbered.filter(F.col("ss_alert")).select(
        *common, F.lit("safety_stock").alias("alert_type"), F.round("ss_score", 6).alias("score"), *tail,
        F.round("expected_shortfall", 3).alias("est_lost_units"), F.col("ss_reason").alias("reason"), "open_day",
    )
    return avail.unionByName(safety)


def alert_episodes(alert_days: DataFrame, last_dates: DataFrame | None = None) -> DataFrame:
    """Alert days (at least date, store_id, item_id, alert_type) -> episodes (EPISODE_COLUMNS where the
    inputs have them; always store_id, item_id, alert_type, start_date, end_date, days).

    Gaps are counted in ``open_day`` when present, else in calendar days. ``score`` is the episode's highest,
    ``reason`` that day's reason, ``first_reason`` the reason that opened it; ``expected_units``,
    ``actual_units`` and ``est_lost_units`` are summed (safety stock: the largest expected shortfall).
    ``is_open`` (with ``last_dates``: store_id, item_id, last_date) says the episode runs on the last day.
    """
    order = Window.partitionBy(*KEY, "alert_type").orderBy("date")
    step = (F.col("open_day") - F.lag("open_day").over(order) if "open_day" in alert_days.columns
            else F.datediff("date", F.lag("date").over(order)))
    starts = alert_days.withColumn("new", F.when(step <= EPISODE_GAP_DAYS, 0).otherwise(1))
    numbered = starts.withColumn("episode", F.sum("new").over(order.rowsBetween(Window.unboundedPreceding, 0)))
    aggs = [F.min("date").alias("start_date"), F.max("date").alias("end_date"), F.count("*").alias("days")]
    columns = set(alert_days.columns)
    if "score" in columns:
        aggs.append(F.max("score").alias("score"))
    for name in ("expected_units", "actual_units"):
        if name in columns:
            aggs.append(F.round(F.sum(name), 3).alias(name))
    if "est_lost_units" in columns:
        lost = F.when(F.col("alert_type") == "safety_stock", F.max("est_lost_units")).otherwise(F.sum("est_lost_units"))
        aggs.append(F.round(lost, 3).alias("est_lost_units"))
    if "reason" in columns:
        aggs.append(F.max_by("reason", F.struct(F.coalesce("score", F.lit(-1.0)), "date")).alias("reason")
                    if "score" in columns else F.max_by("reason", "date").alias("reason"))
        aggs.append(F.min_by("reason", "date").alias("first_reason"))
    episodes = numbered.groupBy(*KEY, "alert_type", "episode").agg(*aggs).drop("episode")
    if last_dates is None:
        return episodes
    with_open = episodes.join(last_dates, KEY, "left").withColumn(
        "is_open", F.coalesce(F.col("end_date") >= F.col("last_date"), F.lit(False))).drop("last_date")
    return with_open.select(*[c for c in EPISODE_COLUMNS if c in with_open.columns])


def build_alerts(signals: DataFrame, alert_days: DataFrame) -> DataFrame:
    """``oos_alerts``: one row per alert episode (EPISODE_COLUMNS), from ``build_alert_days(signals)`` (passed
    in, typically as written, so the window over every signal row runs once) and the signals' last dates."""
    last_dates = signals.groupBy(*KEY).agg(F.max("date").alias("last_date"))
    return alert_episodes(alert_days, last_dates)


def build_osa_daily(signals: DataFrame) -> DataFrame:
    """``osa_daily``: date, store_id, item_id, expected_units, actual_units, osa_pct, est_lost_units,
    reported/estimated on-hand, ``store_closed``, the day's availability alert (null when none) and
    ``safety_stock_alert``."""
    return signals.select(
        "date", "store_id", "item_id",
        F.round("expected_units", 3).alias("expected_units"), F.col("units_sold").alias("actual_units"),
        F.round("osa_pct", 4).alias("osa_pct"), F.round("est_lost_units", 3).alias("est_lost_units"),
        F.col("on_hand_units"), F.col("est_true_on_hand"), F.col("store_closed"),
        F.col("avail_alert").alias("alert_type"), F.col("ss_alert").alias("safety_stock_alert"),
    )
