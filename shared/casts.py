"""Strict, lossless casts of one column to a contract type, as pure Column expressions.

The same rules apply whatever the source: text from a CSV file or typed values from Parquet, Delta or JSON.
A value either converts without losing anything (``"54.0"`` and the double 54.0 into an int column are 54)
or becomes a problem with a reason (``count is not a whole number: 3.7``); nothing is silently truncated,
rounded or nulled. Everything is ``try_cast``/``rlike`` so it runs under ANSI mode (invalid casts raise
there) and under Spark Connect (no UDF).

Accepted text (surrounding whitespace, including tabs and no-break spaces, is ignored; blank text is null):

- integers (tinyint, smallint, int, bigint): ``54``, ``+54``, ``-54``, ``54.0``/``54.`` (a zero fraction),
  exponent forms with a whole value (``1.5e3``); ``3.7`` is not a whole number; overflow is out of range.
  Exponent forms are judged to 18 decimal places (and must agree with the double), so only a contrived
  text such as ``1.0000000000000000000001e3`` would pass as whole.
- double and float: decimal and exponent forms (``-1.5``, ``.5``, ``1e-3``); ``inf``, ``Infinity`` and
  ``NaN`` are non-finite and rejected unless the column allows them; no thousands separators or decimal commas.
- boolean: ``true``/``false`` (any case), ``1``/``0``.
- date: ``YYYY-MM-DD`` or ``YYYY/MM/DD``, or an ISO datetime (below), whose date part is kept as written.
- timestamp: ``YYYY-MM-DD[(T| )HH:MM[:SS[.f...]]][Z|+HH:MM|-HH:MM]`` (slashes allowed in the date part);
  without an offset the session time zone applies (UTC locally); a date alone is midnight.
- ids (``ColumnSpec(..., id=True)``): any non-blank text, trimmed, leading zeros kept; whole numbers from
  typed sources as digits (bigint 123 -> ``"123"``, double 54.0 -> ``"54"``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    FractionalType,
    IntegralType,
    NullType,
    NumericType,
    StringType,
    TimestampNTZType,
    TimestampType,
)

INTEGER_TYPES = ("tinyint", "smallint", "int", "bigint")
FLOAT_TYPES = ("float", "double")
DTYPE_ALIASES = {"integer": "int", "long": "bigint", "short": "smallint", "byte": "tinyint", "bool": "boolean"}
SHOWN_MAX_CHARS = 80  # a value quoted in a reason is cut to this length so reasons stay readable
PROBLEM_TYPE = "struct<kind:string,text:string>"

_BLANK = r"^[\s\u00A0\uFEFF]+|[\s\u00A0\uFEFF]+$"
_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_PLAIN_WHOLE = r"^[+-]?[0-9]+(\.0*)?$"
_EXPONENT = r"[eE]"
_NON_FINITE = r"(?i)^[+-]?(inf|infinity|nan)$"
_SLASH_DATE = r"^([0-9]{4})/([0-9]{2})/([0-9]{2})"
_NO_SECONDS = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2})(Z|[+-][0-9]{2}:[0-9]{2})?$"  # Spark needs :SS
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATETIME = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
             r"(Z|[+-][0-9]{2}:[0-9]{2})?)?$")


def normalize_dtype(dtype: str) -> str:
    """Lower-case Spark SQL type name with common aliases folded (``integer`` -> ``int``, ``long`` -> ``bigint``)."""
    text = " ".join(dtype.strip().lower().split())
    return DTYPE_ALIASES.get(text, text)


@dataclass(frozen=True)
class Cast:
    """One column's conversion: the typed value, whether the input counts as missing, and the problem if any.

    ``problem`` is null or a ``struct<kind string, text string>``: ``kind`` is the reason without the value
    (stable, so reasons can be counted), ``text`` is the reason with the offending value.
    """

    value: Column
    missing: Column
    problem: Column


def no_problem() -> Column:
    """A null problem of the problem struct's type (a bare null would not type an array of problems)."""
    return F.lit(None).cast(PROBLEM_TYPE)


def problem(name: str, checks: list[tuple[Column, str]], shown: Column) -> Column:
    """The first failing check as ``struct(kind, text)`` (``"<name> <what>"`` and ``"<name> <what>: <value>"``)."""
    expr: Column | None = None
    for condition, what in checks:
        kind = f"{name} {what}"
        entry = F.struct(F.lit(kind).alias("kind"), F.concat(F.lit(kind + ": "), shown).alias("text"))
        expr = F.when(condition, entry) if expr is None else expr.when(condition, entry)
    return expr if expr is not None else no_problem()


def fixed_problem(kind: str) -> Column:
    """A problem without a value in its text (``x is null``, a rule's reason, a duplicate key)."""
    return F.struct(F.lit(kind).alias("kind"), F.lit(kind).alias("text"))


def shown_value(raw: Column) -> Column:
    """How a rejected value appears in a reason: its text, cut to SHOWN_MAX_CHARS characters."""
    text = raw.cast("string")
    return F.when(F.length(text) > SHOWN_MAX_CHARS,
                  F.concat(F.substring(text, 1, SHOWN_MAX_CHARS - 3), F.lit("..."))).otherwise(text)


def trimmed(raw: Column) -> Column:
    """Text without surrounding whitespace (spaces, tabs, newlines, no-break spaces, stray BOMs)."""
    return F.regexp_replace(raw, _BLANK, "")


def cast_column(raw: Column, source: DataType, name: str, dtype: str, *, is_id: bool = False,
                allow_non_finite: bool = False) -> Cast:
    """Convert ``raw`` (of Spark type ``source``) to ``dtype`` under the module's rules."""
    dtype = normalize_dtype(dtype)
    shown = shown_value(raw)
    if isinstance(source, NullType):
        return Cast(F.lit(None).cast(dtype), F.lit(True), no_problem())
    if is_id:
        return _to_id(raw, source, name, shown)
    if dtype == "string":
        return Cast(raw.cast("string"), raw.isNull(), no_problem())
    if isinstance(source, StringType):
        text = trimmed(raw)
        missing = raw.isNull() | (text == "")
        value, prob = _from_text(text, name, dtype, allow_non_finite, shown)
    else:
        missing = raw.isNull()
        value, prob = _from_typed(raw, source, name, dtype, allow_non_finite, shown)
    return Cast(value, missing, prob)


def _non_finite(value: Column) -> Column:
    return F.isnan(value) | (F.abs(value) == F.lit(float("inf")))


def _from_text(text: Column, name: str, dtype: str, allow_non_finite: bool,
               shown: Column) -> tuple[Column, Column]:
    number, non_finite = text.rlike(_NUMBER), text.rlike(_NON_FINITE)
    if dtype in INTEGER_TYPES:
        plain_whole = text.rlike(_PLAIN_WHOLE)
        # Plain forms are judged on their digits. Exponent forms go through decimal(38,18), which rounds past
        # 18 decimal places, so the double must agree too (1.4e-45 is not 0): exact up to that rounding.
        exact = text.try_cast("decimal(38,18)")
        with_exponent = number & text.rlike(_EXPONENT)
        exponent_whole = (exact % 1 == 0) & (exact.cast("double") == text.try_cast("double"))
        value = (F.when(plain_whole, F.regexp_extract(text, r"^([+-]?[0-9]+)", 1).try_cast(dtype))
                 .when(with_exponent & exponent_whole, exact.try_cast(dtype)))
        fractional = (number & ~with_exponent & ~plain_whole) | (with_exponent & ~exponent_whole)
        return value, problem(name, [
            (~number & ~non_finite, "is not a number"),
            (non_finite | fractional, "is not a whole number"),
            (value.isNull(), f"is out of range for {dtype}"),
        ], shown)
    if dtype in FLOAT_TYPES:
        value = F.when(number | non_finite, text.try_cast(dtype))
        checks = [(~number & ~non_finite, "is not a number"),
                  (value.isNull() | (number & _non_finite(value)), f"is out of range for {dtype}")]  # 1e999
        if not allow_non_finite:
            checks.append((_non_finite(value), "is not a finite number"))
        return value, problem(name, checks, shown)
    if dtype == "boolean":
        lowered = F.lower(text)
        value = F.when(lowered.isin("true", "1"), F.lit(True)).when(lowered.isin("false", "0"), F.lit(False))
        return value, problem(name, [(value.isNull(), "is not a valid boolean")], shown)
    if dtype in ("date", "timestamp"):
        iso = F.regexp_replace(F.regexp_replace(text, _SLASH_DATE, "$1-$2-$3"), _NO_SECONDS, "$1:00$2")
        stamp = F.when(iso.rlike(_DATETIME), iso.try_cast("timestamp"))
        if dtype == "date":
            value = F.when(iso.rlike(_DATE), iso.try_cast("date")).when(
                stamp.isNotNull(), F.substring(iso, 1, 10).try_cast("date"))
        else:
            value = stamp
        return value, problem(name, [(value.isNull(), f"is not a valid {dtype}")], shown)
    value = text.try_cast(dtype)
    return value, problem(name, [(value.isNull(), f"is not a valid {dtype}")], shown)


def _from_typed(raw: Column, source: DataType, name: str, dtype: str, allow_non_finite: bool,
                shown: Column) -> tuple[Column, Column]:
    floating = isinstance(source, (FloatType, DoubleType))
    if dtype in INTEGER_TYPES:
        if isinstance(source, BooleanType):  # a typed is_fraud flag: true/false are 1/0, nothing lost
            return raw.cast(dtype), no_problem()
        if not isinstance(source, NumericType):
            return F.lit(None).cast(dtype), problem(name, [(F.lit(True), "is not a number")], shown)
        value = raw.try_cast(dtype)
        checks = []
        if isinstance(source, FractionalType):  # 3.7 and -0.4 would truncate: reject them before casting
            whole = raw % 1 == 0
            value = F.when(whole, value)
            checks.append((~whole, "is not a whole number"))
        checks.append((value.isNull(), f"is out of range for {dtype}"))
        return value, problem(name, checks, shown)
    if dtype in FLOAT_TYPES:
        if not isinstance(source, NumericType):
            return F.lit(None).cast(dtype), problem(name, [(F.lit(True), "is not a number")], shown)
        value = raw.try_cast(dtype)
        overflow = _non_finite(value) & ~_non_finite(raw) if floating else F.lit(False)  # double 1e39 -> float
        checks = [(value.isNull() | overflow, f"is out of range for {dtype}")]
        if not allow_non_finite:
            checks.append((_non_finite(value), "is not a finite number"))
        return value, problem(name, checks, shown)
    if dtype == "boolean":
        if isinstance(source, BooleanType):
            return raw, no_problem()
        if isinstance(source, NumericType):
            value = F.when(raw == 1, F.lit(True)).when(raw == 0, F.lit(False))
            return value, problem(name, [(value.isNull(), "is not a valid boolean")], shown)
        return F.lit(None).cast("boolean"), problem(name, [(F.lit(True), "is not a valid boolean")], shown)
    if dtype in ("date", "timestamp"):
        if isinstance(source, (DateType, TimestampType, TimestampNTZType)):
            return raw.cast(dtype), no_problem()
        return F.lit(None).cast(dtype), problem(name, [(F.lit(True), f"is not a valid {dtype}")], shown)
    value = raw.try_cast(dtype)
    return value, problem(name, [(value.isNull(), f"is not a valid {dtype}")], shown)


def _to_id(raw: Column, source: DataType, name: str, shown: Column) -> Cast:
    """Identifiers are text: trimmed strings as they are, whole numbers as their digits."""
    if isinstance(source, StringType):
        text = trimmed(raw)
        return Cast(text, raw.isNull() | (text == ""), no_problem())
    if isinstance(source, IntegralType):
        return Cast(raw.cast("string"), raw.isNull(), no_problem())
    if isinstance(source, (FractionalType, DecimalType)):
        whole = raw % 1 == 0  # false for NaN and infinities too
        digits = F.when(whole, raw.try_cast("decimal(38,0)").cast("string"))
        return Cast(digits, raw.isNull(), problem(name, [
            (~whole, "is not a whole number"), (digits.isNull(), "is out of range for an id")], shown))
    return Cast(raw.cast("string"), raw.isNull(), no_problem())
