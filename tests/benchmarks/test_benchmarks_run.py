"""Every benchmark still runs end to end at a tiny size and its two ways of doing the work still agree.

Timings are never asserted (they mean nothing at these sizes); this keeps ``python -m benchmarks <name>`` from
rotting as the code it measures changes.
"""

from __future__ import annotations

import importlib
import json

import pytest

TINY_ARGS = {
    "core": ["--rows", "2000", "--repeats", "1"],
    "contracts": ["--rows", "5000", "--repeats", "1", "--bad_every", "100"],
    "fraud_scoring": ["--rows", "4000", "--train_rows", "3000", "--depths", "3", "--repeats", "1"],
    "fraud_review_queue": ["--rows", "5000", "--leaves", "20", "--repeats", "1"],
    "out_of_stock": ["--stores", "1", "--items", "3", "--days", "150"],
    "out_of_stock_real": ["--stores", "2", "--items", "4", "--phantom", "2", "--late", "1", "--shelf", "1"],
    "forecasting": ["--series", "2", "--days", "400"],
    "forecasting_real": ["--datasets", "hotel,generated", "--max_series", "2", "--windows", "1",
                         "--generated_series", "2", "--workers", "1"],
    "vision": ["--images", "64", "--size", "16", "--epochs", "1", "--repeats", "2"],
    "vision_digits": ["--limit", "200", "--size", "16", "--param", "max_epochs=2", "--param", "min_epochs=1",
                      "--param", "num_processes=1"],
    "geospatial": ["--points", "3000", "--zones", "8", "--parcels", "40", "--index-points", "2000", "4000"],
    "scale": ["--job", "fraud", "--size", "tiny"],
}
# Benchmarks that compare sizes or write paths rather than two computations of the same result.
NO_AGREEMENT_FLAG = {"core", "scale"}


def _flags(result: object, path: str = "") -> dict[str, bool]:
    """Every 'do the two ways agree' check in a nested result, by its path: ``identical_*`` flags must be True,
    ``mismatched_*`` counts must be 0."""
    found: dict[str, bool] = {}
    if isinstance(result, dict):
        for key, value in result.items():
            where = f"{path}.{key}" if path else str(key)
            if "identical" in str(key):
                found[where] = value is True
            elif "mismatched" in str(key):
                found[where] = value == 0
            found.update(_flags(value, where))
    elif isinstance(result, list):
        for i, value in enumerate(result):
            found.update(_flags(value, f"{path}[{i}]"))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TINY_ARGS))
def test_benchmark_runs_and_its_two_ways_agree(name: str, spark, mlflow_store: str) -> None:
    result = importlib.import_module(f"benchmarks.{name}").run(TINY_ARGS[name])
    json.dumps(result, default=str)  # what __main__ writes to benchmarks/results/
    flags = _flags(result)
    if name not in NO_AGREEMENT_FLAG:
        assert flags, f"benchmark {name} reports no identical_* check"
    assert all(flags.values()), flags
    if name == "scale":  # the job really ran in its own process, and its memory was sampled
        run = result["runs"][0]
        assert run["task_seconds"] and run["peak_rss_mb"]["driver"] > 0 and run["peak_rss_mb"]["jvm"] > 0


def test_every_benchmark_module_has_a_tiny_run() -> None:
    from pathlib import Path

    modules = {p.stem for p in (Path(__file__).parents[2] / "benchmarks").glob("*.py") if not p.stem.startswith("_")}
    assert modules == set(TINY_ARGS)
