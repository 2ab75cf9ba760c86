"""Users' files as DataFrames for a contract to check: CSV (RFC 4180), JSON and Parquet.

CSV files are read as text, never inferred, so the contract decides every type with one set of rules:

- header: the first record names the columns; surrounding whitespace and a UTF-8 BOM are stripped, a blank
  name becomes ``_c<i>`` and names that repeat (ignoring case) get their position appended, as Spark does.
- delimiter: detected from the header line among ``,`` ``;`` tab and ``|`` (the one occurring most often
  outside quotes; ``,`` on a tie or when none occurs), or given with ``delimiter=``.
- quoting (RFC 4180): fields may be quoted with ``"``, a ``""`` inside a quoted field is one ``"``, and a
  quoted field may span lines (GeoJSON, addresses).
- encoding: UTF-8, with or without a BOM.
- empty fields (``a,,b`` and ``a,"",b``) are null.
- a line of only whitespace (spaces, tabs, a stray ``\r``) is a blank line and skipped, as readers skip blank lines.
- a row whose field count differs from the header's is kept, flagged in a column marked with
  ``MALFORMED_ROW_METADATA``; the contract quarantines it with the raw line as its reason.

A path may be a file or a folder of part files (``part-*.csv`` as Spark writes them); the format comes from
the suffix (``.csv``/``.tsv``, ``.json``/``.jsonl``/``.ndjson``, anything else Parquet).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from shared.contracts import MALFORMED_ROW_METADATA
from shared.identifiers import quote_identifier

CSV_SUFFIXES = (".csv", ".tsv")
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
DELIMITERS = (",", ";", "\t", "|")
MALFORMED_COLUMN = "_malformed_row"
UTF8_BOM = "\ufeff"


@dataclass(frozen=True)
class CsvDialect:
    """How one CSV file is laid out: its delimiter and its column names as the DataFrame will have them."""

    delimiter: str
    columns: tuple[str, ...]


def data_files(path: str | Path) -> list[Path]:
    """The file itself, or a folder's visible files (Spark's ``_SUCCESS`` and ``.crc`` files skipped), sorted."""
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"file {path} does not exist")
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(("_", ".")))


def file_format(path: str | Path) -> str:
    """``csv``, ``json`` or ``parquet``: from the path's suffix, or from the suffixes of a folder's files."""
    names = [Path(path).name.lower()] if Path(path).is_file() or Path(path).suffix else []
    names = names or [p.name.lower() for p in data_files(path)]
    if names and all(n.endswith(CSV_SUFFIXES) for n in names):
        return "csv"
    if names and all(n.endswith(JSON_SUFFIXES) for n in names):
        return "json"
    return "parquet"


def detect_delimiter(line: str) -> str:
    """The candidate delimiter occurring most often outside double quotes in ``line`` (``,`` if none or a tie)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    return best if counts[best] > 0 else ","


def safe_header(names: list[str]) -> list[str]:
    """Column names from a header record: trimmed, blank -> ``_c<i>``, repeats (ignoring case) -> ``<name><i>``."""
    cleaned = [n.strip().lstrip(UTF8_BOM).strip() for n in names]
    cleaned = [n if n else f"_c{i}" for i, n in enumerate(cleaned)]
    lowered = [n.lower() for n in cleaned]
    return [f"{n}{i}" if lowered.count(n.lower()) > 1 else n for i, n in enumerate(cleaned)]


def sniff_csv(path: str | Path, delimiter: str | None = None) -> CsvDialect:
    """Read only the header record of the first file under ``path``: its delimiter and its column names."""
    files = data_files(path)
    if not files:
        raise FileNotFoundError(f"folder {path} has no data files")
    with files[0].open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        first_line = handle.readline()
        handle.seek(0)
        sep = delimiter or detect_delimiter(first_line)
        header = next(csv.reader(handle, delimiter=sep, quotechar='"', doublequote=True, strict=False), [])
    return CsvDialect(sep, tuple(safe_header(header)))


def read_csv(spark: SparkSession, path: str, delimiter: str | None = None) -> DataFrame:
    """A CSV file or folder as all-text columns named by its header (see the module docstring for the dialect)."""
    dialect = sniff_csv(path, delimiter)
    if not dialect.columns:  # an empty file: no header, no rows; the contract names the missing columns
        return spark.createDataFrame([], StructType([]))
    malformed = MALFORMED_COLUMN
    while malformed.lower() in {c.lower() for c in dialect.columns}:
        malformed = f"_{malformed}"
    schema = StructType(
        [StructField(name, StringType(), True) for name in dialect.columns]
        + [StructField(malformed, StringType(), True, metadata={
            MALFORMED_ROW_METADATA: f"row does not have the header's {len(dialect.columns)} fields"})]
    )
    rows = (
        spark.read.schema(schema)
        .option("header", True)
        .option("enforceSchema", True)  # names come from our own header parse (trimmed, de-duplicated)
        .option("sep", dialect.delimiter)
        .option("quote", '"')
        .option("escape", '"')  # RFC 4180: "" inside a quoted field is one "
        .option("multiLine", True)  # quoted fields may span lines; costs splitting a file across tasks
        .option("encoding", "UTF-8")
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", malformed)
        .csv(path)
    )
    raw = F.col(quote_identifier(malformed))
    # Spark refuses a query of a raw CSV that reads its corrupt-record column alone (as a contract's row count
    # does when no column has a check of its own, e.g. only nullable text): tie it to the first data column with
    # an always-empty suffix, so every query of this frame reads a data column too.
    guard = F.substring(F.coalesce(F.col(quote_identifier(dialect.columns[0])), F.lit("")), 1, 0)
    tied = F.when(raw.isNotNull(), F.concat(raw, guard)).alias(malformed, metadata=schema[malformed].metadata)
    rows = rows.select(*[F.col(quote_identifier(c)) for c in dialect.columns], tied)
    if len(dialect.columns) < 2:  # one column: a line of spaces is one (blank) field, never a malformed row
        return rows
    # A line holding only whitespace, such as the lone "\r" a blank line leaves in a file with mixed line endings,
    # is a blank line, which readers skip; Spark's reader keeps it as a one-field malformed row.
    blank = F.col(quote_identifier(malformed)).isNotNull() & (
        F.regexp_replace(F.col(quote_identifier(malformed)), r"\s+", "") == "")
    for name in dialect.columns[1:]:
        blank &= F.col(quote_identifier(name)).isNull()
    return rows.filter(~blank)


def _is_json_lines(first: Path) -> bool:
    """True when the file's first non-blank line is a whole JSON value (JSON Lines), false for one document."""
    with first.open(encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            if line.strip():
                if line.lstrip().startswith("["):
                    return False
                try:
                    json.loads(line)
                except ValueError:
                    return False
                return True
    return True


def read_json(spark: SparkSession, path: str) -> DataFrame:
    """JSON Lines, or one JSON document (an array of objects or one object) per file; broken records flagged."""
    files = data_files(path)
    if not files:
        raise FileNotFoundError(f"folder {path} has no data files")
    df = (spark.read.option("multiLine", not _is_json_lines(files[0]))
          .option("columnNameOfCorruptRecord", MALFORMED_COLUMN).json(path))
    if MALFORMED_COLUMN in df.columns:
        df = df.withMetadata(MALFORMED_COLUMN, {MALFORMED_ROW_METADATA: "row is not valid JSON"})
    return df


def read_file(spark: SparkSession, path: str, *, delimiter: str | None = None) -> DataFrame:
    """Read a user's file or folder: CSV (all columns as text for the contract to cast), JSON or Parquet.

    Raises FileNotFoundError when the path does not exist.
    """
    kind = file_format(path)
    if kind == "csv":
        return read_csv(spark, path, delimiter)
    if kind == "json":
        return read_json(spark, path)
    if not data_files(path):
        raise FileNotFoundError(f"folder {path} has no data files")
    return spark.read.parquet(path)
