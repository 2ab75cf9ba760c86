"""Training cut-off, calendar completion per series, and quarantine of unmodelable series.

Fill policy (``fill_policy``), applied to every day from a series' first observed day to the training date:

- ``zero`` (default): a day absent from ``sales`` sold nothing (point-of-sale extracts omit zero days), so it
  gets ``units_sold = 0``; a row present with a null ``units_sold`` stays null (unknown, not zero);
- ``missing``: absent days stay null; Prophet skips them and the seasonal-naive baseline reuses the last
  observed value of the same season position.

Under both, a day whose only rows the contract quarantined (unreadable or negative units, conflicting
duplicates) stays null: it was reported, so it is not a day without sales.

A series with no observed value, or fewer observed days than ``min_history_days``, is quarantined with a
reason; its rows go to ``sales_quarantine`` beside the rows the contract rejected.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from shared.casts import cast_column
from shared.contracts import quarantine_rows
from shared.identifiers import quote_identifier
from shared.task import InputError
from usecases.forecasting.columns import key_columns, key_schema
from usecases.forecasting.contracts import DATE, TARGET

log = logging.getLogger(__name__)

FILLED = "is_filled"
UNKNOWN = "_unknown_day"  # a working column: the day's only rows were quarantined


STRAGGLER_SHARE = 0.1  # a day on which fewer series report than this share of the busiest day's is a straggler


def resolve_training_date(configured: str, sales: DataFrame, keys: Sequence[str] = ()) -> dt.date:
    """The configured training date, else the latest date on which the data is still broad: at least
    ``STRAGGLER_SHARE`` as many series report as on its busiest day.

    Why not simply the latest date: one stray row dated months past the rest (a typo, a pre-booked order) would
    move the forecast origin there, zero-fill every series up to it and forecast zeros. Rows after the date are
    left out of training and counted (``rows_after_training_date``); the log names them. With no ``keys`` every
    row counts as its own series.
    """
    if configured:
        return dt.date.fromisoformat(configured)
    series = F.count_distinct(F.struct(*key_columns(keys))) if keys else F.count(F.lit(1))
    # one row per distinct date: bounded by the calendar's span, not by the table's size
    daily = {r[0]: r[1] for r in sales.groupBy(DATE).agg(series).collect()}
    if not daily:
        raise InputError("sales has no valid rows: nothing to forecast (reasons in sales_quarantine)")
    chosen = broad_latest_date(daily)
    latest = max(daily)
    if chosen < latest:
        later = {d: n for d, n in daily.items() if d > chosen}
        log.warning("training date %s, not the latest date %s: the %d later day(s) have at most %d reporting "
                    "series against %d on the busiest day, so they are treated as stragglers and left out of "
                    "training; set training_date to include them", chosen, latest, len(later),
                    max(later.values()), max(daily.values()))
    return chosen


def broad_latest_date(series_per_day: dict[dt.date, int]) -> dt.date:
    """The latest day with at least ``STRAGGLER_SHARE`` of the busiest day's reporting series."""
    floor = STRAGGLER_SHARE * max(series_per_day.values())
    return max(day for day, n in series_per_day.items() if n >= floor)


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


def rejected_days(quarantined: DataFrame, keys: Sequence[str]) -> DataFrame:
    """(keys, date) of rows the contract quarantined whose keys and date still read: the day was reported, but
    its units are not known (a typo, a negative count, two conflicting rows). Read from the quarantine's text
    columns with the contract's own casts, so a key or date reads the same as in a valid row."""
    names = [*keys, DATE]
    if any(name not in quarantined.columns for name in names):
        return quarantined.sparkSession.createDataFrame([], f"{key_schema(keys)}, {DATE} date")
    typed = [cast_column(F.col(quote_identifier(k)), StringType(), k, "string", is_id=True).value.alias(k)
             for k in keys]
    when = cast_column(F.col(DATE), StringType(), DATE, "date").value.alias(DATE)
    read = quarantined.select(*typed, when)
    for name in names:  # not dropna(): it parses a dotted column name as a struct field
        read = read.filter(F.col(quote_identifier(name)).isNotNull())
    return read.distinct()


def complete_calendars(sales: DataFrame, keys: Sequence[str], training_date: dt.date, fill_policy: str,
                       unknown_days: DataFrame | None = None) -> DataFrame:
    """Every day from each series' first date to ``training_date`` (keys, date, units_sold, is_filled).

    A day in ``unknown_days`` (keys, date) with no valid row stays null under either policy: it was reported
    with units no one can read, which is not a day without sales."""
    spans = sales.groupBy(*key_columns(keys)).agg(F.min(DATE).alias("first_date"))
    days = F.sequence(F.col("first_date"), F.lit(training_date), F.expr("INTERVAL 1 DAY"))
    calendar = spans.select(*key_columns(keys), F.explode(days).alias(DATE))
    if unknown_days is not None:
        calendar = calendar.join(unknown_days.select(*key_columns(keys), DATE, F.lit(True).alias(UNKNOWN)),
                                 on=[*keys, DATE], how="left")
    else:
        calendar = calendar.withColumn(UNKNOWN, F.lit(None).cast("boolean"))
    observed = sales.select(*key_columns(keys), DATE, TARGET, F.lit(False).alias(FILLED))
    joined = calendar.join(observed, on=[*keys, DATE], how="left")
    fill_value = F.lit(0.0) if fill_policy == "zero" else F.lit(None).cast("double")
    return joined.select(
        *key_columns(keys), DATE,
        F.when(F.col(FILLED).isNull() & F.col(UNKNOWN).isNull(), fill_value)
        .otherwise(F.col(TARGET)).alias(TARGET),
        F.coalesce(F.col(FILLED), F.lit(True)).alias(FILLED),
    )


def daily_totals(sales: DataFrame, keys: Sequence[str]) -> DataFrame:
    """One row per series and date (keys, date, units_sold): the units of that day's rows summed, null when
    none of them has a value (an unknown day stays unknown). For transaction-level sales."""
    return sales.groupBy(*key_columns(keys), DATE).agg(F.sum(TARGET).alias(TARGET))


def prepare_sales(sales: DataFrame, keys: Sequence[str], training_date: dt.date, fill_policy: str,
                  min_history_days: int, rejected: DataFrame | None = None) -> PreparedSales:
    """Cut at ``training_date``, quarantine unmodelable series, complete the calendars of the rest.

    ``rejected``: the rows the contract quarantined (``sales_quarantine``); their days stay null, not filled."""
    history = sales.filter(F.col(DATE) <= F.lit(training_date))
    reasons = series_reasons(history, keys, min_history_days)
    bad = reasons.filter(F.col("reason").isNotNull()).select(*key_columns(keys), "reason")
    good = reasons.filter(F.col("reason").isNull()).select(*key_columns(keys))
    rejected_rows = history.join(F.broadcast(bad), on=list(keys))
    quarantined = quarantine_rows(rejected_rows.withColumnRenamed("reason", "_series_reason"),
                                  F.col("_series_reason")).drop("_series_reason")
    unknown = None if rejected is None else rejected_days(rejected, keys).filter(F.col(DATE) <= F.lit(training_date))
    prepared = complete_calendars(history.join(F.broadcast(good), on=list(keys)), keys, training_date, fill_policy,
                                  unknown)
    return PreparedSales(prepared, quarantined, bad.count())
