"""``usecases tables|show|export|path``: results read through the table store, bounded output, one-line errors."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from shared import browse
from shared.cli import main
from shared.tables import LocalTableStore

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def results(spark, warehouse: Path) -> LocalTableStore:
    """A warehouse as a run leaves it, in the bundle's default catalog and schema."""
    store = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    alerts = spark.createDataFrame(
        [(1, "S001", "phantom, inventory", 2.5), (2, "S002", 'say "hi"', None), (3, "S001", "", 0.0)],
        "id int, store_id string, reason string, score double",
    )
    store.write(alerts.limit(1), "oos_alerts")
    store.write(alerts, "oos_alerts")
    store.write(spark.createDataFrame([("x", "bad date")], "raw string, reason string"), "oos_alerts_quarantine")
    store.write(spark.createDataFrame([("y", "bad amount")], "raw string, reason string"), "transactions_quarantine")
    return store


def cli(warehouse: Path, *args: str) -> int:
    return main(["--bundle", str(REPO_ROOT), *args[:1], "--warehouse", str(warehouse), *args[1:]])


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("usecases: error: ") and "\n" not in err, err
    return err


def test_tables_lists_rows_versions_last_write_and_quarantine(results, warehouse: Path, capsys) -> None:
    assert cli(warehouse, "tables") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"main.ml_use_cases (in {warehouse.resolve()})"
    assert lines[1].split() == ["table", "rows", "versions", "last", "write", "(UTC)", "quarantined"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert set(rows) == {"oos_alerts", "transactions_quarantine"}, "a quarantine table shows beside its table"
    name, count, versions, day, time, quarantined = rows["oos_alerts"]
    assert (count, versions, quarantined) == ("3", "2", "1")
    assert dt.datetime.fromisoformat(f"{day} {time}") <= dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert rows["transactions_quarantine"][1:3] == ["1", "1"] and rows["transactions_quarantine"][-1] == "-"


def test_tables_of_an_empty_schema_says_so(results, warehouse: Path, capsys) -> None:
    assert cli(warehouse, "tables", "--schema", "other") == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no tables in main.other" in captured.err


def test_catalog_and_schema_default_to_the_bundle_variables(tmp_path: Path) -> None:
    assert browse.bundle_defaults(REPO_ROOT, "local") == {"catalog": "main", "schema": "ml_use_cases"}
    assert browse.bundle_defaults(tmp_path, "local") == {}  # outside a bundle: main / ml_use_cases


def test_path_prints_the_live_version_folder_for_other_tools(results, warehouse: Path, capsys) -> None:
    assert cli(warehouse, "path", "oos_alerts") == 0
    folder = capsys.readouterr().out.strip()
    assert folder == results.current_location("oos_alerts")
    assert len(pd.read_parquet(folder)) == 3, "pandas reads exactly the live version"
    assert cli(warehouse, "path", "nothing") == 2
    assert "main.ml_use_cases.nothing does not exist" in one_line_error(capsys)
    assert cli(warehouse, "path", "../etc") == 2
    assert "invalid table name" in one_line_error(capsys)


def table_lines(out: str) -> list[list[str]]:
    """Spark's ``show`` output as cells: the header first, then one list per row."""
    return [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines() if line.startswith("|")]


def test_show_prints_bounded_filtered_rows_of_chosen_columns(results, warehouse: Path, capsys) -> None:
    assert cli(warehouse, "show", "oos_alerts", "--columns", "score,ID", "--where", "store_id = 'S001'") == 0
    header, *rows = table_lines(capsys.readouterr().out)
    assert header == ["score", "id"] and sorted(rows) == [["0.0", "3"], ["2.5", "1"]]
    assert cli(warehouse, "show", "oos_alerts", "--limit", "1") == 0
    out = capsys.readouterr().out
    header, *rows = table_lines(out)
    assert header == ["id", "store_id", "reason", "score"] and len(rows) == 1
    assert "only showing top 1 row" in out


def test_show_errors_are_one_line(results, warehouse: Path, capsys) -> None:
    assert cli(warehouse, "show", "oos_alerts", "--columns", "id,nope") == 2
    err = one_line_error(capsys)
    assert "no column(s) nope" in err and "columns: id, store_id, reason, score" in err
    assert cli(warehouse, "show", "oos_alerts", "--where", "store_id =") == 2
    one_line_error(capsys)
    assert cli(warehouse, "show", "oos_alerts", "--where", "no_such_column > 1") == 2
    assert "no_such_column" in one_line_error(capsys)
    assert cli(warehouse, "show", "oos_alerts", "--where", "1=1; DROP TABLE oos_alerts") == 2
    one_line_error(capsys)
    assert results.exists("oos_alerts")
    for limit in ("0", str(browse.SHOW_LIMIT_MAX + 1)):
        assert cli(warehouse, "show", "oos_alerts", "--limit", limit) == 2
        assert "--limit must be between 1 and 10,000" in one_line_error(capsys)
    assert cli(warehouse, "show", "missing_table") == 2
    one_line_error(capsys)


def test_show_quotes_odd_column_names(spark, warehouse: Path, capsys) -> None:
    store = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    store.write(spark.createDataFrame([(1, 2.0)], "id int, `unit price` double"), "odd")
    assert cli(warehouse, "show", "odd", "--columns", "unit price", "--where", "`unit price` > 1") == 0
    assert "unit price" in capsys.readouterr().out


def test_export_csv_is_one_rfc4180_file(results, warehouse: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "out" / "alerts.csv"
    target.parent.mkdir()
    assert cli(warehouse, "export", "oos_alerts", str(target)) == 0
    assert f"wrote 3 rows of main.ml_use_cases.oos_alerts to {target}" in capsys.readouterr().out
    assert sorted(p.name for p in target.parent.iterdir()) == ["alerts.csv"], "one file, no temporary left"
    raw = target.read_bytes()
    assert raw.startswith(b"id,store_id,reason,score\r\n") and raw.endswith(b"\r\n")
    with open(target, newline="", encoding="utf-8") as fh:
        rows = sorted(csv.reader(fh))
    assert rows == sorted([["id", "store_id", "reason", "score"], ["1", "S001", "phantom, inventory", "2.5"],
                           ["2", "S002", 'say "hi"', ""], ["3", "S001", "", "0.0"]])
    assert b'"say ""hi"""' in raw and b',"",' in raw and b"S002,\"say \"\"hi\"\"\",\r\n" in raw
    assert cli(warehouse, "export", "oos_alerts", str(target)) == 2
    assert "exists; pass --overwrite" in one_line_error(capsys)
    assert cli(warehouse, "export", "oos_alerts", str(target), "--overwrite", "--where", "id = 1") == 0
    assert len(target.read_text().splitlines()) == 2


def test_export_parquet_is_one_file_pandas_reads(results, warehouse: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "alerts.parquet"
    assert cli(warehouse, "export", "oos_alerts", str(target), "--columns", "id,reason") == 0
    assert target.is_file()
    frame = pd.read_parquet(target).sort_values("id")
    assert list(frame.columns) == ["id", "reason"] and frame["id"].tolist() == [1, 2, 3]
    assert cli(warehouse, "export", "oos_alerts", str(tmp_path / "alerts.xlsx")) == 2
    assert "use a .csv or .parquet file name" in one_line_error(capsys)
    assert cli(warehouse, "export", "oos_alerts", str(tmp_path / "no" / "such" / "dir.csv")) == 2
    assert "does not exist" in one_line_error(capsys)
