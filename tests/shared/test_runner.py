"""The local runner and the usecases CLI, on a toy bundle of real tasks (tests/fixtures/toy_bundle)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.bundle import BundleError, Job, Task, load_bundle, resolve_references, task_order
from shared.cli import main
from shared.runner import TaskFailed, job_parameter_values, parse_overrides, run_job, task_argv

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
    assert re.search(r"quarantined +5$", lines[1])
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
    assert toy.resolve("${resources.experiments.toy.name}", "dev") == "/toy/dev/toy"
    with pytest.raises(BundleError, match="variable 'nope'"):
        resolve_references("${var.nope}", {}, "toy", "dev")
    with pytest.raises(BundleError, match="no experiment 'nope'"):
        toy.resolve("${resources.experiments.nope.name}", "dev")


def test_job_parameters_are_pushed_down_to_every_task(toy) -> None:
    """Like Databricks' pushdown: each job parameter reaches each task as --name=value, then named_parameters."""
    job = toy.jobs["toy"]
    values = job_parameter_values(toy, job, "local", {"rows": "7"})
    assert values["rows"] == "7" and values["catalog"] == "toy_catalog" and values["target"] == "local"
    assert values["experiment"] == "/toy/local/toy"
    argv = task_argv(job.task("clean"), values, {"job.run_id": "r1"})
    assert argv[: len(values)] == [f"--{k}={v}" for k, v in values.items()]
    assert argv[-1] == "--job_run_id=r1"


def test_unknown_param_and_job_are_clear_errors(toy, capsys) -> None:
    with pytest.raises(BundleError, match="no parameter.*colour.*declared parameters: catalog, schema"):
        run_job(toy, "toy", overrides={"colour": "red"})
    assert main(["--bundle", str(TOY), "run", "nojob"]) == 2
    assert "no job 'nojob'" in capsys.readouterr().err
    assert main(["--bundle", str(TOY), "run", "toy", "--param", "colour=red"]) == 2
    err = capsys.readouterr().err
    assert "colour" in err and "declared parameters:" in err and "bad_every" in err
    assert main(["--bundle", str(TOY), "run", "toy", "--target", "nosuchtarget"]) == 2
    assert "no target 'nosuchtarget'; targets: local, dev, local" in capsys.readouterr().err
    with pytest.raises(BundleError, match="name=value"):
        parse_overrides(["rows"])


def test_run_all_takes_job_qualified_parameters(toy, warehouse: Path, mlflow_store: str, capsys) -> None:
    assert main(["--bundle", str(TOY), "run", "all", "--param", "broken.rows=3", "--param", "nope=1",
                 "--warehouse", str(warehouse)]) == 2
    assert "no job being run declares parameter 'nope'" in capsys.readouterr().err


def test_params_command_prints_every_meaning(capsys) -> None:
    assert main(["--bundle", str(TOY), "params", "toy"]) == 0
    out = capsys.readouterr().out
    assert "rows  [integer; default 100; on Databricks ${var.rows}]" in out
    assert "every n-th row gets a negative amount" in out


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
        return Task(key, "p", "e", depends_on=deps)

    with pytest.raises(BundleError, match="cycle"):
        task_order(Job("j", "j", (task("a", "b"), task("b", "a")), TOY))
    with pytest.raises(BundleError, match="unknown task"):
        task_order(Job("j", "j", (task("a", "zzz"),), TOY))


def test_yaml_is_read_with_yaml_12_scalars(tmp_path: Path) -> None:
    from shared.bundle import load_yaml

    path = tmp_path / "x.yml"
    path.write_text("a: on\nb: no\nc: 2024-01-01\nd: true\n")
    assert load_yaml(path) == {"a": "on", "b": "no", "c": "2024-01-01", "d": True}


def test_an_unusable_warehouse_is_one_clear_line(tmp_path: Path, capsys) -> None:
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    assert main(["--bundle", str(TOY), "run", "toy", "--warehouse", str(not_a_folder / "wh")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot use" in err[0] and "--warehouse" in err[0]
