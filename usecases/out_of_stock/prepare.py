"""The prepared daily table: a complete calendar per store-item plus inventory-balance features.

Fill rules for a store-item-date missing between its first date and the last date of the data (all causal,
so adding later rows never changes earlier ones):
- ``units_sold``, ``replenishment_units`` = 0 and ``is_filled`` = true (the day is not evidence of demand:
  the demand model skips it and no alert is raised on it);
- ``on_hand_units``, ``on_order_units``, ``in_transit_units``, ``shelf_capacity`` carry the last reported
  value forward (never backward); ``promo`` = false.
Balance check: ``balance_gap = prev on_hand + replenishment - units_sold - on_hand`` (0 when the books
balance; a large gap is an inventory correction, e.g. a phantom-inventory audit); null on a series' first day,
on an unreported day and on the day after one (its previous count was carried forward, not reported, so the
books cannot be checked across the gap).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from usecases.out_of_stock.contracts import KEY

CARRIED = ("on_hand_units", "on_order_units", "in_transit_units", "shelf_capacity")


def complete_calendar(daily: DataFrame) -> DataFrame:
    """One row per store-item per day from its first date to the data's last date, filled as the module says.

    Input: columns of STORE_ITEM_DAILY. Output: the same plus ``is_filled``, ``start_stock``
    (prev on_hand + replenishment: what could be sold that day), ``on_hand_prev``, ``balance_gap``.
    """
    last = daily.agg(F.max("date").alias("last_date"))
    spans = daily.groupBy(*KEY).agg(F.min("date").alias("first_date")).crossJoin(last)
    calendar = spans.select(*KEY, F.explode(F.sequence("first_date", "last_date")).alias("date"))
    observed = daily.select(*KEY, "date", "units_sold", "replenishment_units", "promo", *CARRIED)
    joined = calendar.join(observed, on=[*KEY, "date"], how="left").withColumn(
        "is_filled", F.col("units_sold").isNull()
    )
    upto_today = Window.partitionBy(*KEY).orderBy("date").rowsBetween(Window.unboundedPreceding, 0)
    filled = joined.select(
        *KEY, "date", "is_filled",
        F.coalesce("units_sold", F.lit(0)).alias("units_sold"),
        F.coalesce("replenishment_units", F.lit(0)).alias("replenishment_units"),
        F.coalesce("promo", F.lit(False)).alias("promo"),
        *[F.last(c, ignorenulls=True).over(upto_today).alias(c) for c in CARRIED],
    )
    by_date = Window.partitionBy(*KEY).orderBy("date")
    prev = F.lag("on_hand_units").over(by_date)
    unchecked = F.col("is_filled") | F.coalesce(F.lag("is_filled").over(by_date), F.lit(False))
    gap = prev + F.col("replenishment_units") - F.col("units_sold") - F.col("on_hand_units")
    return filled.select(
        "*",
        prev.alias("on_hand_prev"),
        (F.coalesce(prev, F.col("on_hand_units") + F.col("units_sold") - F.col("replenishment_units"))
         + F.col("replenishment_units")).alias("start_stock"),
        F.when(~unchecked, gap).alias("balance_gap"),
    )
