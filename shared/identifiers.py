"""Validation and quoting of SQL identifiers and literals, so nothing reaches SQL unquoted."""

from __future__ import annotations

import re

# Unity Catalog allows more, but a strict subset keeps names portable between Parquet
# folders, Hive-style paths and UC, and cannot carry SQL or path syntax.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


class IdentifierError(ValueError):
    """A table, schema, catalog or column name that is not a safe identifier."""


def validate_name(name: str, what: str = "identifier") -> str:
    """Return ``name`` if it is a plain identifier (letters, digits, underscore), else raise."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise IdentifierError(
            f"invalid {what} {name!r}: use letters, digits and underscores, starting with a letter or underscore"
        )
    return name


def quote_identifier(name: str) -> str:
    """Quote any column name for Spark SQL with backticks, doubling embedded backticks.

    Column names come from users' files, so they may hold spaces, quotes or backticks; quoting makes
    them inert instead of rejecting them.
    """
    if not isinstance(name, str) or name == "":
        raise IdentifierError(f"empty or non-string column name: {name!r}")
    return "`" + name.replace("`", "``") + "`"


def quote_qualified(*parts: str) -> str:
    """Quote a dotted name such as catalog.schema.table, validating each part."""
    return ".".join(quote_identifier(validate_name(p, "name part")) for p in parts)


def sql_string_literal(value: str) -> str:
    """Escape a Python string as a Spark SQL string literal.

    Spark SQL treats backslash as an escape character inside literals, so both backslashes and single
    quotes are escaped; a hostile value therefore stays one literal.
    """
    if not isinstance(value, str):
        raise TypeError(f"expected str, got {type(value).__name__}")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_literal(value: object) -> str:
    """Render a Python scalar (str, bool, int, float, None, date) as a Spark SQL literal."""
    import datetime as _dt
    import math

    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"cannot render {value!r} as a SQL literal")
        return repr(value) + "D"
    if isinstance(value, _dt.datetime):
        return f"TIMESTAMP {sql_string_literal(value.isoformat(sep=' '))}"
    if isinstance(value, _dt.date):
        return f"DATE {sql_string_literal(value.isoformat())}"
    if isinstance(value, str):
        return sql_string_literal(value)
    raise TypeError(f"no SQL literal for {type(value).__name__}")
