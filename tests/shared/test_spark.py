"""The local session's Python workers run the interpreter the job runs in, whatever `python3` on PATH is."""

from __future__ import annotations

import os
import sys

import pandas as pd
import pytest
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import StringType

from shared.spark import task_slots


@pandas_udf(StringType())
def _worker_executable(ids: pd.Series) -> pd.Series:
    import sys as worker_sys

    return pd.Series([worker_sys.executable] * len(ids))


def test_python_workers_use_the_drivers_interpreter(spark) -> None:
    executables = {row[0] for row in spark.range(4).select(_worker_executable("id")).collect()}
    assert executables == {sys.executable}


def test_session_conf_sets_for_the_block_and_restores(spark) -> None:
    from shared.spark import ARROW_BATCH_ROWS_CONF as key
    from shared.spark import session_conf

    before = spark.conf.get(key)
    with session_conf(spark, {key: "12345"}):
        assert spark.conf.get(key) == "12345"
    assert spark.conf.get(key) == before


def test_session_conf_skips_a_refused_conf_and_goes_on(spark, caplog) -> None:
    from shared.spark import session_conf

    static = "spark.sql.warehouse.dir"  # static: Spark refuses to change it at runtime
    before = spark.conf.get(static)
    with session_conf(spark, {static: "/elsewhere", "spark.sql.shuffle.partitions": "3"}):
        assert spark.conf.get(static) == before
        assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
    assert spark.conf.get("spark.sql.shuffle.partitions") != "3"
    assert any(static in record.getMessage() for record in caplog.records)


def test_task_slots_are_the_local_masters_cores_not_the_shuffle_setting(spark) -> None:
    master = spark.sparkContext.master
    assert task_slots(spark) == (os.cpu_count() if master == "local[*]" else int(master[len("local["):-1]))
    assert spark.sparkContext.defaultParallelism == 4  # what the local settings set, whatever the cores


def test_user_java_options_come_after_ours(monkeypatch) -> None:
    from shared.spark import JAVA_OPTIONS_ENV, LOCAL_GC, java_options

    monkeypatch.delenv(JAVA_OPTIONS_ENV, raising=False)
    ours = java_options()
    assert ours.startswith("-Dlog4j2.configurationFile=") and ours.endswith(f" {LOCAL_GC}")
    monkeypatch.setenv(JAVA_OPTIONS_ENV, "  -Xss4m -XX:TieredStopAtLevel=1 ")
    assert java_options() == f"{ours} -Xss4m -XX:TieredStopAtLevel=1"  # last wins in the JVM: the user's
    monkeypatch.setenv(JAVA_OPTIONS_ENV, "   ")
    assert java_options() == ours


def test_a_users_collector_replaces_ours(monkeypatch) -> None:
    """The JVM refuses to start with two collectors, so the user's choice is the only one passed."""
    from shared.spark import JAVA_OPTIONS_ENV, LOCAL_GC, java_options

    monkeypatch.setenv(JAVA_OPTIONS_ENV, "-XX:+UseG1GC")
    assert LOCAL_GC not in java_options() and java_options().endswith(" -XX:+UseG1GC")


def test_the_local_jvm_runs_the_throughput_collector(spark) -> None:
    """The session the tests share was started with our options: its JVM reports the parallel collector."""
    import subprocess

    from benchmarks._proc import java_children

    jvms = java_children()
    if not jvms:
        pytest.skip("no local JVM child (a remote or Connect session)")
    flags = subprocess.run(["jcmd", str(jvms[0]), "VM.flags"], capture_output=True, text=True, timeout=60).stdout
    if not flags:
        pytest.skip("jcmd is not available to read the JVM's flags")
    assert "-XX:+UseParallelGC" in flags
