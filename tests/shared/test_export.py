"""One-file exports: CSV in Spark's text form (RFC 4180 quoting, nulls apart from empty strings) and Parquet."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.export import ExportError, csv_header, csv_lines, export_dataframe


def test_every_type_has_a_text_form(spark, tmp_path: Path) -> None:
    df = spark.createDataFrame(
        [(1, True, dt.date(2024, 1, 31), dt.datetime(2024, 1, 31, 8, 30), [1, 2], {"k": 1.5}, (7, "x"),
          bytearray(b"\x00\xff"), 0.1)],
        "id long, ok boolean, day date, at timestamp, xs array<int>, m map<string,double>, "
        "s struct<a:int,b:string>, raw binary, f double",
    )
    target = tmp_path / "types.csv"
    assert export_dataframe(df, target) == 1
    header, row = list(csv.reader(io.StringIO(target.read_text(), newline="")))
    assert header == ["id", "ok", "day", "at", "xs", "m", "s", "raw", "f"]
    assert row == ["1", "true", "2024-01-31", "2024-01-31 08:30:00", "[1,2]", '{"k":1.5}', '{"a":7,"b":"x"}',
                   "AP8=", "0.1"]


def test_parquet_keeps_types_and_timestamps_read_as_timestamps(spark, tmp_path: Path) -> None:
    df = spark.createDataFrame([(1, dt.datetime(2024, 1, 31, 8, 30), [1, 2])], "id long, at timestamp, xs array<int>")
    target = tmp_path / "typed.parquet"
    assert export_dataframe(df.repartition(3), target) == 1
    frame = pd.read_parquet(target)
    assert frame["at"].tolist() == [pd.Timestamp("2024-01-31 08:30:00", tz="UTC")] and list(frame["xs"][0]) == [1, 2]


def test_an_empty_table_exports_its_header_or_schema(spark, tmp_path: Path) -> None:
    empty = spark.createDataFrame([], "id long, name string")
    assert export_dataframe(empty, tmp_path / "empty.csv") == 0
    assert (tmp_path / "empty.csv").read_bytes() == b"id,name\r\n"
    assert export_dataframe(empty, tmp_path / "empty.parquet") == 0
    assert list(pd.read_parquet(tmp_path / "empty.parquet").columns) == ["id", "name"]


def test_destination_checks_come_before_any_work(spark, tmp_path: Path) -> None:
    df = spark.range(1)
    with pytest.raises(ExportError, match="use a .csv or .parquet"):
        export_dataframe(df, tmp_path / "x.json")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(ExportError, match="is a folder"):
        export_dataframe(df, tmp_path / "dir.csv")


def test_single_column_nulls_keep_their_rows() -> None:
    text = csv_header(["a"]) + csv_lines(pa.record_batch({"a": pa.array(["x", None, ""])}))
    assert text == 'a\r\nx\r\n""\r\n""\r\n'
    assert len(pd.read_csv(io.StringIO(text), keep_default_na=False)) == 3


@given(st.lists(st.tuples(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text())), max_size=20))
def test_csv_round_trips_any_text_and_tells_null_from_empty(rows: list[tuple[str | None, str | None]]) -> None:
    """Any strings (quotes, commas, CR, LF, unicode) come back exactly; a null is an empty unquoted field."""
    batch = pa.record_batch({"a": pa.array([r[0] for r in rows], pa.string()),
                             "b,\"c": pa.array([r[1] for r in rows], pa.string())})
    text = csv_header(["a", 'b,"c']) + csv_lines(batch)
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == ["a", 'b,"c'] and len(parsed) == len(rows) + 1
    assert [tuple(r) for r in parsed[1:]] == [tuple("" if v is None else v for v in row) for row in rows]
    raw_fields = _raw_fields(text)[1:]  # as written: nothing for a null, "" for an empty string
    for (a, b), (raw_a, raw_b) in zip(rows, raw_fields, strict=True):
        assert (raw_a == "") == (a is None) and (raw_b == "") == (b is None)


def _raw_fields(text: str) -> list[tuple[str, str]]:
    """Split RFC 4180 text into unparsed two-field records (quotes kept), to see how each field was written."""
    records, field, fields, quoted, i = [], "", [], False, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == '"' and text[i + 1:i + 2] == '"':
                field += '""'
                i += 1
            elif ch == '"':
                quoted = False
                field += ch
            else:
                field += ch
        elif ch == '"':
            quoted = True
            field += ch
        elif ch == ",":
            fields.append(field)
            field = ""
        elif text.startswith("\r\n", i):
            fields.append(field)
            records.append(tuple(fields))
            fields, field = [], ""
            i += 1
        else:
            field += ch
        i += 1
    return records
