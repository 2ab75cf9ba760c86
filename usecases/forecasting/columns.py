"""Column references for the user-named series key columns.

Key column names come from users' files (``store.id``, ``SKU code``): Spark reads a dot in a plain string column
name as a struct field, so every reference here is quoted. Joins on a list of names match names exactly and
need no quoting.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from shared.identifiers import quote_identifier


def col(name: str) -> Column:
    """A column by its exact name, whatever characters it holds."""
    return F.col(quote_identifier(name))


def key_columns(keys: Sequence[str]) -> list[Column]:
    """The key columns, quoted, in order (for select, groupBy, orderBy, window partitions)."""
    return [col(k) for k in keys]


def key_schema(keys: Sequence[str]) -> str:
    """DDL of the key columns as text (``applyInPandas`` output schemas, frames built on the driver)."""
    return ", ".join(f"{quote_identifier(k)} string" for k in keys)


def keys_as_configured(df: DataFrame, keys: Sequence[str]) -> DataFrame:
    """``df`` with its key columns named exactly as configured.

    Spark matches column names regardless of case, pandas does not: a table an earlier run wrote with
    ``store_id`` keeps that name when this run, configured with ``Store_ID``, replaces its rows, and the pandas
    code reading it back would not find the key."""
    wanted = {k.lower(): k for k in keys}
    names = [wanted.get(c.lower(), c) for c in df.columns]
    return df if names == df.columns else df.toDF(*names)
