"""Data contracts: missing columns fail fast, bad rows go to quarantine with a reason, counts balance."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from shared.contracts import ColumnSpec, Contract, ContractError, RowRule, apply_contract, quarantine_rows

TXN = Contract(
    table="transactions",
    columns=(
        ColumnSpec("transaction_id", "string"),
        ColumnSpec("amount", "double"),
        ColumnSpec("type", "string"),
        ColumnSpec("label", "int", nullable=True, required=False),
    ),
    rules=(
        RowRule("amount must be >= 0", lambda: F.col("amount") >= 0),
        RowRule("type must be a known type", lambda: F.col("type").isin("CASH_IN", "TRANSFER")),
    ),
    unique_key=("transaction_id",),
)


def test_missing_column_names_table_column_and_schema(spark) -> None:
    df = spark.createDataFrame([("t1", 1.0)], "transaction_id string, amount double")
    with pytest.raises(ContractError) as info:
        apply_contract(df, TXN)
    message = str(info.value)
    assert "'transactions'" in message and "'type'" in message
    assert "transaction_id string NOT NULL, amount double NOT NULL, type string NOT NULL" in message


def test_malformed_rows_are_quarantined_with_reasons(spark) -> None:
    df = spark.createDataFrame(
        [
            ("t1", "10.5", "CASH_IN"),
            ("t2", "ten", "CASH_IN"),
            ("t3", "-1", "TRANSFER"),
            ("t4", None, "HACK"),
            ("t5", "3", "TRANSFER"),
            ("t5", "4", "TRANSFER"),
        ],
        "transaction_id string, amount string, type string",
    )
    result = apply_contract(df, TXN)
    assert (result.rows_in, result.rows_valid, result.rows_quarantined) == (6, 1, 5)
    reasons = {r.transaction_id + ":" + r.amount.__str__(): r.reason for r in result.quarantined.collect()}
    assert reasons["t2:ten"] == "amount is not a valid double"
    assert reasons["t3:-1"] == "amount must be >= 0"
    assert reasons["t4:None"] == "amount is null; type must be a known type"
    assert reasons["t5:3"] == reasons["t5:4"] == "duplicate key (transaction_id)"
    expected = spark.createDataFrame([("t1", 10.5, "CASH_IN", None)], "transaction_id string, amount double, "
                                     "type string, label int")
    assert_df_equality(result.valid, expected, ignore_nullable=True)


def test_quarantine_keeps_the_raw_text_of_every_column(spark) -> None:
    df = spark.createDataFrame([("t9", "1e999x", "CASH_IN", "extra")], "transaction_id string, amount string, "
                               "type string, note string")
    row = apply_contract(df, TXN).quarantined.first()
    assert (row.amount, row.note, row.label) == ("1e999x", "extra", None)


def test_quarantine_rows_helper(spark) -> None:
    df = spark.createDataFrame([(1, 2.0)], "a int, b double")
    out = quarantine_rows(df, "series too short")
    assert out.columns == ["a", "b", "reason"] and out.first().reason == "series too short"


@settings(max_examples=15, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d", None]),
            st.one_of(st.none(), st.sampled_from(["1", "-2", "x", "3.5", ""])),
            st.sampled_from(["CASH_IN", "TRANSFER", "OTHER", None]),
        ),
        max_size=12,
    )
)
def test_rows_in_equals_valid_plus_quarantined(spark, rows) -> None:
    """Whatever arrives, no row is lost or duplicated by the split."""
    df = spark.createDataFrame(rows, "transaction_id string, amount string, type string")
    result = apply_contract(df, TXN)
    assert result.rows_in == len(rows)
    assert result.valid.count() + result.quarantined.count() == len(rows)
    assert result.rows_valid + result.rows_quarantined == len(rows)
