"""Task entry points: the console-script contract (exit codes, messages) and row accounting."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.task import RowAccountingError, TaskContext, TaskReport
from tests.fixtures.toy_bundle.toy_tasks import RAW_CONTRACT, ToyConfig, clean, extract


def test_unbalanced_report_is_an_error() -> None:
    TaskReport(rows_in=10, rows_out=7, rows_quarantined=3).check()
    TaskReport(rows_in=10, rows_out=1, balanced=False).check()
    with pytest.raises(RowAccountingError, match="rows in 10 != rows out 6 \\+ rows quarantined 3"):
        TaskReport(rows_in=10, rows_out=6, rows_quarantined=3, task="t").check()


def test_console_entry_point_exit_codes(warehouse: Path, mlflow_store: str, monkeypatch, capsys) -> None:
    """Called as a Databricks wheel task calls it: argv in sys.argv, return value ignored, so failures raise."""
    monkeypatch.setenv("USECASES_WAREHOUSE", str(warehouse))
    monkeypatch.setattr("sys.argv", ["toy-extract", "--rows=30", "--job_run_id=123"])
    assert extract() == 0
    assert "toy.extract: done" in capsys.readouterr().out
    monkeypatch.setattr("sys.argv", ["toy-extract", "--rows=abc"])
    with pytest.raises(SystemExit) as exit_info:
        extract()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["toy.extract: error: bad value for --rows: 'abc' (invalid literal for int() "
                                        "with base 10: 'abc')"]
    monkeypatch.setattr("sys.argv", ["toy-clean", "--catalog=other"])  # that catalog has no toy_raw table
    with pytest.raises(SystemExit) as exit_info:
        clean()
    assert exit_info.value.code == 2
    assert "input table 'toy_raw': table other.ml_use_cases.toy_raw does not exist" in capsys.readouterr().err


def test_help_gives_every_parameter_its_meaning(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        extract(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "rows the extract task writes [integer; default: 100]" in out
    assert "--max_quarantine_fraction" in out and "quarantined (0..1)" in out


def test_missing_column_fails_the_task_naming_table_column_and_schema(spark, tables, mlflow_store: str) -> None:
    tables.write(spark.range(5), "toy_raw")  # has id, lacks amount
    ctx: TaskContext[ToyConfig] = TaskContext(spark, tables, "toy", "clean")
    with pytest.raises(Exception, match="table 'toy_raw' is missing required column 'amount'.*expected schema: "
                                        "id bigint NOT NULL, amount double NOT NULL"):
        ctx.read_with_contract("toy_raw", RAW_CONTRACT)


def test_should_generate_never_overwrites(spark, tables) -> None:
    ctx: TaskContext[ToyConfig] = TaskContext(spark, tables, "toy", "generate")
    on = ToyConfig(generate_data=True)
    assert ctx.should_generate("toy_raw", on)
    assert not ctx.should_generate("toy_raw", ToyConfig(generate_data=False))
    assert not ctx.should_generate("/data/mine.csv", on)
    tables.write(spark.range(1), "toy_raw")
    assert not ctx.should_generate("toy_raw", on)
