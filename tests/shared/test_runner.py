"""The local runner and the usecases CLI, on a toy bundle of real tasks (tests/fixtures/toy_bundle)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.bundle import BundleError, Job, Task, load_bundle, resolve_references, task_order
from shared.cli import main
from shared.runner import TaskFailed, parse_overrides, run_job

TOY = Path(__file__).resolve().parents[1] / "fixtures" / "toy_bundle"


@pytest.fixture
def toy():
    return load_bundle(TOY)


def test_list_shows_jobs_and_tasks_in_dependency_order(capsys) -> None:
    assert main(["--bundle", str(TOY), "list"]) == 0
    out = capsys.readouterr().out
    assert out.index("- extract") < out.index("- clean") < out.index("- summarise")
    assert "broken  (toy pipeline that fails in its second task)" in out


def test_run_executes_tasks_in_order_with_row_counts(spark, toy, warehouse: Path, mlflow_store: str) -> None:
    lines: list[str] = []
    results = run_job(toy, "toy", warehouse=str(warehouse), echo=lines.append)
    assert [r.task for r in results] == ["extract", "clean", "summarise"]
    clean = results[1].report
    # local target sets rows=50; every 10th row has a negative amount and goes to quarantine
    assert (clean.rows_in, clean.rows_out, clean.rows_quarantined) == (50, 45, 5)
    assert "quarantined       5" in lines[1]
    quarantine = spark.read.parquet(
        str(next((warehouse / "toy_catalog" / "toy_schema" / "toy_raw_quarantine").glob("v*")))
    )
    assert {r.quarantine_reason for r in quarantine.collect()} == {"amount must be >= 0"}


def test_rerun_gives_the_same_tables(spark, toy, warehouse: Path, mlflow_store: str) -> None:
    from shared.tables import LocalTableStore

    run_job(toy, "toy", warehouse=str(warehouse), echo=lambda _: None)
    run_job(toy, "toy", warehouse=str(warehouse), echo=lambda _: None)
    store = LocalTableStore(spark, "toy_catalog", "toy_schema", warehouse)
    assert store.read("toy_clean").count() == 45
    assert store.read("toy_summary").first()["n"] == 45


def test_param_override_and_single_task(toy, warehouse: Path, mlflow_store: str) -> None:
    results = run_job(toy, "toy", overrides={"rows": "20"}, only_task="extract", warehouse=str(warehouse),
                      echo=lambda _: None)
    assert len(results) == 1 and results[0].report.rows_out == 20


def test_target_variables_are_used(toy) -> None:
    assert toy.variable_values("local")["rows"] == "50"
    assert toy.variable_values("dev")["rows"] == "100"
    dev = toy.variable_values("dev")
    assert resolve_references("/x/${bundle.target}/${var.rows}", dev, "toy", "dev") == "/x/dev/100"
    with pytest.raises(BundleError, match="variable 'nope'"):
        resolve_references("${var.nope}", {}, "toy", "dev")


def test_unknown_param_and_job_are_clear_errors(toy, capsys) -> None:
    with pytest.raises(BundleError, match="no parameter"):
        run_job(toy, "toy", overrides={"colour": "red"})
    assert main(["--bundle", str(TOY), "run", "nojob"]) == 2
    assert "no job 'nojob'" in capsys.readouterr().err
    with pytest.raises(BundleError, match="name=value"):
        parse_overrides(["rows"])


def test_bad_parameter_value_fails_the_task_with_a_clear_message(toy, warehouse: Path, capsys) -> None:
    code = main(["--bundle", str(TOY), "run", "toy", "--param", "rows=0", "--warehouse", str(warehouse)])
    assert code == 1
    assert "task 'extract' failed: ConfigError: rows must be >= 1" in capsys.readouterr().err


def test_failing_task_stops_its_job(toy, warehouse: Path, mlflow_store: str, capsys) -> None:
    with pytest.raises(TaskFailed, match="task 'explode' failed: RuntimeError: planted failure"):
        run_job(toy, "broken", warehouse=str(warehouse), echo=lambda _: None)
    assert main(["--bundle", str(TOY), "run", "broken", "--warehouse", str(warehouse)]) == 1
    captured = capsys.readouterr()
    assert "never_runs" not in captured.out and "planted failure" in captured.err


def test_dependency_cycles_and_unknown_dependencies_are_rejected() -> None:
    def task(key: str, *deps: str) -> Task:
        return Task(key, "p", "e", (), deps)

    with pytest.raises(BundleError, match="cycle"):
        task_order(Job("j", "j", (task("a", "b"), task("b", "a")), TOY))
    with pytest.raises(BundleError, match="unknown task"):
        task_order(Job("j", "j", (task("a", "zzz"),), TOY))


def test_yaml_is_read_with_yaml_12_scalars(tmp_path: Path) -> None:
    from shared.bundle import load_yaml

    path = tmp_path / "x.yml"
    path.write_text("a: on\nb: no\nc: 2024-01-01\nd: true\n")
    assert load_yaml(path) == {"a": "on", "b": "no", "c": "2024-01-01", "d": True}
