"""Data contracts: each input table declares its columns, types and row rules; bad rows go to quarantine.

Why not a library: Databricks Labs DQX needs an authenticated ``WorkspaceClient`` even to build its engine,
so it cannot run on a laptop or in CI; pandera's PySpark backend reports errors per column but does not split
a DataFrame into passing and failing rows with a reason for each. This module does exactly that split.

Column names are the user's: every reference is quoted with ``quote_identifier``, the contract's working
columns live under a prefix no input column starts with, and the quarantine table's reason column is
``quarantine_reason`` (``quarantine_reason_2``, ``_3``... when the input already has a column of that name),
so an input column called ``reason`` survives into the quarantine table untouched.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from shared.casts import FLOAT_TYPES, PROBLEM_TYPE, cast_column, fixed_problem, no_problem, normalize_dtype, shown_value
from shared.identifiers import quote_identifier

REASON = "quarantine_reason"
REASON_SEPARATOR = "; "
# A column read_file adds to a CSV/JSON frame holding the raw text of rows that do not parse (wrong field count,
# broken JSON): its StructField metadata maps this key to the reason, so the contract quarantines those rows
# with that reason and the raw text, whatever the column is called, and drops the column from both outputs.
MALFORMED_ROW_METADATA = "ml_use_cases.malformed_row"
TOP_REASONS = 3
_ROW_OK, _ROW_BAD = "\x00ok", "\x00quarantined"  # row markers in the one counting aggregation


class ContractError(ValueError):
    """A table that cannot be processed at all (for example a required column is missing)."""


class QuarantineBudgetError(ContractError):
    """Too many rows of an input were quarantined (or none is left) for the task's output to mean anything."""


@dataclass(frozen=True)
class ColumnSpec:
    """A column the table must have, with its Spark SQL type; optional columns are added as nulls.

    ``id=True`` (dtype ``string`` only) declares an identifier: any non-blank text (trimmed, leading zeros
    kept), and whole numbers from typed sources as their digits. ``allow_non_finite`` (double/float only)
    lets NaN and infinities through; by default they are quarantined.
    """

    name: str
    dtype: str
    nullable: bool = False
    required: bool = True
    id: bool = False
    allow_non_finite: bool = False

    def __post_init__(self) -> None:
        quote_identifier(self.name)  # rejects empty and non-string names
        dtype = normalize_dtype(self.dtype)
        object.__setattr__(self, "dtype", dtype)
        if self.id and dtype != "string":
            raise ValueError(f"column {self.name!r}: id=True needs dtype 'string', got {dtype!r}")
        if self.allow_non_finite and dtype not in FLOAT_TYPES:
            raise ValueError(f"column {self.name!r}: allow_non_finite applies to double/float, not {dtype!r}")


@dataclass(frozen=True)
class RowRule:
    """A condition every row must meet; ``check`` builds the Column (true = row is fine).

    The check sees the contract's columns already typed, under their own names; a rule whose check is null
    (a null or unconvertible input, which already has its reason) does not fire.
    """

    reason: str
    check: Callable[[], Column]


@dataclass(frozen=True)
class Contract:
    """What one input table must look like."""

    table: str
    columns: Sequence[ColumnSpec]
    rules: Sequence[RowRule] = field(default_factory=tuple)
    unique_key: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        lowered = [n.lower() for n in names]
        if len(set(lowered)) != len(lowered):
            raise ValueError(f"contract {self.table!r}: column names repeat (case-insensitively): {names}")
        unknown = [k for k in self.unique_key if k not in names]
        if unknown:
            raise ValueError(f"contract {self.table!r}: unique_key columns {unknown} are not contract columns")

    def schema_text(self) -> str:
        """The expected schema, as shown in errors."""
        return ", ".join(
            f"{c.name} {c.dtype}{' (id)' if c.id else ''}{'' if c.required else ' (optional)'}"
            f"{'' if c.nullable else ' NOT NULL'}"
            for c in self.columns
        )

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class ContractResult:
    """The rows that passed (typed as the contract says) and those quarantined with a reason.

    ``reason_counts`` holds every failure kind (the reason without the offending value) with the number of
    rows it hit, most frequent first; a row with two failures counts under both.
    """

    valid: DataFrame
    quarantined: DataFrame
    rows_in: int
    rows_valid: int
    rows_quarantined: int
    reason_counts: tuple[tuple[str, int], ...] = ()
    reason_column: str = REASON

    @property
    def quarantined_fraction(self) -> float:
        return self.rows_quarantined / self.rows_in if self.rows_in else 0.0


def reason_column(columns: Sequence[str]) -> str:
    """The quarantine reason column's name for a table with ``columns``: never one of them (case-insensitively)."""
    taken = {c.lower() for c in columns}
    for candidate in itertools.chain([REASON], (f"{REASON}_{i}" for i in itertools.count(2))):
        if candidate.lower() not in taken:
            return candidate
    raise AssertionError("unreachable")


def working_prefix(columns: Sequence[str]) -> str:
    """A prefix no column in ``columns`` starts with (case-insensitively), for the contract's own columns."""
    lowered = [c.lower() for c in columns]
    for i in itertools.count():
        prefix = f"__contract{i or ''}_"
        if not any(c.startswith(prefix) for c in lowered):
            return prefix
    raise AssertionError("unreachable")


def _source_columns(df: DataFrame, contract: Contract) -> dict[str, str]:
    """Contract column -> input column: the exact name, else the one input column equal ignoring case."""
    present = df.columns
    found: dict[str, str] = {}
    for spec in contract.columns:
        if spec.name in present:
            found[spec.name] = spec.name
            continue
        folded = [c for c in present if c.lower() == spec.name.lower()]
        if len(folded) == 1:
            found[spec.name] = folded[0]
    return found


def check_columns(df: DataFrame, contract: Contract) -> None:
    """Fail fast, naming the table, the column and the expected schema, when a required column is missing."""
    sources = _source_columns(df, contract)
    found = input_columns(df)
    for spec in contract.columns:
        if spec.required and spec.name not in sources:
            raise ContractError(
                f"table {contract.table!r} is missing required column {spec.name!r}; "
                f"expected schema: {contract.schema_text()}; found columns: {', '.join(found) or '(none)'}"
            )


def input_columns(df: DataFrame) -> list[str]:
    """The input's own columns, without the flag a file reader adds for unparsable rows (for messages)."""
    flag = _malformed_column(df)
    return [c for c in df.columns if flag is None or c != flag[0]]


def _malformed_column(df: DataFrame) -> tuple[str, str] | None:
    """(column, reason) of the column flagging unparsable rows, if the reader added one."""
    for f in df.schema.fields:
        reason = f.metadata.get(MALFORMED_ROW_METADATA)
        if reason:
            return f.name, reason if isinstance(reason, str) else "row is malformed"
    return None


@dataclass(frozen=True)
class FlaggedRows:
    """The input typed and checked against a contract, one row per input row with its list of failures.

    Not yet split: ``split_flagged`` turns it into the valid and quarantined rows and their counts. Kept apart
    so a caller can materialise ``frame`` once (serverless has no cache) and split what it reads back.
    """

    frame: DataFrame
    output: tuple[str, ...]  # the valid rows' columns, in order
    raw_columns: tuple[tuple[str, str], ...]  # contract column -> working column holding its input as read
    failures: str  # working column: array of (kind, text) structs, empty when the row passed
    reason: str  # the quarantine table's reason column


@dataclass(frozen=True)
class _Typed:
    """The input with the contract's columns typed, plus the working columns the checks and the split need."""

    frame: DataFrame
    output: list[str]
    raw_name: dict[str, str]
    problem_name: dict[str, str]
    prefix: str
    malformed_reason: str | None


def _typed(df: DataFrame, contract: Contract) -> _Typed:
    check_columns(df, contract)
    sources = _source_columns(df, contract)
    flag = _malformed_column(df)
    malformed = flag[0] if flag else None
    input_columns = [c for c in df.columns if c != malformed]
    prefix = working_prefix(df.columns)
    raw_name = {spec.name: f"{prefix}raw{i}" for i, spec in enumerate(contract.columns)}
    problem_name = {spec.name: f"{prefix}problem{i}" for i, spec in enumerate(contract.columns)}
    spec_of_source = {src: name for name, src in sources.items()}
    specs = {spec.name: spec for spec in contract.columns}

    # Output column order: the input's, with contract spellings, then absent optional columns.
    output = [spec_of_source.get(c, c) for c in input_columns]
    output += [spec.name for spec in contract.columns if spec.name not in sources]

    typed: list[Column] = []
    extras: list[Column] = []
    for name in output:
        spec = specs.get(name)
        if spec is None:
            typed.append(F.col(quote_identifier(name)))
            continue
        if name in sources:
            raw = F.col(quote_identifier(sources[name]))
            source_type = df.schema[sources[name]].dataType
        else:
            raw, source_type = F.lit(None).cast(StringType()), StringType()
        cast = cast_column(raw, source_type, name, spec.dtype, is_id=spec.id, allow_non_finite=spec.allow_non_finite)
        missing_problem = fixed_problem(f"{name} is null") if not spec.nullable else no_problem()
        # A value with a problem is null to the rules, so only its own reason is reported (not also a rule's).
        typed.append(F.when(cast.problem.isNull(), cast.value).alias(name))
        extras.append(raw.alias(raw_name[name]))
        extras.append(F.when(cast.missing, missing_problem).otherwise(cast.problem).alias(problem_name[name]))
    if malformed is not None:
        extras.append(F.col(quote_identifier(malformed)).alias(f"{prefix}malformed"))
    return _Typed(df.select(*typed, *extras), output, raw_name, problem_name, prefix, flag[1] if flag else None)


def duplicate_keys(df: DataFrame, contract: Contract) -> DataFrame | None:
    """The typed keys of ``contract.unique_key`` that occur more than once in ``df``; None without a unique key.

    Only complete keys are compared: a null or unconvertible key part already has its own reason. One
    aggregation over the key columns alone, so the check shuffles keys, never whole rows.
    """
    if not contract.unique_key:
        return None
    key = [F.col(quote_identifier(k)) for k in contract.unique_key]
    complete = F.least(*[k.isNotNull() for k in key]) if len(key) > 1 else key[0].isNotNull()
    return (_typed(df, contract).frame.select(*key).filter(complete).groupBy(*key).count()
            .filter(F.col("count") > 1).select(*key))


def flag_rows(df: DataFrame, contract: Contract, duplicates: DataFrame | None = None) -> FlaggedRows:
    """Type ``df`` as ``contract`` says and list every row's failures (see ``apply_contract`` for the rules).

    ``duplicates`` is ``duplicate_keys(df, contract)``, computed already (e.g. staged by the caller, so the
    join against it can be a broadcast); by default it is computed lazily here.
    """
    typed = _typed(df, contract)
    staged, prefix = typed.frame, typed.prefix
    problems: list[Column] = []
    if typed.malformed_reason is not None:
        kind = typed.malformed_reason
        line = F.col(f"{prefix}malformed")
        problems.append(F.when(line.isNotNull(), F.struct(
            F.lit(kind).alias("kind"), F.concat(F.lit(kind + ": "), shown_value(line)).alias("text"))))
    problems += [F.col(typed.problem_name[spec.name]) for spec in contract.columns]
    for rule in contract.rules:
        problems.append(F.when(~F.coalesce(rule.check(), F.lit(True)), fixed_problem(rule.reason)))
    if contract.unique_key:
        repeated = duplicates if duplicates is not None else duplicate_keys(df, contract)
        assert repeated is not None
        marker = f"{prefix}duplicate"
        staged = staged.join(repeated.select(*[F.col(quote_identifier(k)) for k in contract.unique_key],
                                             F.lit(True).alias(marker)),
                             on=list(contract.unique_key), how="left")
        problems.append(F.when(F.col(marker).isNotNull(),
                               fixed_problem(f"duplicate key ({', '.join(contract.unique_key)})")))
    failures = f"{prefix}failures"
    # A concat of one-or-none arrays rather than filtering an array with a lambda: compiled, no per-row closure.
    none = F.array().cast(f"array<{PROBLEM_TYPE}>")
    listed = F.concat(*[F.when(p.isNotNull(), F.array(p)).otherwise(none) for p in problems]) if problems else none
    specs = [spec.name for spec in contract.columns]
    bad = F.size(failures) > 0
    # Only what the split needs: the typed output, and the input as read for rows that go to quarantine (null on
    # passing rows, so a staged copy costs little more than the typed columns).
    frame = (staged.withColumn(failures, listed)
             .select(*[F.col(quote_identifier(c)) for c in typed.output],
                     *[F.when(bad, F.col(typed.raw_name[c])).alias(typed.raw_name[c]) for c in specs],
                     F.col(failures)))
    return FlaggedRows(frame, tuple(typed.output), tuple((c, typed.raw_name[c]) for c in specs), failures,
                       reason_column(typed.output))


def split_flagged(flagged: FlaggedRows, frame: DataFrame | None = None) -> ContractResult:
    """Split flagged rows into valid and quarantined rows and count them (one aggregation).

    ``frame`` is ``flagged.frame`` as materialised by the caller (a staging table read back), else the lazy
    frame itself is used, and every use recomputes it from the input.
    """
    rows = flagged.frame if frame is None else frame
    raw = dict(flagged.raw_columns)
    ok = F.size(flagged.failures) == 0
    valid = rows.filter(ok).select(*[F.col(quote_identifier(c)) for c in flagged.output])
    quarantined = rows.filter(~ok).select(
        *[(F.col(raw[c]) if c in raw else F.col(quote_identifier(c))).cast(StringType()).alias(c)
          for c in flagged.output],
        F.array_join(F.col(flagged.failures)["text"], REASON_SEPARATOR).alias(flagged.reason),
    )
    rows_in, rows_quarantined, reason_counts = _count(rows, flagged.failures)
    return ContractResult(valid, quarantined, rows_in, rows_in - rows_quarantined, rows_quarantined,
                          reason_counts, flagged.reason)


def apply_contract(df: DataFrame, contract: Contract) -> ContractResult:
    """Split ``df`` into rows that meet the contract and quarantined rows with a reason.

    Columns are cast to the contract's types by ``shared.casts`` (a value that does not convert exactly is a
    failure, never a silent null or a truncation); input columns match contract columns exactly or, failing
    that, ignoring case (the output uses the contract's spelling); optional columns that are absent are added
    as nulls; extra columns are kept. Duplicate keys quarantine every copy, since nothing says which copy is
    right (a key with a null part is not compared: that part already has its reason). The quarantine rows
    hold every input column as text plus the reasons, in contract order.

    Counting runs one aggregation (rows in, rows quarantined, rows per failure kind) over the flagged rows;
    the returned frames are lazy and recompute from ``df`` when used (``TaskContext.read_with_contract``
    stages the flagged rows once instead). rows_in = valid + quarantined.
    """
    return split_flagged(flag_rows(df, contract))


def _count(flagged: DataFrame, failures: str) -> tuple[int, int, tuple[tuple[str, int], ...]]:
    """One aggregation: a marker per row (passed or quarantined) plus one entry per failure kind, counted.

    The result has at most 2 + (number of distinct failure kinds) rows, bounded by the contract's size, so
    collecting it is safe whatever the table's size.
    """
    marker = F.when(F.size(failures) == 0, F.lit(_ROW_OK)).otherwise(F.lit(_ROW_BAD))
    kinds = F.col(failures)["kind"]  # the field of every struct in the array, compiled (no lambda)
    counts = {r[0]: r[1] for r in flagged.select(F.explode(F.concat(F.array(marker), kinds)).alias("k"))
              .groupBy("k").count().collect()}
    ok, bad = counts.pop(_ROW_OK, 0), counts.pop(_ROW_BAD, 0)
    ranked = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return ok + bad, bad, ranked


def budget_message(result: ContractResult, table: str, max_fraction: float) -> str | None:
    """Why ``result`` breaks the quarantine budget (one line), or None when it does not.

    Broken when the quarantined share exceeds ``max_fraction`` or when no valid row is left (an empty or
    header-only input included).
    """
    if result.rows_in == 0:
        return f"input {table}: no rows to process (the input is empty or has only a header)"
    share = result.quarantined_fraction
    if share <= max_fraction and result.rows_valid > 0:
        return None
    top = "; ".join(f"{kind!r} x {count:,}" for kind, count in result.reason_counts[:TOP_REASONS])
    more = len(result.reason_counts) - TOP_REASONS
    if more > 0:
        top += f"; and {more} more reason{'s' if more > 1 else ''}"
    head = (f"input {table}: no valid rows left, all {result.rows_in:,} rows quarantined" if result.rows_valid == 0
            else f"input {table}: {share:.1%} of {result.rows_in:,} rows quarantined "
                 f"(limit {max_fraction * 100:g}%)")
    return f"{head}: {top}"


def check_quarantine_budget(result: ContractResult, table: str, max_fraction: float, where: str = "") -> None:
    """Raise QuarantineBudgetError (one line: table, share, top reasons with counts) when the budget is broken.

    ``where`` is appended to the message, e.g. where the input came from and where its quarantine was written.
    """
    if not 0.0 <= max_fraction <= 1.0:
        raise ValueError(f"max_quarantine_fraction must be within [0, 1], got {max_fraction}")
    message = budget_message(result, table, max_fraction)
    if message is not None:
        raise QuarantineBudgetError(f"{message}{f' ({where})' if where else ''}")


def quarantine_rows(df: DataFrame, reason: Column | str) -> DataFrame:
    """Turn rows a task rejected (after the contract) into quarantine rows: every column as text plus the reason.

    The reason column is ``reason_column(df.columns)``: ``quarantine_reason`` unless ``df`` has one already.
    """
    reason_col = F.lit(reason) if isinstance(reason, str) else reason
    return df.select(*[F.col(quote_identifier(c)).cast(StringType()).alias(c) for c in df.columns],
                     reason_col.alias(reason_column(df.columns)))
