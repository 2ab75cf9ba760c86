"""The user's sales columns renamed to the job's: date_column, target_column, and one series' constant key."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from shared.contracts import ContractError
from usecases.forecasting.sales_columns import sales_in_job_names

DAY = dt.date(2024, 1, 1)


def test_named_columns_are_renamed_whatever_their_case_and_one_series_gets_its_key(spark) -> None:
    sales = spark.createDataFrame([(DAY, 3.0, "x")], "DS date, Y double, note string")
    renamed = sales_in_job_names(sales, "sales", "ds", "y", one_series=True)
    expected = spark.createDataFrame([(DAY, 3.0, "x", "all")],
                                     "date date, units_sold double, note string, series string")
    assert_df_equality(renamed, expected, ignore_nullable=True)


def test_the_job_names_pass_through_untouched(spark) -> None:
    sales = spark.createDataFrame([("a", DAY, 1.0)], "sku string, date date, units_sold double")
    assert sales_in_job_names(sales, "sales", "date", "units_sold", one_series=False) is sales


@pytest.mark.parametrize(
    ("ddl", "date_column", "target_column", "one_series", "message"),
    [
        ("ds date, y double", "day", "y", False,
         r"table 'sales' has no column 'day' \(date_column\); found columns: ds, y"),
        ("ds date, qty double", "ds", "y", False, r"no column 'y' \(target_column\)"),
        ("ds date, date date, y double", "ds", "y", False, r"has both 'ds' \(date_column\) and 'date'"),
        ("ds date, y double, Series string", "ds", "y", True, r"has a column 'Series' but key_columns is empty"),
    ],
)
def test_a_missing_or_colliding_column_names_the_table_and_the_parameter(
        spark, ddl: str, date_column: str, target_column: str, one_series: bool, message: str) -> None:
    sales = spark.createDataFrame([], ddl)
    with pytest.raises(ContractError, match=message):
        sales_in_job_names(sales, "sales", date_column, target_column, one_series)


def test_the_found_columns_of_a_csv_are_the_files_own(tables, tmp_path) -> None:
    csv = tmp_path / "ds_y.csv"
    csv.write_text("ds,y\n2024-01-01,3\n")
    with pytest.raises(ContractError, match=r"found columns: ds, y$"):  # not the reader's malformed-row flag
        sales_in_job_names(tables.read(str(csv)), "sales", "day", "y", one_series=True)
