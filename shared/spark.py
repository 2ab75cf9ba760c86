"""One SparkSession per process: the active one on Databricks, a tuned ``local[*]`` one on a laptop."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pyspark.sql import SparkSession

from shared.env import local_home, on_databricks

log = logging.getLogger(__name__)

# Rows per Arrow batch sent to a pandas UDF (Spark's default 10,000); a job may raise it with ``session_conf``.
ARROW_BATCH_ROWS_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"

# Settings for a small local machine: no UI, few shuffle partitions (the default 200 makes tiny jobs
# slow), UTC so dates never shift, Arrow for pandas UDFs, and quiet logs.
LOCAL_SETTINGS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.memory": os.environ.get("USECASES_DRIVER_MEMORY", "4g"),
    "spark.driver.extraJavaOptions": "-Dlog4j2.level=ERROR",
    "spark.python.worker.reuse": "true",
}


def get_spark(app_name: str = "ml-use-cases") -> SparkSession:
    """Return this process's SparkSession, creating a local one off Databricks."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if on_databricks():
        return SparkSession.builder.getOrCreate()
    # Python workers must run this interpreter: a bare `python3` on PATH (what Spark falls back to) may be
    # another installation without pandas or pyarrow, which fails only once a pandas UDF runs.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    master = os.environ.get("USECASES_SPARK_MASTER", "local[*]")
    builder = SparkSession.builder.master(master).appName(app_name)
    builder = builder.config("spark.sql.warehouse.dir", str(local_home() / "spark-warehouse"))
    for key, value in LOCAL_SETTINGS.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextmanager
def session_conf(spark: SparkSession, settings: Mapping[str, str]) -> Iterator[None]:
    """Set runtime SQL confs for one block of work and restore the previous values after it.

    For tuning only (e.g. Arrow batch size for one job's UDFs): a conf the platform refuses (serverless
    compute allows only some, static confs cannot change at runtime) is logged and skipped, never fatal.
    Confs are read when an action runs, so the block must contain the action (the write), not just the plan.
    """
    previous: dict[str, str | None] = {}
    for key, value in settings.items():
        try:
            before = spark.conf.get(key, None)
            spark.conf.set(key, value)
        except Exception as exc:  # noqa: BLE001 - any refusal leaves the platform default in place
            log.warning("Spark conf %s=%s not applied: %s", key, value, str(exc).splitlines()[0])
            continue
        previous[key] = before
    try:
        yield
    finally:
        for key, before in previous.items():
            if before is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, before)
