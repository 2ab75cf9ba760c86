"""The job's parameters in resources/out_of_stock.job.yml carry the config's defaults."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from shared.bundle import load_bundle
from shared.config import JobConfig, format_value
from usecases.out_of_stock.config import OutOfStockConfig

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_job_parameters_equal_config_defaults() -> None:
    job = load_bundle(REPO_ROOT).jobs["out_of_stock"]
    params = dict(p[2:].split("=", 1) for p in job.tasks[0].parameters)
    shared = {f.name for f in dataclasses.fields(JobConfig)}
    for f in dataclasses.fields(OutOfStockConfig):
        if f.name not in shared:
            assert params[f.name] == format_value(f.default), f.name
