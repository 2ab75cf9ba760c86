"""Where the code runs (a Databricks cluster or a laptop) and where local state lives."""

from __future__ import annotations

import os
from pathlib import Path

WAREHOUSE_ENV = "USECASES_WAREHOUSE"
LOCAL_HOME_ENV = "USECASES_HOME"


def on_databricks() -> bool:
    """True inside a Databricks runtime (jobs, serverless, notebooks)."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def local_home() -> Path:
    """Folder for local state (warehouse, MLflow store): ``$USECASES_HOME`` or ``./.local``."""
    return Path(os.environ.get(LOCAL_HOME_ENV, ".local")).resolve()


def local_warehouse(override: str | os.PathLike[str] | None = None) -> Path:
    """The local table folder: an explicit override, ``$USECASES_WAREHOUSE``, or ``<home>/warehouse``."""
    if override:
        return Path(override).resolve()
    if os.environ.get(WAREHOUSE_ENV):
        return Path(os.environ[WAREHOUSE_ENV]).resolve()
    return local_home() / "warehouse"
