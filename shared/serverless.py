"""A local stand-in for serverless compute's limits, switched on for Spark Connect sessions.

Open-source Spark Connect still allows DataFrame caching and any Spark conf, so a job that passes locally could
fail on serverless before its first row. The guard makes the same calls fail here, with serverless' error class:
``cache``, ``persist``, ``unpersist``, ``checkpoint``, ``localCheckpoint``, ``rdd`` and ``sparkContext`` raise
``NOT_SUPPORTED_WITH_SERVERLESS``, and setting a Spark conf serverless does not let jobs set raises
``CONFIG_NOT_AVAILABLE`` (``shared.spark.session_conf`` logs and skips it, as it must on serverless).

The guard is on in Connect mode unless ``USECASES_SERVERLESS_GUARD=0``.
"""

from __future__ import annotations

import functools
import os
from typing import Any

GUARD_ENV = "USECASES_SERVERLESS_GUARD"

# The Spark properties serverless notebooks and jobs may set (Databricks docs, "Configure Spark properties for
# serverless notebooks and jobs"); everything else is refused at run time.
SERVERLESS_CONFS = frozenset({
    "spark.databricks.execution.timeout",
    "spark.sql.ansi.enabled",
    "spark.sql.files.maxPartitionBytes",
    "spark.sql.legacy.timeParserPolicy",
    "spark.sql.session.timeZone",
    "spark.sql.shuffle.partitions",
    "spark.sql.timestampType",
})
GUARDED_DATAFRAME_METHODS = ("cache", "persist", "unpersist", "checkpoint", "localCheckpoint")


class ServerlessLimitError(RuntimeError):
    """A call serverless compute does not support (raised locally by the guard, as serverless would)."""


def guard_enabled() -> bool:
    return os.environ.get(GUARD_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _refuse(what: str) -> ServerlessLimitError:
    return ServerlessLimitError(
        f"[NOT_SUPPORTED_WITH_SERVERLESS] {what} is not supported on serverless compute "
        "(local serverless guard; see shared/serverless.py)"
    )


def _refusing_method(name: str) -> Any:
    def refused(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise _refuse(f"DataFrame.{name}()")

    refused.__name__ = name
    refused._serverless_guard = True  # type: ignore[attr-defined]
    return refused


def _guarded_conf_set(original: Any) -> Any:
    @functools.wraps(original)
    def set_conf(self: Any, key: str, value: Any) -> None:
        if key not in SERVERLESS_CONFS:
            raise ServerlessLimitError(
                f"[CONFIG_NOT_AVAILABLE] Configuration {key} is not available on serverless compute "
                "(local serverless guard)"
            )
        original(self, key, value)

    set_conf._serverless_guard = True  # type: ignore[attr-defined]
    return set_conf


def install_guard(spark: Any) -> bool:
    """Make this process's Spark Connect classes refuse what serverless refuses; return whether it is on."""
    if not guard_enabled():
        return False
    from pyspark.sql.connect.conf import RuntimeConf
    from pyspark.sql.connect.dataframe import DataFrame
    from pyspark.sql.connect.session import SparkSession

    for name in GUARDED_DATAFRAME_METHODS:
        if not getattr(getattr(DataFrame, name, None), "_serverless_guard", False):
            setattr(DataFrame, name, _refusing_method(name))
    if not isinstance(DataFrame.__dict__.get("rdd"), property) or not getattr(DataFrame.rdd.fget, "_serverless_guard",
                                                                             False):
        def rdd(self: Any) -> Any:
            raise _refuse("DataFrame.rdd (RDD APIs)")

        rdd._serverless_guard = True  # type: ignore[attr-defined]
        DataFrame.rdd = property(rdd)  # type: ignore[assignment]

    def spark_context(self: Any) -> Any:
        raise _refuse("SparkSession.sparkContext")

    spark_context._serverless_guard = True  # type: ignore[attr-defined]
    SparkSession.sparkContext = property(spark_context)  # type: ignore[assignment]
    if not getattr(RuntimeConf.set, "_serverless_guard", False):
        RuntimeConf.set = _guarded_conf_set(RuntimeConf.set)  # type: ignore[method-assign]
    return True
