"""Task entry points: the console-script contract (exit codes, messages) and row accounting."""

from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality

from shared.config import ConfigError
from shared.contracts import ContractError, QuarantineBudgetError, duplicate_keys, flag_rows, split_flagged
from shared.task import STAGING_PREFIX, RowAccountingError, TaskContext, TaskReport
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


def test_adapt_maps_a_users_columns_before_the_check_and_its_errors_name_the_input(spark, tables) -> None:
    tables.write(spark.createDataFrame([(1, 2.0), (2, 3.0)], "id bigint, price double"), "toy_raw")
    ctx: TaskContext[ToyConfig] = TaskContext(spark, tables, "toy", "clean")
    valid, rows_in = ctx.read_with_contract("toy_raw", RAW_CONTRACT,
                                            adapt=lambda df: df.withColumnRenamed("price", "amount"))
    assert (sorted(r["amount"] for r in valid.collect()), rows_in) == ([2.0, 3.0], 2)

    def refuse(df):
        raise ContractError("table 'toy_raw' has no column 'cost'")

    with pytest.raises(ContractError, match=r"^table 'toy_raw' has no column 'cost' \(read from "
                                            r"test_catalog.test_schema.toy_raw\)$"):
        ctx.read_with_contract("toy_raw", RAW_CONTRACT, adapt=refuse)


def test_should_generate_never_overwrites(spark, tables) -> None:
    ctx: TaskContext[ToyConfig] = TaskContext(spark, tables, "toy", "generate")
    on = ToyConfig(generate_data=True)
    assert ctx.should_generate("toy_raw", on)
    assert not ctx.should_generate("toy_raw", ToyConfig(generate_data=False))
    assert not ctx.should_generate("/data/mine.csv", on)
    tables.write(spark.range(1), "toy_raw")
    assert not ctx.should_generate("toy_raw", on)


def test_quarantine_budget_fails_after_writing_the_quarantine(spark, tables) -> None:
    raw = spark.createDataFrame([(1, "x"), (2, "-1"), (3, "2.0"), (4, "y")], "id bigint, amount string")
    tables.write(raw, "toy_raw")
    ctx: TaskContext[ToyConfig] = TaskContext(spark, tables, "toy", "clean")
    with pytest.raises(QuarantineBudgetError) as info:
        ctx.read_with_contract("toy_raw", RAW_CONTRACT)
    assert str(info.value) == (
        "input toy_raw: 75.0% of 4 rows quarantined (limit 10%): 'amount is not a number' x 2; "
        "'amount must be >= 0' x 1 (read from test_catalog.test_schema.toy_raw; "
        "quarantine in test_catalog.test_schema.toy_raw_quarantine)")
    assert tables.read("toy_raw_quarantine").count() == 3  # written before failing, for the user to inspect
    valid, rows_in = ctx.read_with_contract("toy_raw", RAW_CONTRACT, max_quarantine_fraction=0.75)
    assert (valid.count(), rows_in) == (1, 4)
    with pytest.raises(ConfigError, match="max_quarantine_fraction must be within"):
        ctx.read_with_contract("toy_raw", RAW_CONTRACT, max_quarantine_fraction=1.5)


def test_header_only_file_fails_with_one_line(spark, tables, tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_text("id;amount\n")
    ctx: TaskContext[ToyConfig] = TaskContext(spark, tables, "toy", "clean", max_quarantine_fraction=1.0)
    with pytest.raises(QuarantineBudgetError, match="^input toy_raw: no rows to process .* only a header"):
        ctx.read_with_contract(str(path), RAW_CONTRACT)


def test_console_entry_point_reports_a_broken_budget_in_one_line(warehouse: Path, mlflow_store: str, monkeypatch,
                                                                 capsys) -> None:
    monkeypatch.setenv("USECASES_WAREHOUSE", str(warehouse))
    assert extract(["--rows=20", "--bad_every=1"]) == 0  # every amount is negative
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        clean([])
    assert exit_info.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line or "Traceback" in line]
    assert len(err) == 1 and err[0].startswith(
        "toy.clean: error: input toy_raw: no valid rows left, all 20 rows quarantined: 'amount must be >= 0' x 20")


def test_contract_reads_stage_once_and_leave_no_staging_table(warehouse: Path, mlflow_store: str, monkeypatch,
                                                              capsys) -> None:
    """The checked rows are staged in task-private tables (serverless has no cache); they go when the task ends,
    whether it succeeds or fails."""
    monkeypatch.setenv("USECASES_WAREHOUSE", str(warehouse))

    def staging_left() -> list[str]:
        return sorted(p.name for p in warehouse.rglob(f"{STAGING_PREFIX}*") if p.is_dir())

    assert extract(["--rows=20"]) == 0
    assert clean([]) == 0
    assert "quarantined 2" in capsys.readouterr().out
    assert staging_left() == []
    assert extract(["--rows=20", "--bad_every=1"]) == 0
    with pytest.raises(SystemExit):
        clean([])
    assert staging_left() == []


def test_duplicates_found_through_staged_keys_go_to_quarantine(spark, tables) -> None:
    raw = spark.createDataFrame([(1, 1.0), (2, 2.0), (2, 3.0), (3, 4.0)], "id bigint, amount double")
    tables.write(raw, "toy_raw")
    ctx: TaskContext[ToyConfig] = TaskContext(spark, tables, "toy", "clean", max_quarantine_fraction=1.0)
    valid, rows_in = ctx.read_with_contract("toy_raw", RAW_CONTRACT)
    assert sorted(r.id for r in valid.collect()) == [1, 3] and rows_in == 4
    reasons = [r.quarantine_reason for r in tables.read("toy_raw_quarantine").collect()]
    assert reasons == ["duplicate key (id)"] * 2
    assert len(ctx.staging_tables) == 2 and all(tables.exists(name) for name in ctx.staging_tables)
    staged = list(ctx.staging_tables)
    ctx.close()
    assert ctx.staging_tables == [] and not any(tables.exists(name) for name in staged)


def test_staged_duplicate_keys_give_the_same_split_as_the_lazy_check(spark) -> None:
    rows = [(1, "1.0"), (2, "2"), (2, "3"), (None, "4"), (None, "5"), (3, "-1")]
    df = spark.createDataFrame(rows, "id bigint, amount string")
    lazy = split_flagged(flag_rows(df, RAW_CONTRACT))
    repeated = duplicate_keys(df, RAW_CONTRACT)
    assert repeated is not None and [r.id for r in repeated.collect()] == [2]
    eager = split_flagged(flag_rows(df, RAW_CONTRACT, spark.createDataFrame(repeated.toPandas())))
    assert_df_equality(lazy.valid, eager.valid, ignore_row_order=True)
    assert_df_equality(lazy.quarantined, eager.quarantined, ignore_row_order=True)
    assert (eager.rows_in, eager.rows_quarantined) == (6, 5)


def test_staging_tables_of_killed_tasks_are_dropped_once_old_and_others_kept(spark, tables) -> None:
    """A killed task never drops its staging tables; a later task drops those older than a day, nothing else."""
    import time as clock

    from shared.task import ABANDONED_STAGING_S, STAGING_PREFIX, staging_created_at

    ctx: TaskContext[ToyConfig] = TaskContext(spark, tables, "toy", "clean")
    one_row = spark.range(1)
    now = clock.time()
    old = f"{STAGING_PREFIX}toy_clean_rows_{int(now - ABANDONED_STAGING_S - 60)}_0123456789"
    recent = f"{STAGING_PREFIX}toy_score_rows_{int(now - 60)}_abcdef0123"
    undated = f"{STAGING_PREFIX}toy_clean_rows_abcdef0123"  # an older layout: its age is unknown, so it stays
    for name in (old, recent, undated, "users_table"):
        tables.write(one_row, name)
    live = ctx.stage(one_row, "mine")  # this task's own, created now
    assert staging_created_at(old) == int(now - ABANDONED_STAGING_S - 60) and staging_created_at(undated) is None
    assert ctx.drop_abandoned_staging(now) == [old]
    assert set(tables.list_tables()) == {recent, undated, "users_table", *ctx.staging_tables}
    assert live.count() == 1
    ctx.close()
