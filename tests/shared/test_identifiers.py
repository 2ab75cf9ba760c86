"""Identifier validation and SQL quoting: hostile names and values stay inert."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.identifiers import (
    IdentifierError,
    quote_identifier,
    quote_qualified,
    sql_literal,
    sql_string_literal,
    validate_name,
)


@pytest.mark.parametrize("name", ["transactions", "_tmp", "Sales2024", "a" * 255])
def test_plain_names_are_valid(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "1abc", "a.b", "a b", "x;DROP TABLE y", "../etc", "a`b", "a" * 256, None])
def test_unsafe_names_are_rejected(name: object) -> None:
    with pytest.raises(IdentifierError):
        validate_name(name)  # type: ignore[arg-type]


def test_quote_identifier_doubles_backticks() -> None:
    assert quote_identifier("a`b") == "`a``b`"
    assert quote_qualified("main", "s", "t") == "`main`.`s`.`t`"
    with pytest.raises(IdentifierError):
        quote_qualified("main", "s", "t; DROP")


def test_sql_literal_types() -> None:
    assert sql_literal(None) == "NULL"
    assert sql_literal(True) == "TRUE"
    assert sql_literal(3) == "3"
    assert sql_literal(1.5) == "1.5D"
    assert sql_literal(dt.date(2024, 1, 2)) == "DATE '2024-01-02'"
    assert sql_string_literal("it's") == "'it\\'s'"
    with pytest.raises(ValueError):
        sql_literal(float("nan"))


@settings(max_examples=30, deadline=None)
@given(value=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30))
def test_string_literal_round_trips_through_spark(spark, value: str) -> None:
    """Any string, quotes and backslashes included, comes back from Spark SQL unchanged."""
    row = spark.sql(f"SELECT {sql_string_literal(value)} AS v").first()
    assert row["v"] == value


@settings(max_examples=20, deadline=None)
@given(name=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
                    max_size=20))
def test_quoted_column_names_select_exactly_that_column(spark, name: str) -> None:
    """A hostile column name, quoted, selects that one column and nothing else runs."""
    df = spark.createDataFrame([(1,)], ["x"]).withColumnRenamed("x", name)
    df.createOrReplaceTempView("hostile_names")
    assert spark.sql(f"SELECT {quote_identifier(name)} AS v FROM hostile_names").first()["v"] == 1
