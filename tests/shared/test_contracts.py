"""Data contracts: strict lossless casts, safe column names, quarantine with exact reasons, counts that balance,
and the quarantine budget."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from shared.contracts import (
    REASON,
    ColumnSpec,
    Contract,
    ContractError,
    QuarantineBudgetError,
    RowRule,
    apply_contract,
    budget_message,
    check_quarantine_budget,
    quarantine_rows,
    reason_column,
    working_prefix,
)
from shared.identifiers import quote_identifier

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


def split(result) -> tuple[dict, dict]:  # ContractResult
    """(n -> typed value of v) for valid rows, (n -> reason) for quarantined rows; checks the accounting."""
    valid = {r["n"]: r["v"] for r in result.valid.collect()}
    quarantined = {int(r["n"]): r[result.reason_column] for r in result.quarantined.collect()}
    assert result.rows_in == result.rows_valid + result.rows_quarantined
    assert (len(valid), len(quarantined)) == (result.rows_valid, result.rows_quarantined)
    return valid, quarantined


def run_cases(spark, spec: ColumnSpec, source_type: str, cases: list[tuple[object, object, str | None]]) -> None:
    """One frame per table of cases (n, v): each row passes with its expected value or fails with its reason."""
    df = spark.createDataFrame([(i, value) for i, (value, _, _) in enumerate(cases)], f"n int, v {source_type}")
    result = apply_contract(df, Contract("t", (spec,)))
    valid, quarantined = split(result)
    assert result.rows_in == len(cases)
    for i, (value, expected, reason) in enumerate(cases):
        if reason is None:
            assert i in valid, f"{value!r} was quarantined: {quarantined.get(i)}"
            got = valid[i]
            if isinstance(expected, float) and math.isnan(expected):
                assert math.isnan(got)
            else:
                assert got == expected and type(got) is type(expected), f"{value!r} -> {got!r}, not {expected!r}"
        else:
            assert quarantined.get(i) == reason, f"{value!r}: {quarantined.get(i)!r} != {reason!r}"


# ---------------------------------------------------------------- casts: one table per target type and source

INT_FROM_TEXT = [
    ("54", 54, None), ("54.0", 54, None), (" 54 ", 54, None), ("\t12\u00a0", 12, None), ("+7", 7, None),
    ("-0.0", 0, None), ("54.", 54, None), ("1.5e3", 1500, None), ("1e+06", 1000000, None),
    ("2147483647", 2147483647, None), ("", None, None), ("   ", None, None), (None, None, None),
    ("3.7", None, "v is not a whole number: 3.7"), ("-0.4", None, "v is not a whole number: -0.4"),
    ("1.5e-1", None, "v is not a whole number: 1.5e-1"), ("inf", None, "v is not a whole number: inf"),
    ("NaN", None, "v is not a whole number: NaN"), ("abc", None, "v is not a number: abc"),
    ("1,000", None, "v is not a number: 1,000"), ("0x10", None, "v is not a number: 0x10"),
    ("2147483648", None, "v is out of range for int: 2147483648"), ("1e30", None, "v is out of range for int: 1e30"),
]
INT_FROM_DOUBLE = [
    (54.0, 54, None), (-0.0, 0, None), (-3.0, -3, None), (None, None, None),
    (3.7, None, "v is not a whole number: 3.7"), (-0.4, None, "v is not a whole number: -0.4"),
    (float("nan"), None, "v is not a whole number: NaN"), (float("inf"), None, "v is not a whole number: Infinity"),
    (1e30, None, "v is out of range for int: 1.0E30"),
]
DOUBLE_FROM_TEXT = [
    ("1.5", 1.5, None), (" -2 ", -2.0, None), (".5", 0.5, None), ("1e-3", 0.001, None), ("7", 7.0, None),
    ("inf", None, "v is not a finite number: inf"), ("Infinity", None, "v is not a finite number: Infinity"),
    ("-Infinity", None, "v is not a finite number: -Infinity"), ("NaN", None, "v is not a finite number: NaN"),
    ("1e999", None, "v is out of range for double: 1e999"), ("1.5d", None, "v is not a number: 1.5d"),
    ("1,5", None, "v is not a number: 1,5"), ("ten", None, "v is not a number: ten"),
]
DOUBLE_FROM_DOUBLE = [
    (2.5, 2.5, None), (float("inf"), None, "v is not a finite number: Infinity"),
    (float("-inf"), None, "v is not a finite number: -Infinity"), (float("nan"), None, "v is not a finite number: NaN"),
]
DATE_FROM_TEXT = [
    ("2024-01-01", dt.date(2024, 1, 1), None), ("2024/01/02", dt.date(2024, 1, 2), None),
    (" 2024-03-04 ", dt.date(2024, 3, 4), None), ("2024-01-01T10:00:00", dt.date(2024, 1, 1), None),
    ("2024-01-01 23:59:59.5+02:00", dt.date(2024, 1, 1), None), ("2024-01-01T10:00Z", dt.date(2024, 1, 1), None),
    ("2025", None, "v is not a valid date: 2025"), ("2025-06", None, "v is not a valid date: 2025-06"),
    ("2024-01-01 garbage", None, "v is not a valid date: 2024-01-01 garbage"),
    ("2024-02-30", None, "v is not a valid date: 2024-02-30"), ("2024-1-2", None, "v is not a valid date: 2024-1-2"),
    ("01/02/2024", None, "v is not a valid date: 01/02/2024"), ("20240101", None, "v is not a valid date: 20240101"),
    ("2024-01-01T25:00", None, "v is not a valid date: 2024-01-01T25:00"),
]
TIMESTAMP_FROM_TEXT = [
    ("2024-01-01T10:00:00Z", dt.datetime(2024, 1, 1, 10), None),
    ("2024-01-01 10:00", dt.datetime(2024, 1, 1, 10), None),
    ("2024-01-01T10:00+02:00", dt.datetime(2024, 1, 1, 8), None),
    ("2024-01-01 10:00Z", dt.datetime(2024, 1, 1, 10), None),
    ("2024-01-01T10:00:00.123+02:00", dt.datetime(2024, 1, 1, 8, 0, 0, 123000), None),
    ("2024-01-01", dt.datetime(2024, 1, 1), None), ("2024/01/02 03:04:05", dt.datetime(2024, 1, 2, 3, 4, 5), None),
    ("2024-01-01T25:00", None, "v is not a valid timestamp: 2024-01-01T25:00"),
    ("2024-01-01 garbage", None, "v is not a valid timestamp: 2024-01-01 garbage"),
    ("2024-01-01T10", None, "v is not a valid timestamp: 2024-01-01T10"),
    ("2025", None, "v is not a valid timestamp: 2025"), ("1704067200", None, "v is not a valid timestamp: 1704067200"),
]
BOOLEAN_FROM_TEXT = [
    ("true", True, None), ("TRUE", True, None), (" false ", False, None), ("1", True, None), ("0", False, None),
    ("yes", None, "v is not a valid boolean: yes"), ("t", None, "v is not a valid boolean: t"),
    ("2", None, "v is not a valid boolean: 2"),
]
ID_FROM_TEXT = [
    ("00123", "00123", None), (" 00M ", "00M", None), ("FJI", "FJI", None),
    ("11-Sault-au-Récollet", "11-Sault-au-Récollet", None), ("54.0", "54.0", None), ("", None, "v is null"),
    ("  ", None, "v is null"), (None, None, "v is null"),
]
ID_FROM_DOUBLE = [
    (54.0, "54", None), (123.0, "123", None), (-0.0, "0", None), (1e20, "100000000000000000000", None),
    (3.5, None, "v is not a whole number: 3.5"), (float("nan"), None, "v is not a whole number: NaN"),
    (1e40, None, "v is out of range for an id: 1.0E40"),
]

CAST_TABLES = [
    pytest.param(ColumnSpec("v", "int", nullable=True), "string", INT_FROM_TEXT, id="int<-text"),
    pytest.param(ColumnSpec("v", "int", nullable=True), "double", INT_FROM_DOUBLE, id="int<-double"),
    pytest.param(ColumnSpec("v", "int"), "bigint", [(7, 7, None), (5_000_000_000, None,
                                                       "v is out of range for int: 5000000000")], id="int<-bigint"),
    pytest.param(ColumnSpec("v", "int"), "decimal(10,2)", [(Decimal("5.00"), 5, None), (Decimal("5.50"), None,
                                                            "v is not a whole number: 5.50")], id="int<-decimal"),
    pytest.param(ColumnSpec("v", "bigint"), "string", [
        ("9223372036854775807", 9223372036854775807, None),
        ("9223372036854775808", None, "v is out of range for bigint: 9223372036854775808")], id="bigint<-text"),
    pytest.param(ColumnSpec("v", "double"), "string", DOUBLE_FROM_TEXT, id="double<-text"),
    pytest.param(ColumnSpec("v", "double"), "double", DOUBLE_FROM_DOUBLE, id="double<-double"),
    pytest.param(ColumnSpec("v", "double", allow_non_finite=True), "string",
                 [("inf", float("inf"), None), ("NaN", float("nan"), None), ("-Infinity", float("-inf"), None),
                  ("1e999", None, "v is out of range for double: 1e999")], id="double(non-finite ok)<-text"),
    pytest.param(ColumnSpec("v", "double", allow_non_finite=True), "double",
                 [(float("inf"), float("inf"), None)], id="double(non-finite ok)<-double"),
    pytest.param(ColumnSpec("v", "float"), "string", [("1.5", 1.5, None), ("1e39", None,
                                                       "v is out of range for float: 1e39")], id="float<-text"),
    pytest.param(ColumnSpec("v", "float"), "double", [(1e39, None, "v is out of range for float: 1.0E39")],
                 id="float<-double"),
    pytest.param(ColumnSpec("v", "date"), "string", DATE_FROM_TEXT, id="date<-text"),
    pytest.param(ColumnSpec("v", "date"), "timestamp", [(dt.datetime(2024, 5, 6, 7, 8), dt.date(2024, 5, 6), None)],
                 id="date<-timestamp"),
    pytest.param(ColumnSpec("v", "date"), "int", [(20240101, None, "v is not a valid date: 20240101")],
                 id="date<-int"),
    pytest.param(ColumnSpec("v", "timestamp"), "string", TIMESTAMP_FROM_TEXT, id="timestamp<-text"),
    pytest.param(ColumnSpec("v", "timestamp"), "date", [(dt.date(2024, 5, 6), dt.datetime(2024, 5, 6), None)],
                 id="timestamp<-date"),
    pytest.param(ColumnSpec("v", "int", nullable=True), "boolean", [(True, 1, None), (False, 0, None),
                                                                    (None, None, None)], id="int<-boolean"),
    pytest.param(ColumnSpec("v", "boolean"), "string", BOOLEAN_FROM_TEXT, id="boolean<-text"),
    pytest.param(ColumnSpec("v", "boolean"), "int", [(1, True, None), (0, False, None),
                                                     (2, None, "v is not a valid boolean: 2")], id="boolean<-int"),
    pytest.param(ColumnSpec("v", "string", id=True), "string", ID_FROM_TEXT, id="id<-text"),
    pytest.param(ColumnSpec("v", "string", id=True), "bigint", [(123, "123", None), (-7, "-7", None)],
                 id="id<-bigint"),
    pytest.param(ColumnSpec("v", "string", id=True), "double", ID_FROM_DOUBLE, id="id<-double"),
    pytest.param(ColumnSpec("v", "string", id=True), "decimal(10,2)", [(Decimal("7.00"), "7", None)],
                 id="id<-decimal"),
    pytest.param(ColumnSpec("v", "string", nullable=True), "string", [(" x ", " x ", None), ("", "", None)],
                 id="string<-text (kept as is)"),
    pytest.param(ColumnSpec("v", "string"), "double", [(54.0, "54.0", None)], id="string<-double"),
]


@pytest.mark.parametrize(("spec", "source_type", "cases"), CAST_TABLES)
def test_casts_are_strict_and_lossless(spark, spec: ColumnSpec, source_type: str, cases) -> None:
    run_cases(spark, spec, source_type, cases)


def test_casts_run_under_ansi_mode(spark) -> None:
    """Every conversion is a try_* expression: nothing raises with ANSI on (the Spark 4 / serverless default)."""
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"
    run_cases(spark, ColumnSpec("v", "int", nullable=True), "string", INT_FROM_TEXT)


def test_parquet_and_csv_sources_agree(spark, tmp_path) -> None:
    """The tester's case: the same values from a typed (Parquet) source and as text get the same verdicts."""
    values = [54.0, 3.7, -0.4, 0.0]
    typed = tmp_path / "typed.parquet"
    spark.createDataFrame([(i, v) for i, v in enumerate(values)], "n int, v double").write.parquet(str(typed))
    contract = Contract("t", (ColumnSpec("v", "int"),),
                        rules=(RowRule("v must be >= 0", lambda: F.col("v") >= 0),))
    from_parquet = split(apply_contract(spark.read.parquet(str(typed)), contract))
    text = spark.createDataFrame([(i, repr(v)) for i, v in enumerate(values)], "n int, v string")
    from_text = split(apply_contract(text, contract))
    assert from_parquet == from_text == ({0: 54, 3: 0}, {1: "v is not a whole number: 3.7",
                                                         2: "v is not a whole number: -0.4"})


# Each example is a Spark job: few examples of many values each (the values, not the jobs, explore the cast).
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=60))
def test_a_double_passes_an_int_column_only_when_whole_and_in_range(spark, values: list[float]) -> None:
    """Property: a double passes into an int column exactly when it is a whole number within int's range."""
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "n int, v double")
    valid, quarantined = split(apply_contract(df, Contract("t", (ColumnSpec("v", "int"),))))
    for i, v in enumerate(values):
        if math.isfinite(v) and v.is_integer() and -(2**31) <= v < 2**31:
            assert valid[i] == int(v)
        elif math.isfinite(v) and v.is_integer():
            assert quarantined[i].startswith("v is out of range for int: ")
        else:
            assert quarantined[i].startswith("v is not a whole number: ")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(st.integers(-(2**70), 2**70),
                                 st.floats(allow_nan=False, allow_infinity=False, width=64)), min_size=1, max_size=60))
def test_number_text_into_bigint_and_double(spark, values: list) -> None:  # ints and floats
    """Property: text of an integer or a float gives exactly its value, or a reason saying why not."""
    texts = [str(v) if isinstance(v, int) else repr(v) for v in values]
    df = spark.createDataFrame([(i, t, t) for i, t in enumerate(texts)], "n int, v string, w string")
    contract = Contract("t", (ColumnSpec("v", "bigint"), ColumnSpec("w", "double")))
    result = apply_contract(df, contract)
    valid = {r["n"]: (r["v"], r["w"]) for r in result.valid.collect()}
    quarantined = {int(r["n"]): r[REASON] for r in result.quarantined.collect()}
    assert result.rows_in == len(values) == len(valid) + len(quarantined)
    for i, v in enumerate(values):
        exact = Decimal(v) if isinstance(v, int) else Decimal(repr(v))
        whole, in_range = exact == exact.to_integral_value(), -(2**63) <= exact < 2**63
        if whole and in_range:
            assert valid[i] == (int(exact), float(v))
        elif not whole:
            assert quarantined[i] == f"v is not a whole number: {texts[i]}"
        else:
            assert quarantined[i] == f"v is out of range for bigint: {texts[i]}"


# ---------------------------------------------------------------- contract behaviour


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
            ("t6", "Infinity", "CASH_IN"),
        ],
        "transaction_id string, amount string, type string",
    )
    result = apply_contract(df, TXN)
    assert (result.rows_in, result.rows_valid, result.rows_quarantined) == (7, 1, 6)
    reasons = {r.transaction_id + ":" + str(r.amount): r[REASON] for r in result.quarantined.collect()}
    assert reasons == {
        "t2:ten": "amount is not a number: ten",
        "t3:-1": "amount must be >= 0",
        "t4:None": "amount is null; type must be a known type",
        "t5:3": "duplicate key (transaction_id)",
        "t5:4": "duplicate key (transaction_id)",
        "t6:Infinity": "amount is not a finite number: Infinity",
    }
    assert result.reason_counts == (("duplicate key (transaction_id)", 2), ("amount is not a finite number", 1),
                                    ("amount is not a number", 1), ("amount is null", 1),
                                    ("amount must be >= 0", 1), ("type must be a known type", 1))
    expected = spark.createDataFrame([("t1", 10.5, "CASH_IN", None)], "transaction_id string, amount double, "
                                     "type string, label int")
    assert_df_equality(result.valid, expected, ignore_nullable=True)


def test_quarantine_keeps_the_raw_text_of_every_column(spark) -> None:
    df = spark.createDataFrame([("t9", "1e999x", "CASH_IN", "extra")], "transaction_id string, amount string, "
                               "type string, note string")
    row = apply_contract(df, TXN).quarantined.first()
    assert (row.amount, row.note, row.label) == ("1e999x", "extra", None)


def test_rules_see_typed_values_and_skip_unconvertible_ones(spark) -> None:
    contract = Contract("t", (ColumnSpec("n", "int"), ColumnSpec("v", "int"), ColumnSpec("w", "double")),
                        rules=(RowRule("v must be >= 0", lambda: F.col("v") >= 0),
                               RowRule("w must not be NaN", lambda: ~F.isnan("w"))))
    df = spark.createDataFrame([(0, "-0.0", "1"), (1, "-1.0", "1"), (2, "-0.4", "1"), (3, "x", "1"), (4, "1", "NaN")],
                               "n int, v string, w string")
    valid, quarantined = split(apply_contract(df, contract))
    assert valid == {0: 0}
    assert quarantined == {1: "v must be >= 0", 2: "v is not a whole number: -0.4", 3: "v is not a number: x",
                           4: "w is not a finite number: NaN"}  # the value had a problem: the NaN rule stays quiet


def test_keys_with_a_missing_part_are_not_compared(spark) -> None:
    df = spark.createDataFrame([(None, "1", "CASH_IN"), (" ", "2", "CASH_IN"), ("a", "3", "CASH_IN")],
                               "transaction_id string, amount string, type string")
    contract = Contract("t", (ColumnSpec("transaction_id", "string", id=True), *TXN.columns[1:]),
                        unique_key=("transaction_id",))
    result = apply_contract(df, contract)
    assert (result.rows_valid, result.reason_counts) == (1, (("transaction_id is null", 2),))


def test_columns_match_ignoring_case_and_take_the_contract_spelling(spark) -> None:
    df = spark.createDataFrame([("t1", "2.5", "CASH_IN", "1")], "Transaction_ID string, AMOUNT string, type string, "
                               "Label string")
    result = apply_contract(df, TXN)
    expected = spark.createDataFrame([("t1", 2.5, "CASH_IN", 1)], "transaction_id string, amount double, type string,"
                                     " label int")
    assert_df_equality(result.valid, expected, ignore_nullable=True)


def test_quarantine_rows_helper(spark) -> None:
    df = spark.createDataFrame([(1, 2.0)], "a int, b double")
    out = quarantine_rows(df, "series too short")
    assert out.columns == ["a", "b", REASON] and out.first()[REASON] == "series too short"
    clash = spark.createDataFrame([(1, "x")], f"a int, {REASON} string")
    assert quarantine_rows(clash, "r").columns == ["a", REASON, f"{REASON}_2"]


def test_column_spec_and_contract_validation() -> None:
    assert ColumnSpec("n", "INTEGER").dtype == "int" and ColumnSpec("n", "long").dtype == "bigint"
    with pytest.raises(ValueError, match="id=True needs dtype 'string'"):
        ColumnSpec("point_id", "bigint", id=True)
    with pytest.raises(ValueError, match="allow_non_finite applies to double/float"):
        ColumnSpec("n", "int", allow_non_finite=True)
    with pytest.raises(ValueError, match="unique_key columns \\['nope'\\]"):
        Contract("t", (ColumnSpec("a", "int"),), unique_key=("nope",))
    assert "point_id string (id) NOT NULL" in Contract("p", (ColumnSpec("point_id", "string", id=True),)).schema_text()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d", None]),
            st.one_of(st.none(), st.sampled_from(["1", "-2", "x", "3.5", "", "inf"])),
            st.sampled_from(["CASH_IN", "TRANSFER", "OTHER", None]),
        ),
        max_size=40,
    )
)
def test_rows_in_equals_valid_plus_quarantined(spark, rows) -> None:
    """Whatever arrives, no row is lost or duplicated by the split."""
    df = spark.createDataFrame(rows, "transaction_id string, amount string, type string")
    result = apply_contract(df, TXN)
    assert result.rows_in == len(rows)
    assert result.valid.count() + result.quarantined.count() == len(rows)
    assert result.rows_valid + result.rows_quarantined == len(rows)
    assert sum(count for _, count in result.reason_counts) >= result.rows_quarantined


# ---------------------------------------------------------------- any column name is safe

HOSTILE_NAMES = ["reason", "quarantine_reason", "a.b", "we`ird", "__raw_amount", "__contract_raw0", "with space",
                 "ünïcödé", "x;y{z}", "'quoted'", "\"dq\""]


def test_hostile_column_names_survive_both_outputs(spark) -> None:
    names = HOSTILE_NAMES
    contract = Contract("t", (ColumnSpec("a.b", "int"), ColumnSpec("we`ird", "string", id=True),
                              ColumnSpec("reason", "double", nullable=True)),
                        rules=(RowRule("a.b must be > 0", lambda: F.col(quote_identifier("a.b")) > 0),),
                        unique_key=("we`ird",))
    special = {"a.b": ["5.0", "5", "-1"], "we`ird": ["k0", "k1", "k2"], "reason": ["1.5", None, "2"]}
    rows = [tuple(special[n][i] if n in special else f"{n}-{i}" for n in names) for i in range(3)]
    df = spark.createDataFrame(rows, names)
    result = apply_contract(df, contract)
    assert (result.rows_in, result.rows_valid, result.rows_quarantined) == (3, 2, 1)
    assert result.valid.columns == df.columns
    assert result.reason_column == "quarantine_reason_2"
    assert result.quarantined.columns == [*df.columns, "quarantine_reason_2"]
    row = result.quarantined.first()
    assert (row["a.b"], row["reason"], row["quarantine_reason"], row["quarantine_reason_2"]) == (
        "-1", "2", "quarantine_reason-2", "a.b must be > 0")
    assert {(r["a.b"], r["reason"]) for r in result.valid.collect()} == {(5, 1.5), (5, None)}
    assert result.valid.select("`we``ird`", "`__raw_amount`", "`__contract_raw0`").first() == ("k0", "__raw_amount-0",
                                                                                               "__contract_raw0-0")


def test_working_columns_never_collide_with_input_columns() -> None:
    assert working_prefix(["a", "b"]) == "__contract_"
    assert working_prefix(["__contract_raw0", "__CONTRACT1_x"]) == "__contract2_"
    assert reason_column(["Quarantine_Reason", "quarantine_reason_2"]) == "quarantine_reason_3"


_NAME = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10).filter(lambda s: s.strip())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_NAME, min_size=3, max_size=4, unique_by=lambda s: s.lower()))
def test_any_column_names_work(spark, names: list[str]) -> None:
    """Property: whatever the column names, the contract casts, checks rules and keys, and keeps every column."""
    key, number, extra = names[0], names[1], names[2:]
    contract = Contract("t", (ColumnSpec(key, "string", id=True), ColumnSpec(number, "int")),
                        rules=(RowRule("number must be >= 0", lambda: F.col(quote_identifier(number)) >= 0),),
                        unique_key=(key,))
    rows = [(" k1 ", "1.0"), ("k2", "-1"), ("k3", "2.5"), ("k4", "x"), ("k5", "7"), ("k5", "8")]
    df = spark.createDataFrame([(*r, *["e"] * len(extra)) for r in rows], [key, number, *extra])
    result = apply_contract(df, contract)
    assert (result.rows_in, result.rows_valid, result.rows_quarantined) == (6, 1, 5)
    assert result.valid.columns == [key, number, *extra]
    assert [tuple(r)[:2] for r in result.valid.collect()] == [("k1", 1)]
    reason = result.reason_column
    assert reason not in names and reason.startswith("quarantine_reason")
    assert result.quarantined.columns == [key, number, *extra, reason]
    reasons = sorted(r[reason] for r in result.quarantined.collect())
    assert reasons == sorted(["number must be >= 0", f"{number} is not a whole number: 2.5",
                              f"{number} is not a number: x", f"duplicate key ({key})", f"duplicate key ({key})"])


# ---------------------------------------------------------------- quarantine budget


def _result(spark, amounts: list[str | None]):  # ContractResult
    rows = [(f"t{i}", a, "CASH_IN") for i, a in enumerate(amounts)]
    return apply_contract(spark.createDataFrame(rows, "transaction_id string, amount string, type string"), TXN)


def test_budget_message_names_table_share_and_top_reasons(spark) -> None:
    result = _result(spark, ["1"] * 6 + ["x"] * 6 + ["-1"] * 3 + [None] * 2 + ["inf"])
    assert budget_message(result, "transactions", 0.1) == (
        "input transactions: 66.7% of 18 rows quarantined (limit 10%): 'amount is not a number' x 6; "
        "'amount must be >= 0' x 3; 'amount is null' x 2; and 1 more reason")
    assert budget_message(result, "transactions", 0.7) is None
    with pytest.raises(QuarantineBudgetError, match=r"^input transactions: 66\.7% .* \(read from x\)$"):
        check_quarantine_budget(result, "transactions", 0.5, "read from x")
    assert issubclass(QuarantineBudgetError, ContractError)


def test_budget_fails_when_no_valid_row_is_left_or_no_row_came(spark) -> None:
    everything_bad = _result(spark, ["x", "y", "-1"])
    assert budget_message(everything_bad, "transactions", 1.0) == (
        "input transactions: no valid rows left, all 3 rows quarantined: 'amount is not a number' x 2; "
        "'amount must be >= 0' x 1")
    empty = _result(spark, [])
    assert (empty.rows_in, empty.reason_counts) == (0, ())
    assert budget_message(empty, "transactions", 1.0) == (
        "input transactions: no rows to process (the input is empty or has only a header)")
    assert budget_message(_result(spark, ["1"] * 9 + ["x"]), "transactions", 0.1) is None  # exactly at the limit
