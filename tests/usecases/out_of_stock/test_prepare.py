"""Calendar completion: gaps filled by the documented rules, balance gap computed, nothing backward-filled."""

from __future__ import annotations

from datetime import date

from chispa import assert_df_equality

from usecases.out_of_stock.prepare import complete_calendar

SCHEMA = ("date date, store_id string, item_id string, units_sold int, on_hand_units int, replenishment_units int, "
          "on_order_units int, in_transit_units int, promo boolean, shelf_capacity int")


def test_missing_days_are_filled_forward_and_balance_gap_flags_corrections_between_reported_days(spark) -> None:
    """A gap is only computed between two reported days: across an unreported one the previous count was carried
    forward, so a delivery or sales that day would look like a correction."""
    rows = [
        (date(2024, 1, 1), "S1", "I1", 2, 10, 0, 0, 0, False, 20),
        (date(2024, 1, 2), "S1", "I1", 3, 7, 0, 5, None, True, None),
        # 2024-01-03 missing
        (date(2024, 1, 4), "S1", "I1", 1, 2, 0, 0, 0, False, 20),   # after an unreported day: not checked
        (date(2024, 1, 5), "S1", "I1", 1, 0, 0, 0, 0, False, 20),   # 2 - 1 = 1 expected, 0 reported: gap 1
        (date(2024, 1, 3), "S2", "I1", 0, 4, 0, 0, 0, False, 9),
    ]
    out = complete_calendar(spark.createDataFrame(rows, SCHEMA)).select(
        "store_id", "date", "is_filled", "units_sold", "on_hand_units", "on_order_units", "promo",
        "shelf_capacity", "start_stock", "balance_gap")
    expected = spark.createDataFrame([
        ("S1", date(2024, 1, 1), False, 2, 10, 0, False, 20, 12, None),
        ("S1", date(2024, 1, 2), False, 3, 7, 5, True, 20, 10, 0),
        ("S1", date(2024, 1, 3), True, 0, 7, 5, False, 20, 7, None),
        ("S1", date(2024, 1, 4), False, 1, 2, 0, False, 20, 7, None),
        ("S1", date(2024, 1, 5), False, 1, 0, 0, False, 20, 2, 1),
        ("S2", date(2024, 1, 3), False, 0, 4, 0, False, 9, 4, None),
        ("S2", date(2024, 1, 4), True, 0, 4, 0, False, 9, 4, None),
        ("S2", date(2024, 1, 5), True, 0, 4, 0, False, 9, 4, None),
    ], "store_id string, date date, is_filled boolean, units_sold int, on_hand_units int, on_order_units int, "
       "promo boolean, shelf_capacity int, start_stock int, balance_gap int")
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True, ignore_column_order=True)
