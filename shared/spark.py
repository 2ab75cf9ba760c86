"""One SparkSession per process: the active one on Databricks, a tuned ``local[*]`` one on a laptop.

With ``USECASES_SPARK_REMOTE`` set (e.g. ``local[2]``, or ``usecases run --connect``) the session is a Spark
Connect client of a local Spark Connect server, which is what serverless compute and databricks-connect give
jobs; the serverless guard (``shared.serverless``) then makes the APIs serverless refuses raise here too.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from shared.env import local_home, on_databricks

log = logging.getLogger(__name__)

REMOTE_ENV = "USECASES_SPARK_REMOTE"
_CONNECT_SESSION: SparkSession | None = None  # this process's Spark Connect session, once started
# Rows per Arrow batch sent to a pandas UDF (Spark's default 10,000); a job may raise it with ``session_conf``.
ARROW_BATCH_ROWS_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"

# HotSpot never JIT-compiles a method over 8000 bytes of bytecode (-XX:+DontCompileHugeMethods, the default).
# Whole-stage codegen inlines a whole nested CASE into one method (it cannot split code that reads the stage's
# local variables): a fraud tree of a few hundred nodes, or a contract's casts and checks over a dozen columns,
# give well over 8 KB, under Spark's 64 KB guard but over the JIT limit,
# so every row runs in the bytecode interpreter. Lowering Spark's limit to the JIT's makes Spark drop whole-stage
# codegen for that stage only; the plain projection codegen then splits the CASE into small, JIT-able methods.
HOTSPOT_HUGE_METHOD_BYTES = 8000
HUGE_METHOD_LIMIT = "spark.sql.codegen.hugeMethodLimit"

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
    "spark.python.worker.reuse": "true",
}


JAVA_OPTIONS_ENV = "USECASES_JAVA_OPTIONS"  # extra options for the local driver JVM (GC, JIT, diagnostics)
# The throughput collector, not the JVM's default G1, for the local driver: a batch job wants the fewest CPU
# seconds, not short pauses, and on a laptop the JVM shares its few cores with Python workers. Measured on
# 2 cores (1 December, a noisy machine): fraud anchor 122 -> 112 s and out_of_stock anchor 402 -> 354 s (one run
# each way; JVM peak RSS 4.87 -> 4.69 GB), fraud half 116 -> 107 and 90 -> 83 s (alternating pairs), the JVM's CPU
# in forecasting's first grouped map 8.0-8.5 -> 6.8-7.2 s (alternating runs; one later full benchmark: 9.9).
# Databricks sets its own JVM; this is only the local session's.
LOCAL_GC = "-XX:+UseParallelGC"


def java_options() -> str:
    """Driver JVM options: our log4j2 settings (errors only; warnings too with ``-v``) and collector, then any the
    user adds in ``USECASES_JAVA_OPTIONS`` (the JVM takes the last of repeated options; another collector flag
    replaces ours: the JVM refuses two)."""
    level = "warn" if os.environ.get("USECASES_VERBOSE", "") not in ("", "0") else "error"
    config = Path(__file__).with_name("log4j2.properties").as_uri()
    extra = os.environ.get(JAVA_OPTIONS_ENV, "").strip()
    collector = "" if re.search(r"-XX:\+Use\w*GC\b", extra) else f" {LOCAL_GC}"
    return (f"-Dlog4j2.configurationFile={config} -Dusecases.log.level={level}{collector}"
            + (f" {extra}" if extra else ""))


def local_settings() -> dict[str, str]:
    """Everything a local session (classic, or the local Spark Connect server) starts with."""
    return {**LOCAL_SETTINGS, "spark.driver.extraJavaOptions": java_options()}


def remote_master() -> str | None:
    """The local master to serve Spark Connect from (``USECASES_SPARK_REMOTE``), or None for classic mode."""
    return os.environ.get(REMOTE_ENV) or None


def is_connect(spark: SparkSession) -> bool:
    """Whether ``spark`` is a Spark Connect session (serverless, databricks-connect, or local Connect mode)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def get_spark(app_name: str = "ml-use-cases") -> SparkSession:
    """Return this process's SparkSession, creating a local one (classic, or Spark Connect) off Databricks."""
    if on_databricks():
        return SparkSession.builder.getOrCreate()
    # Python workers must run this interpreter: a bare `python3` on PATH (what Spark falls back to) may be
    # another installation without pandas or pyarrow, which fails only once a pandas UDF runs.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    remote = remote_master()
    if remote is not None:
        return _connect_session(remote, app_name)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    master = os.environ.get("USECASES_SPARK_MASTER", "local[*]")
    builder = SparkSession.builder.master(master).appName(app_name)
    builder = builder.config("spark.sql.warehouse.dir", str(local_home() / "spark-warehouse"))
    for key, value in local_settings().items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    return spark


def parallelism(spark: SparkSession) -> int:
    """Spark's default parallelism, for sizing data partitions; no ``sparkContext`` in Connect mode.

    On a cluster this is how many tasks run at once; locally it is what the local settings say (4), whatever the
    cores: for work whose tasks each hold a core for long, use ``task_slots``.

    Classic: Spark's default parallelism. Connect: ``spark.default.parallelism`` when the server sets it, else the
    local server's core count; 8 when neither is known (serverless scales out on its own).
    """
    if not is_connect(spark):
        return int(spark.sparkContext.defaultParallelism)
    configured = spark.conf.get("spark.default.parallelism", None)
    if configured:
        return max(1, int(configured))
    return _cores_of(remote_master() or "") or 8


def task_slots(spark: SparkSession) -> int:
    """How many tasks run at once, for work whose tasks each keep one core busy for a long time.

    A local master's own core count (``local[2]`` gives 2, whatever ``spark.default.parallelism`` says: the local
    settings set that to 4 for small shuffles, and sizing by it would give every core twice the tasks asked for,
    each task start costing a Python worker about 0.15 s); on a cluster or serverless, ``parallelism(spark)``.
    """
    master = remote_master() if is_connect(spark) else spark.sparkContext.master
    return _cores_of(master or "") or parallelism(spark)


def _cores_of(master: str) -> int:
    """Cores of a ``local[N]`` / ``local[*]`` master string (0 when it names no local master)."""
    if master in ("local", "local[1]"):
        return 1
    if master.startswith("local[") and master.endswith("]"):
        inner = master[len("local["):-1].split(",")[0].strip()
        return os.cpu_count() or 1 if inner == "*" else max(1, int(inner))
    return 0


def _connect_session(remote: str, app_name: str) -> SparkSession:
    """A Spark Connect session served by a local server (started on first use, in this process's JVM)."""
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    from shared.serverless import install_guard

    existing = ConnectSession.getActiveSession()
    if existing is not None:  # settings apply when the server starts; later getOrCreate calls must not resend them
        return existing
    if remote.startswith("sc://"):
        builder = SparkSession.builder.remote(remote)
    else:
        builder = SparkSession.builder.remote(remote).appName(app_name)
        builder = builder.config("spark.sql.warehouse.dir", str(local_home() / "spark-warehouse"))
        for key, value in local_settings().items():
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    install_guard(spark)
    _CONNECT_SESSION = spark
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
        except Exception as exc:  # any refusal leaves the platform default in place
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


@contextmanager
def jit_friendly_codegen(spark: SparkSession) -> Iterator[bool]:
    """Run actions inside with ``hugeMethodLimit`` at the JIT's limit; yields whether the setting took.

    For stages whose generated code is big (a compiled tree, a contract's checks). Restores the previous value
    afterwards. Where the setting may not be changed (serverless, where Photon evaluates such expressions
    natively anyway) it leaves the session alone.
    """
    previous = spark.conf.get(HUGE_METHOD_LIMIT, None)
    try:
        spark.conf.set(HUGE_METHOD_LIMIT, str(HOTSPOT_HUGE_METHOD_BYTES))
    except Exception:  # a restricted conf is not an error, only a missed speed-up
        yield False
        return
    try:
        yield True
    finally:
        if previous is None:
            spark.conf.unset(HUGE_METHOD_LIMIT)
        else:
            spark.conf.set(HUGE_METHOD_LIMIT, previous)
