"""Every bundle entry point, called the way a Databricks wheel task calls it: ``entry()`` with the arguments in
``sys.argv`` and the return value ignored. A failure must raise SystemExit with a non-zero code and one line."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {name: target for name, target in
           tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"].items()
           if name != "usecases"}
# Tasks whose first read is a user input with a contract: (parameter naming the input, a CSV missing a column).
FIRST_READ_INPUTS = {
    "fraud-features": ("transactions_table", {"transaction_id": [1], "step": [1], "type": ["TRANSFER"]}),
    "out-of-stock-prepare": ("store_item_daily_table", {"date": ["2024-01-01"], "store_id": ["s"], "item_id": ["i"]}),
    "forecasting-prepare": ("sales_table", {"date": ["2024-01-01"], "store_id": ["s"], "item_id": ["i"]}),
    "geospatial-index": ("points_table", {"point_id": ["p1"], "lat": [1.0]}),
    "geospatial-cover": ("zones_table", {"zone_id": ["z1"], "name": ["a"]}),
    "vision-prepare": ("image_table", {"path": ["/x.png"]}),
}


def _entry(name: str):  # a TaskEntryPoint
    module, _, attr = SCRIPTS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def _call(name: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> SystemExit:
    monkeypatch.setattr("sys.argv", [name, *argv])
    with pytest.raises(SystemExit) as exit_info:
        _entry(name)()  # the return value is ignored, as Databricks ignores it
    return exit_info.value


def test_every_task_has_an_entry_point() -> None:
    assert len(SCRIPTS) == 25 and set(FIRST_READ_INPUTS) <= set(SCRIPTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_bad_parameter_exits_non_zero_with_one_line(name: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    exit_code = _call(name, ["--no_such_parameter=1"], monkeypatch).code
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_code == 2
    assert len(lines) == 1 and "unknown parameter(s)" in lines[0] and "--no_such_parameter=1" in lines[0]
    assert "declared parameters: catalog, schema" in lines[0]


@pytest.mark.parametrize("name", sorted(FIRST_READ_INPUTS))
def test_missing_input_column_exits_non_zero_with_one_line(name: str, spark, tmp_path: Path, mlflow_store: str,
                                                          monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    param, columns = FIRST_READ_INPUTS[name]
    path = tmp_path / "input.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    monkeypatch.setenv("USECASES_WAREHOUSE", str(tmp_path / "warehouse"))
    exit_code = _call(name, [f"--{param}={path}"], monkeypatch).code
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_code == 2
    assert len(lines) == 1 and "missing required column" in lines[0] and "expected schema:" in lines[0], lines
