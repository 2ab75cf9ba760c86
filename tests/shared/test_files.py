"""Users' files: CSV per RFC 4180 (quotes, multi-line fields, BOM, detected delimiters), JSON, Parquet, and
the contract over what they give (real files written to a temporary folder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chispa import assert_df_equality

from shared.contracts import REASON, ColumnSpec, Contract, ContractError, apply_contract
from shared.files import (
    MALFORMED_COLUMN,
    data_files,
    detect_delimiter,
    file_format,
    read_file,
    safe_header,
    sniff_csv,
)
from shared.tables import TableNotFoundError
from shared.tables import read_file as tables_read_file

GEOJSON = '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}'
ZONES = Contract("zones", (ColumnSpec("zone_id", "string", id=True),
                           ColumnSpec("name", "string", nullable=True, required=False),
                           ColumnSpec("geometry", "string")))


def write(path: Path, text: str, bom: bool = False) -> str:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return str(path)


def rows(df) -> list[tuple]:  # DataFrame
    """The rows without the malformed-row flag column, in file order."""
    return [tuple(r[c] for c in df.columns if c != MALFORMED_COLUMN) for r in df.collect()]


def user_columns(df) -> list[str]:  # DataFrame
    return [c for c in df.columns if c != MALFORMED_COLUMN]


@pytest.mark.parametrize(("line", "expected"), [
    ("id,name,amount", ","), ("id;name;amount", ";"), ("id\tname\tamount", "\t"), ("id|name", "|"),
    ("single", ","), ('"a;b",c,d', ","), ('"a,b,c";d;e', ";"), ("a;b,c", ","),
])
def test_delimiter_is_detected_from_the_header_line(line: str, expected: str) -> None:
    assert detect_delimiter(line) == expected


def test_header_names_are_trimmed_filled_and_made_unique() -> None:
    assert safe_header([" id ", "", "Name", "name", "\ufeffx"]) == ["id", "_c1", "Name2", "name3", "x"]


@pytest.mark.parametrize(("delimiter", "bom"), [(",", False), (",", True), (";", False), (";", True), ("\t", False),
                                                ("|", True)])
def test_csv_dialects_give_the_same_rows(spark, tmp_path: Path, delimiter: str, bom: bool) -> None:
    d = delimiter
    text = f"zone_id{d}name{d}amount\r\n00M{d}Smith{d}54.0\r\nFJI{d}{d}3\r\n"
    path = write(tmp_path / "z.csv", text, bom)
    assert sniff_csv(path).delimiter == d
    df = read_file(spark, path)
    assert user_columns(df) == ["zone_id", "name", "amount"]  # no BOM left on the first name
    assert rows(df) == [("00M", "Smith", "54.0"), ("FJI", None, "3")]


def test_rfc4180_quoting_doubled_quotes_and_multiline_geojson(spark, tmp_path: Path) -> None:
    quoted_geojson = '"' + GEOJSON.replace('"', '""').replace("], [", "],\n [") + '"'
    text = (
        "zone_id,name,geometry\n"
        f'1,"Smith, ""Bob""",{quoted_geojson}\n'
        f'2,"",{quoted_geojson}\n'
        "3,plain,POINT (1 2)\n"
    )
    df = read_file(spark, write(tmp_path / "zones.csv", text))
    got = rows(df)
    assert [r[:2] for r in got] == [("1", 'Smith, "Bob"'), ("2", None), ("3", "plain")]
    assert json.loads(got[0][2]) == json.loads(GEOJSON) and "\n" in got[0][2]
    result = apply_contract(df, ZONES)
    assert (result.rows_in, result.rows_valid, result.rows_quarantined) == (3, 3, 0)


def test_rows_with_the_wrong_field_count_are_quarantined_with_the_raw_line(spark, tmp_path: Path) -> None:
    text = "zone_id,name,geometry\nA,one,POINT (0 0)\nB,two,POINT (1 1),surplus\nC\n"
    result = apply_contract(read_file(spark, write(tmp_path / "z.csv", text)), ZONES)
    assert (result.rows_in, result.rows_valid, result.rows_quarantined) == (3, 1, 2)
    assert result.valid.columns == ["zone_id", "name", "geometry"]
    reasons = {r["zone_id"]: r[REASON] for r in result.quarantined.collect()}
    assert reasons == {
        "B": "row does not have the header's 3 fields: B,two,POINT (1 1),surplus",
        "C": "row does not have the header's 3 fields: C; geometry is null",
    }
    assert result.quarantined.columns == ["zone_id", "name", "geometry", REASON]


def test_lines_of_only_whitespace_are_blank_lines_not_rows(spark, tmp_path: Path) -> None:
    """A blank line of a file with mixed line endings leaves a lone carriage return; spaces alone likewise."""
    text = "zone_id,name,geometry\nA,one,POINT (0 0)\n\r\n  \t\nB,two,POINT (1 1)\n \n"
    result = apply_contract(read_file(spark, write(tmp_path / "z.csv", text)), ZONES)
    assert (result.rows_in, result.rows_valid, result.rows_quarantined) == (2, 2, 0)
    one_column = Contract(table="ids", columns=(ColumnSpec("zone_id", "string", nullable=True),))
    kept = apply_contract(read_file(spark, write(tmp_path / "ids.csv", "zone_id\nA\n  \nB\n")), one_column)
    assert kept.rows_in == 3  # in a one-column file a line of spaces is a field (a blank value), not a blank line


def test_csv_integers_written_by_pandas_as_floats_pass(spark, tmp_path: Path) -> None:
    """The tester's finding: a pandas-written CSV with ``54.0`` in integer columns was quarantined entirely."""
    text = "point_id,count,lat\n00M,54.0,1.5\nFJI,3.0,2\n11-Sault-au-Récollet,7,3\n"
    contract = Contract("points", (ColumnSpec("point_id", "string", id=True), ColumnSpec("count", "int"),
                                   ColumnSpec("lat", "double")))
    result = apply_contract(read_file(spark, write(tmp_path / "p.csv", text)), contract)
    expected = spark.createDataFrame([("00M", 54, 1.5), ("FJI", 3, 2.0), ("11-Sault-au-Récollet", 7, 3.0)],
                                     "point_id string, count int, lat double")
    assert_df_equality(result.valid, expected, ignore_nullable=True, ignore_row_order=True)
    assert result.rows_quarantined == 0


def test_header_only_and_empty_files(spark, tmp_path: Path) -> None:
    header_only = read_file(spark, write(tmp_path / "h.csv", "zone_id;name;geometry\n"))
    assert user_columns(header_only) == ["zone_id", "name", "geometry"]
    result = apply_contract(header_only, ZONES)
    assert (result.rows_in, result.rows_valid, result.rows_quarantined) == (0, 0, 0)
    empty = read_file(spark, write(tmp_path / "e.csv", ""))
    assert empty.columns == []
    with pytest.raises(ContractError, match="missing required column 'zone_id'.*found columns: \\(none\\)"):
        apply_contract(empty, ZONES)


def test_a_folder_of_part_files_and_an_explicit_delimiter(spark, tmp_path: Path) -> None:
    folder = tmp_path / "parts.csv"
    spark.createDataFrame([("a", "1"), ("b", "2")], "k string, v string").coalesce(2).write.option(
        "header", True).option("sep", "|").csv(str(folder))
    assert file_format(folder) == "csv" and all(p.suffix == ".csv" for p in data_files(folder))
    assert sorted(rows(read_file(spark, str(folder)))) == [("a", "1"), ("b", "2")]
    tsv = write(tmp_path / "x.tsv", "k;v\tw\n1;2\t3\n")
    assert rows(read_file(spark, tsv, delimiter="\t")) == [("1;2", "3")]


def test_json_lines_and_json_documents(spark, tmp_path: Path) -> None:
    lines = write(tmp_path / "l.json", '{"zone_id": 7, "geometry": "POINT (0 0)"}\n{"zone_id": 8.0, "geometry": "P"}\n'
                                       "{broken\n")
    result = apply_contract(read_file(spark, lines), ZONES)
    assert sorted((r["zone_id"], r["geometry"]) for r in result.valid.collect()) == [("7", "POINT (0 0)"), ("8", "P")]
    assert result.valid.columns == ["geometry", "zone_id", "name"]  # JSON columns come sorted; name added
    assert [r[REASON] for r in result.quarantined.collect()] == [
        "row is not valid JSON: {broken; zone_id is null; geometry is null"]
    document = write(tmp_path / "d.json", json.dumps([{"zone_id": "00M", "geometry": GEOJSON}], indent=2))
    assert rows(read_file(spark, document)) == [(GEOJSON, "00M")]


def test_parquet_doubles_are_not_truncated_into_integer_columns(spark, tmp_path: Path) -> None:
    path = str(tmp_path / "t.parquet")
    spark.createDataFrame([(1, 3.7), (2, -0.4), (3, 54.0)], "id bigint, qty double").write.parquet(path)
    contract = Contract("t", (ColumnSpec("id", "string", id=True), ColumnSpec("qty", "int")))
    result = apply_contract(read_file(spark, path), contract)
    assert [tuple(r) for r in result.valid.collect()] == [("3", 54)]
    assert sorted(r[REASON] for r in result.quarantined.collect()) == [
        "qty is not a whole number: -0.4", "qty is not a whole number: 3.7"]


def test_missing_paths(spark, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_file(spark, str(tmp_path / "absent.csv"))
    with pytest.raises(TableNotFoundError, match="does not exist"):
        tables_read_file(spark, str(tmp_path / "absent.csv"))
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(TableNotFoundError, match="has no data files"):
        tables_read_file(spark, str(tmp_path / "empty_folder"))
