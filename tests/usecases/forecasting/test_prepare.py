"""Prepare on Spark: contract, calendar completion under both fill policies, quarantine of unmodelable series."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from hypothesis import given
from hypothesis import strategies as st
from pyspark.sql import functions as F

from shared.contracts import apply_contract
from usecases.forecasting.contracts import sales_contract
from usecases.forecasting.prepare import (
    STRAGGLER_SHARE,
    broad_latest_date,
    daily_totals,
    prepare_sales,
    resolve_training_date,
)

KEYS = ["region", "sku"]
D = dt.date(2024, 1, 1)


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


@pytest.fixture
def sales(spark):
    rows = [("north", "a", day(i), 3.0) for i in range(20) if i != 4]  # 2024-01-05 absent
    rows[7] = ("north", "a", day(8), None)  # present but unknown
    rows += [("north", "b", day(18), 1.0), ("north", "b", day(19), 2.0)]  # two points
    rows += [("south", "a", day(i), None) for i in range(20)]  # never observed
    rows += [("north", "a", day(25), 9.0), ("south", "b", day(3), -1.0)]  # after the cut-off; negative
    return spark.createDataFrame(rows, "region string, sku string, date date, units_sold double")


@pytest.mark.parametrize(("policy", "gap_value"), [("zero", 0.0), ("missing", None)])
def test_calendars_are_completed_and_short_series_quarantined(spark, sales, policy: str, gap_value) -> None:
    contract = apply_contract(sales, sales_contract(KEYS))
    assert contract.rows_quarantined == 1  # the negative value
    training_date = day(19)
    result = prepare_sales(contract.valid, KEYS, training_date, policy, min_history_days=14)
    prepared = result.prepared
    assert prepared.select(*KEYS).distinct().collect() == [("north", "a")]
    assert prepared.count() == 20 and prepared.agg(F.max("date")).first()[0] == training_date
    gap = prepared.filter(F.col("date") == day(4)).first()
    assert gap["is_filled"] and gap["units_sold"] == gap_value
    unknown = prepared.filter(F.col("date") == day(8)).first()
    assert unknown["units_sold"] is None and not unknown["is_filled"]
    reasons = result.quarantined.groupBy("region", "sku", "quarantine_reason").count()
    expected = spark.createDataFrame(
        [("north", "b", "too short: 2 observed days < min_history_days=14", 2),
         ("south", "a", "no observed units_sold values", 20)],
        "region string, sku string, quarantine_reason string, count bigint")
    assert_df_equality(reasons, expected, ignore_row_order=True, ignore_nullable=True)
    assert result.series_quarantined == 2
    # every input row is accounted for: prepared (observed) + quarantined + after the cut-off + contract rejects
    observed = prepared.filter(~F.col("is_filled")).count()
    after = contract.valid.filter(F.col("date") > F.lit(training_date)).count()
    assert observed + result.quarantined.count() + after + contract.rows_quarantined == sales.count()


def test_training_date_defaults_to_the_latest_sale(sales) -> None:
    assert resolve_training_date("", sales) == day(25)
    assert resolve_training_date("2024-01-10", sales) == day(9)


def test_one_stray_future_row_does_not_move_the_training_date(spark) -> None:
    """20 series over 30 days plus one row of one series dated 500 days later (a typo): the origin stays at the
    data's last broad day, so no series is zero-filled up to the stray date."""
    rows = [(f"r{s}", "a", day(i), 1.0) for s in range(20) for i in range(30)] + [("r0", "a", day(530), 5.0)]
    sales = spark.createDataFrame(rows, "region string, sku string, date date, units_sold double")
    assert resolve_training_date("", sales, KEYS) == day(29)
    assert resolve_training_date("", sales.filter(F.col("date") < day(500)), KEYS) == day(29)
    assert resolve_training_date("2025-06-13", sales, KEYS) == day(529)


@given(st.dictionaries(st.dates(), st.integers(1, 1000), min_size=1, max_size=60))
def test_the_broad_latest_date_is_the_last_day_above_the_straggler_floor(series_per_day) -> None:
    chosen = broad_latest_date(series_per_day)
    floor = STRAGGLER_SHARE * max(series_per_day.values())
    assert series_per_day[chosen] >= floor
    assert all(n < floor for d, n in series_per_day.items() if d > chosen)


@pytest.mark.parametrize("policy", ["zero", "missing"])
def test_a_day_whose_only_rows_were_quarantined_stays_unknown_not_zero(spark, policy: str) -> None:
    """A typo in units, a negative count and two conflicting rows: the days were reported, so they are not days
    without sales; an absent day still follows the fill policy."""
    rows = [(" north ", "a", str(day(i)), "3") for i in range(20) if i not in (4, 6, 9, 12)]
    rows += [("north", "a", str(day(6)), "3,5"), ("north", "a", str(day(9)), "-2"),  # unreadable; negative
             ("north", "a", str(day(12)), "1"), ("north", "a", str(day(12)), "7"),  # two rows for one day
             ("north", "a", "not a date", "4"), ("nowhere", "a", str(day(2)), "x")]  # no day; no valid series
    sales = spark.createDataFrame(rows, "region string, sku string, date string, units_sold string")
    contract = apply_contract(sales, sales_contract(KEYS))
    assert contract.rows_quarantined == 6
    result = prepare_sales(contract.valid, KEYS, day(19), policy, 5, contract.quarantined)
    values = {r["date"]: (r["units_sold"], r["is_filled"]) for r in result.prepared.collect()}
    assert len(values) == 20 and {r["region"] for r in result.prepared.collect()} == {"north"}
    assert values[day(6)] == values[day(9)] == values[day(12)] == (None, True)
    assert values[day(4)] == (0.0 if policy == "zero" else None, True)
    assert values[day(5)] == (3.0, False)


def test_key_columns_are_renamed_to_the_configured_case_and_nothing_else_changes(spark) -> None:
    from usecases.forecasting.columns import keys_as_configured

    df = spark.createDataFrame([("n", "a", 1.0)], "region string, `SKU.code` string, units_sold double")
    renamed = keys_as_configured(df, ["Region", "sku.CODE"])
    assert renamed.columns == ["Region", "sku.CODE", "units_sold"] and renamed.collect()[0] == ("n", "a", 1.0)
    assert keys_as_configured(df, ["region", "SKU.code"]) is df


def test_daily_totals_sum_a_days_rows_and_keep_an_unknown_day_unknown(spark) -> None:
    d1, d2, d3 = dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)
    rows = [("a", d1, 2.0), ("a", d1, 3.0), ("a", d2, None), ("a", d2, 4.0), ("a", d3, None), ("a", d3, None),
            ("b", d1, 1.0)]
    sales = spark.createDataFrame(rows, "sku string, date date, units_sold double")
    expected = spark.createDataFrame([("a", d1, 5.0), ("a", d2, 4.0), ("a", d3, None), ("b", d1, 1.0)],
                                     "sku string, date date, units_sold double")
    assert_df_equality(daily_totals(sales, ["sku"]), expected, ignore_row_order=True, ignore_nullable=True)


def test_the_contract_passes_same_day_rows_only_when_they_are_to_be_summed(spark) -> None:
    rows = [("a", "2024-01-01", "2"), ("a", "2024-01-01", "3"), ("a", "2024-01-02", "1")]
    raw = spark.createDataFrame(rows, "sku string, date string, units_sold string")
    strict = apply_contract(raw, sales_contract(["sku"]))
    assert (strict.valid.count(), strict.quarantined.count()) == (1, 2)
    summed = apply_contract(raw, sales_contract(["sku"], one_row_per_day=False))
    assert (summed.valid.count(), summed.quarantined.count()) == (3, 0)
