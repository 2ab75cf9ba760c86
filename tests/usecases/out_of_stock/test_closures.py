"""Store closures: a store-day aggregate joined back; past data only; long closures stay closed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from chispa import assert_df_equality
from pyspark.sql import functions as F

from usecases.out_of_stock.closures import mark_closures, store_days
from usecases.out_of_stock.config import OutOfStockConfig
from usecases.out_of_stock.prepare import complete_calendar

CFG = OutOfStockConfig()
D0 = date(2024, 1, 1)


def _prepared(spark, days: int, closed: set[int], stray: dict[int, int] | None = None, items: int = 8):
    """``items`` items of one store (and a second store with no closure); item i sells on day d when
    (d + i) % 2 == 0, nothing sells on ``closed`` days except ``stray`` {day: items selling}."""
    rows = []
    for store in ("S1", "S2"):
        for d in range(days):
            for i in range(items):
                sells = (d + i) % 2 == 0
                if store == "S1" and d in closed:
                    sells = i < (stray or {}).get(d, 0)
                rows.append((D0 + timedelta(days=d), store, f"I{i}", int(sells) * 3, False))
    return spark.createDataFrame(rows, "date date, store_id string, item_id string, units_sold int, is_filled boolean")


def test_a_day_when_nothing_sells_is_a_closure_and_is_joined_back(spark) -> None:
    prepared = _prepared(spark, 60, closed={40, 41})
    days = {(r.store_id, r.date): r for r in store_days(prepared, CFG).collect()}
    assert days[("S1", D0 + timedelta(days=40))].store_closed and days[("S1", D0 + timedelta(days=41))].store_closed
    assert days[("S1", D0 + timedelta(days=40))].typical_items_selling == 4.0
    assert sum(r.store_closed for r in days.values()) == 2  # S2 never, the first days (no history) never
    marked = mark_closures(prepared, store_days(prepared, CFG))
    assert marked.count() == prepared.count()
    assert marked.filter("store_closed").select("store_id", "date").distinct().count() == 2
    assert marked.filter("store_closed").count() == 2 * 8


def test_a_closure_longer_than_the_window_stays_closed_despite_a_stray_sale(spark) -> None:
    closed = set(range(30, 75))
    prepared = _prepared(spark, 80, closed=closed, stray={50: 1})
    flags = {r.date: r.store_closed for r in store_days(prepared, CFG).filter("store_id = 'S1'").collect()}
    assert not flags[D0 + timedelta(days=50)]  # one item of a typical four sold: above the 15% share
    assert all(flags[D0 + timedelta(days=d)] for d in closed - {50})  # the window's own count fell to 1
    assert not flags[D0 + timedelta(days=76)]


def test_too_few_items_or_share_zero_detect_nothing(spark) -> None:
    small = _prepared(spark, 60, closed={40}, items=4)  # typically 2 items selling: no power
    assert store_days(small, CFG).filter("store_closed").count() == 0
    off = _prepared(spark, 60, closed={40})
    assert store_days(off, replace(CFG, closure_max_share=0.0)).filter("store_closed").count() == 0


def test_closures_of_past_days_do_not_change_when_later_days_arrive(spark) -> None:
    full = _prepared(spark, 80, closed={40, 60, 61})
    head = full.filter(full.date < D0 + timedelta(days=50))
    before = {(r.store_id, r.date, r.store_closed) for r in store_days(head, CFG).collect()}
    after = {(r.store_id, r.date, r.store_closed) for r in store_days(full, CFG).collect()
             if r.date < D0 + timedelta(days=50)}
    assert before == after


def test_reported_rows_give_the_same_store_days_as_their_completed_calendar(spark) -> None:
    """The job aggregates the checked input rows; the completed calendar only adds filled-in days, which the
    aggregate leaves out, so both give the same table (days missing from the input included)."""
    gaps = ("NOT (item_id = 'I3' AND date BETWEEN '2024-01-20' AND '2024-01-29') "
            "AND NOT (store_id = 'S2' AND date = '2024-02-05')")
    rows = _prepared(spark, 70, closed={40, 41}).filter(gaps)
    zero = F.lit(0)
    reported = rows.drop("is_filled").withColumns({
        "on_hand_units": F.col("units_sold") + 5, "replenishment_units": zero, "promo": F.lit(False),
        "on_order_units": zero, "in_transit_units": zero, "shelf_capacity": F.lit(20)})
    calendar = complete_calendar(reported)
    assert calendar.filter("is_filled").count() > 0
    assert_df_equality(store_days(reported, CFG), store_days(calendar, CFG), ignore_row_order=True,
                       ignore_nullable=True)
