"""Data contracts: each input table declares its columns, types and row rules; bad rows go to quarantine.

Why not a library: Databricks Labs DQX needs an authenticated ``WorkspaceClient`` even to build its engine,
so it cannot run on a laptop or in CI; pandera's PySpark backend reports errors per column but does not split
a DataFrame into passing and failing rows with a reason for each. This module does exactly that split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

REASON = "reason"
REASON_SEPARATOR = "; "


class ContractError(ValueError):
    """A table that cannot be processed at all (for example a required column is missing)."""


@dataclass(frozen=True)
class ColumnSpec:
    """A column the table must have, with its Spark SQL type; optional columns are added as nulls."""

    name: str
    dtype: str
    nullable: bool = False
    required: bool = True


@dataclass(frozen=True)
class RowRule:
    """A condition every row must meet; ``check`` builds the Column (true = row is fine)."""

    reason: str
    check: Callable[[], Column]


@dataclass(frozen=True)
class Contract:
    """What one input table must look like."""

    table: str
    columns: Sequence[ColumnSpec]
    rules: Sequence[RowRule] = field(default_factory=tuple)
    unique_key: Sequence[str] = field(default_factory=tuple)

    def schema_text(self) -> str:
        """The expected schema, as shown in errors."""
        return ", ".join(
            f"{c.name} {c.dtype}{'' if c.required else ' (optional)'}{'' if c.nullable else ' NOT NULL'}"
            for c in self.columns
        )

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class ContractResult:
    """The rows that passed (typed as the contract says) and those quarantined with a ``reason``."""

    valid: DataFrame
    quarantined: DataFrame
    rows_in: int
    rows_valid: int
    rows_quarantined: int


def check_columns(df: DataFrame, contract: Contract) -> None:
    """Fail fast, naming the table, the column and the expected schema, when a required column is missing."""
    present = set(df.columns)
    for spec in contract.columns:
        if spec.required and spec.name not in present:
            raise ContractError(
                f"table {contract.table!r} is missing required column {spec.name!r}; "
                f"expected schema: {contract.schema_text()}; found columns: {', '.join(df.columns) or '(none)'}"
            )


def _failure_reasons(df: DataFrame, contract: Contract) -> list[Column]:
    """One Column per check: the reason text when the row fails it, else null."""
    reasons: list[Column] = []
    for spec in contract.columns:
        raw, typed = F.col(f"`__raw_{spec.name}`"), F.col(f"`{spec.name}`")
        if df.schema[spec.name].dataType.simpleString() != spec.dtype:
            reasons.append(F.when(raw.isNotNull() & typed.isNull(), F.lit(f"{spec.name} is not a valid {spec.dtype}")))
        if not spec.nullable:
            reasons.append(F.when(raw.isNull(), F.lit(f"{spec.name} is null")))
    for rule in contract.rules:
        # A rule over a null or uncastable value is not evaluated: that row already has its reason.
        reasons.append(F.when(~F.coalesce(rule.check(), F.lit(True)), F.lit(rule.reason)))
    if contract.unique_key:
        key = [F.col(f"`{k}`") for k in contract.unique_key]
        copies = F.count(F.lit(1)).over(Window.partitionBy(*key))
        reasons.append(F.when(copies > 1, F.lit(f"duplicate key ({', '.join(contract.unique_key)})")))
    return reasons


def apply_contract(df: DataFrame, contract: Contract) -> ContractResult:
    """Split ``df`` into rows that meet the contract and quarantined rows with a ``reason``.

    Columns are cast to the contract's types (a value that does not cast is a failure, not a silent null);
    optional columns that are absent are added as nulls; extra columns are kept. Duplicate keys quarantine
    every copy, since nothing says which copy is right. Counts are exact: rows_in = valid + quarantined.
    """
    check_columns(df, contract)
    present = set(df.columns)
    for spec in contract.columns:
        if spec.name not in present:
            df = df.withColumn(spec.name, F.lit(None).cast(spec.dtype))
    staged = df.select(
        "*",
        *[F.col(f"`{c.name}`").alias(f"__raw_{c.name}") for c in contract.columns],
    )
    for spec in contract.columns:
        staged = staged.withColumn(spec.name, F.col(f"`__raw_{spec.name}`").try_cast(spec.dtype))
    failures = _failure_reasons(df, contract)
    flagged = staged.withColumn("__reasons", F.filter(F.array(*failures), lambda r: r.isNotNull()))
    raw_cols = [f"`__raw_{c.name}`" for c in contract.columns]
    original = [c for c in df.columns]
    valid = flagged.filter(F.size("__reasons") == 0).drop("__reasons", *[c.strip("`") for c in raw_cols])
    quarantined = flagged.filter(F.size("__reasons") > 0).select(
        *[F.col(f"`__raw_{c}`").cast(StringType()).alias(c) if c in contract.column_names
          else F.col(f"`{c}`").cast(StringType()).alias(c) for c in original],
        F.array_join("__reasons", REASON_SEPARATOR).alias(REASON),
    )
    rows_in = flagged.count()
    rows_quarantined = quarantined.count()
    return ContractResult(valid, quarantined, rows_in, rows_in - rows_quarantined, rows_quarantined)


def quarantine_rows(df: DataFrame, reason: Column | str) -> DataFrame:
    """Turn rows a task rejected (after the contract) into quarantine rows: every column as text plus ``reason``."""
    reason_col = F.lit(reason) if isinstance(reason, str) else reason
    return df.select(*[F.col(f"`{c}`").cast(StringType()).alias(c) for c in df.columns], reason_col.alias(REASON))
