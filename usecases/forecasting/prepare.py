"""Training cut-off, calendar completion per series, and quarantine of unmodelable series.

Fill policy (``fill_policy``), applied to every day from a series' first observed day to the training date:

- ``zero`` (default): a day absent from ``sales`` sold nothing (point-of-sale extracts omit zero days), so it
  gets ``units_sold = 0``; a row present with a null ``units_sold`` stays null (unknown, not zero);
- ``missing``: absent days stay null; Prophet skips them and the seasonal-naive baseline reuses the last
  observed value of the same season position.

A series with no observed value, or fewer observed days than ``min_history_days``, is quarantined with a
reason; its rows go to ``sales_quarantine`` beside the rows the contract rejected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shared.contracts import quarantine_rows
from shared.task import InputError
from usecases.forecasting.columns import key_columns
from usecases.forecasting.contracts import DATE, TARGET

FILLED = "is_filled"


def resolve_training_date(configured: str, sales: DataFrame) -> dt.date:
    """The configured training date, else the latest date in ``sales`` (the forecast origin)."""
    if configured:
        return dt.date.fromisoformat(configured)
    latest = sales.agg(F.max(DATE)).first()[0]
    if latest is None:
        raise InputError("sales has no valid rows: nothing to forecast (reasons in sales_quarantine)")
    return latest


@dataclass(frozen=True)
class PreparedSales:
    """Completed calendars of modelable series, rows of rejected series, and row counts."""

    prepared: DataFrame
    quarantined: DataFrame
    series_quarantined: int


def series_reasons(sales: DataFrame, keys: Sequence[str], min_history_days: int) -> DataFrame:
    """One row per series (keys, observed, reason): reason null when the series can be modelled."""
    stats = sales.groupBy(*key_columns(keys)).agg(F.count(TARGET).alias("observed"))
    reason = (
        F.when(F.col("observed") == 0, F.lit("no observed units_sold values"))
        .when(F.col("observed") < min_history_days,
              F.concat(F.lit("too short: "), F.col("observed").cast("string"),
                       F.lit(f" observed days < min_history_days={min_history_days}")))
    )
    return stats.withColumn("reason", reason)


def complete_calendars(sales: DataFrame, keys: Sequence[str], training_date: dt.date, fill_policy: str) -> DataFrame:
    """Every day from each series' first date to ``training_date`` (keys, date, units_sold, is_filled)."""
    spans = sales.groupBy(*key_columns(keys)).agg(F.min(DATE).alias("first_date"))
    days = F.sequence(F.col("first_date"), F.lit(training_date), F.expr("INTERVAL 1 DAY"))
    calendar = spans.select(*key_columns(keys), F.explode(days).alias(DATE))
    observed = sales.select(*key_columns(keys), DATE, TARGET, F.lit(False).alias(FILLED))
    joined = calendar.join(observed, on=[*keys, DATE], how="left")
    fill_value = F.lit(0.0) if fill_policy == "zero" else F.lit(None).cast("double")
    return joined.select(
        *key_columns(keys), DATE,
        F.when(F.col(FILLED).isNull(), fill_value).otherwise(F.col(TARGET)).alias(TARGET),
        F.coalesce(F.col(FILLED), F.lit(True)).alias(FILLED),
    )


def prepare_sales(sales: DataFrame, keys: Sequence[str], training_date: dt.date, fill_policy: str,
                  min_history_days: int) -> PreparedSales:
    """Cut at ``training_date``, quarantine unmodelable series, complete the calendars of the rest."""
    history = sales.filter(F.col(DATE) <= F.lit(training_date))
    reasons = series_reasons(history, keys, min_history_days)
    bad = reasons.filter(F.col("reason").isNotNull()).select(*key_columns(keys), "reason")
    good = reasons.filter(F.col("reason").isNull()).select(*key_columns(keys))
    rejected = history.join(F.broadcast(bad), on=list(keys))
    quarantined = quarantine_rows(rejected.withColumnRenamed("reason", "_series_reason"),
                                  F.col("_series_reason")).drop("_series_reason")
    prepared = complete_calendars(history.join(F.broadcast(good), on=list(keys)), keys, training_date, fill_policy)
    return PreparedSales(prepared, quarantined, bad.count())

