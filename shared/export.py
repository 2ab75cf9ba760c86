"""Write a table's rows to one CSV (RFC 4180) or Parquet file, without collecting the table on the driver.

Spark writes the rows as one Parquet part file (``coalesce(1)``: one task writes everything, so this suits
tables up to a few GB; for more, read the folder ``usecases path`` prints). Parquet is moved into place as is;
CSV is streamed from that part batch by batch. The file appears atomically under its final name.

CSV: a header row, ``,`` separators, CRLF line ends, fields quoted when they hold ``"``, ``,``, CR or LF (quotes
doubled) and empty strings written as ``""`` so they differ from nulls (an empty field; in a one-column file a
null is written as ``""`` too, since an empty line is no row to most readers). Values use Spark's text
form (``2024-01-31``, ``2024-01-31 08:00:00``, ``true``); arrays, maps and structs are JSON, binary is base64.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, BinaryType, MapType, StructType

from shared.identifiers import quote_identifier
from shared.spark import session_conf

EXPORT_SUFFIXES = (".csv", ".parquet")
CSV_BATCH_ROWS = 65_536
# Microsecond timestamps (not Spark's legacy INT96) so pandas, duckdb and polars read them as timestamps.
PARQUET_SETTINGS = {"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS"}


class ExportError(ValueError):
    """A destination that cannot be written (unknown suffix, existing file, missing folder)."""


def export_format(path: Path) -> str:
    """``csv`` or ``parquet`` from the file's suffix."""
    suffix = path.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ExportError(f"{path}: use a .csv or .parquet file name (got {suffix or 'no suffix'!r})")
    return suffix[1:]


def as_text_columns(df: DataFrame) -> DataFrame:
    """Every column as Spark's text form: nested types as JSON, binary as base64, the rest cast to string."""
    columns = []
    for field in df.schema.fields:
        col = F.col(quote_identifier(field.name))
        if isinstance(field.dataType, ArrayType | MapType | StructType):
            col = F.to_json(col)
        elif isinstance(field.dataType, BinaryType):
            col = F.base64(col)
        else:
            col = col.cast("string")
        columns.append(col.alias(field.name))
    return df.select(*columns)


def csv_lines(batch: object) -> str:
    """RFC 4180 lines (CRLF-terminated) of a pyarrow RecordBatch whose columns are all strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fields = []
    for column in batch.columns:  # type: ignore[attr-defined]
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
        needs_quotes = pc.or_(pc.match_substring_regex(column, r'[",\r\n]'), pc.equal(pc.utf8_length(column), 0))
        fields.append(pc.fill_null(pc.if_else(needs_quotes, quoted, column), ""))
    if not fields:
        return ""
    if len(fields) == 1:  # a lone empty field would be a blank line, which readers skip: keep the row as ""
        rows = pc.if_else(pc.equal(pc.utf8_length(fields[0]), 0), '""', fields[0])
    else:
        rows = pc.binary_join_element_wise(*fields, pa.scalar(","))
    return "".join(f"{row}\r\n" for row in rows.to_pylist())


def csv_header(names: list[str]) -> str:
    def field(name: str) -> str:
        return f'"{name.replace(chr(34), chr(34) * 2)}"' if any(c in name for c in '",\r\n') or not name else name

    return ",".join(field(n) for n in names) + "\r\n"


def export_dataframe(df: DataFrame, path: str | os.PathLike[str], overwrite: bool = False) -> int:
    """Write ``df`` to ``path`` (.csv or .parquet) as one file; return the number of rows written."""
    import pyarrow.parquet as pq

    target = Path(path).expanduser().resolve()
    fmt = export_format(target)
    if target.is_dir():
        raise ExportError(f"{target} is a folder; give a file name")
    if target.exists() and not overwrite:
        raise ExportError(f"{target} exists; pass --overwrite to replace it")
    if not target.parent.is_dir():
        raise ExportError(f"folder {target.parent} does not exist")
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        rows = as_text_columns(df) if fmt == "csv" else df
        with session_conf(df.sparkSession, PARQUET_SETTINGS):
            rows.coalesce(1).write.mode("error").parquet(str(staging))
        parts = sorted(p for p in staging.iterdir() if p.suffix == ".parquet" and not p.name.startswith(("_", ".")))
        if len(parts) != 1:
            raise ExportError(f"expected one Parquet part in {staging}, found {len(parts)}")
        count = pq.read_metadata(parts[0]).num_rows
        if fmt == "parquet":
            os.replace(parts[0], target)
            return count
        text_file = staging / "export.csv"
        with pq.ParquetFile(parts[0]) as part, open(text_file, "w", encoding="utf-8", newline="") as out:
            out.write(csv_header(df.columns))
            for batch in part.iter_batches(batch_size=CSV_BATCH_ROWS):
                out.write(csv_lines(batch))
        os.replace(text_file, target)
        return count
    finally:
        shutil.rmtree(staging, ignore_errors=True)
