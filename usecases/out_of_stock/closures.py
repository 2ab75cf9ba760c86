"""Store-level closures: days on which almost nothing in a store sells (holidays, outages, stock-takes).

On such a day every item of the store shows zero sales, so per item it looks like evidence of a stock
problem (a zero run grows more improbable; a demand model sees a zero). One store-day aggregate, joined
back, marks these days so that per-item models treat them as neutral: no demand observation, no step in a
zero run, no alert, and ``store_closed`` in the outputs.

Rule (data of that day and the days before only, so appending later days never changes it): a store-day is
closed when the items selling that day are at most ``closure_max_share`` x the store's typical count, the
mean number of items selling per OPEN day (a day with any sale) over the previous ``closure_window_days``
and that typical count is at least ``closure_min_items`` (a store selling two items a day has no power to
tell a closure from a quiet day); when the window's count falls below that (a closure longer than the
window, with a stray sale or two), the last count that had the power carries on.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from usecases.out_of_stock.config import OutOfStockConfig

STORE_DAY_COLUMNS = ("store_id", "date", "items_reported", "items_selling", "typical_items_selling", "store_closed")


def store_days(daily: DataFrame, cfg: OutOfStockConfig) -> DataFrame:
    """Per store and date (STORE_DAY_COLUMNS): reported items, items with a sale, the typical count, closed?

    ``daily``: the reported store-item days (store_id, date, units_sold), or a completed calendar whose
    filled-in days (``is_filled``) are left out. The job passes the checked input rows, so the calendar's
    windows over every store-item-day are not computed a second time for this small aggregate.
    """
    reported = daily.filter(~F.col("is_filled")) if "is_filled" in daily.columns else daily
    day = reported.groupBy("store_id", "date").agg(
        F.count("*").alias("items_reported"),
        F.sum((F.col("units_sold") > 0).cast("int")).alias("items_selling"),
    )
    day_number = F.datediff("date", F.lit("1970-01-01").cast("date"))
    past = (Window.partitionBy("store_id").orderBy(day_number)
            .rangeBetween(-cfg.closure_window_days, -1))
    window_typical = F.avg(F.when(F.col("items_selling") > 0, F.col("items_selling"))).over(past)
    # A closure longer than the window leaves only stray sales in it: the last typical count that had the
    # power to detect a closure carries on until the window shows one again.
    usable = F.when(F.col("window_typical") >= cfg.closure_min_items, F.col("window_typical"))
    upto = Window.partitionBy("store_id").orderBy(day_number).rowsBetween(Window.unboundedPreceding, 0)
    with_typical = day.withColumn("window_typical", window_typical).withColumn(
        "typical_items_selling", F.last(usable, ignorenulls=True).over(upto))
    share = F.lit(cfg.closure_max_share)
    closed = (share > 0) & (F.col("items_selling") <= share * F.col("typical_items_selling"))
    return with_typical.select(*STORE_DAY_COLUMNS[:-1], F.coalesce(closed, F.lit(False)).alias("store_closed"))


def mark_closures(prepared: DataFrame, closures: DataFrame) -> DataFrame:
    """``prepared`` plus ``store_closed`` (false for store-days without a reported row)."""
    flags = closures.select("store_id", "date", "store_closed")
    return prepared.join(flags, ["store_id", "date"], "left").withColumn(
        "store_closed", F.coalesce("store_closed", F.lit(False)))
