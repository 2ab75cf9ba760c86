"""Task progress: Spark's stage counts shown as a bar on a terminal and as plain lines elsewhere."""

from __future__ import annotations

import io
import time

import pytest
from pyspark.sql import functions as F

from shared.progress import PROGRESS_ENV, StageCounts, spark_progress


def _slow_job(spark) -> None:  # SparkSession
    @F.udf("long")
    def slow(x: int) -> int:
        time.sleep(0.05)
        return x

    spark.range(0, 40, numPartitions=8).select(slow("id").alias("x")).agg(F.sum("x")).collect()


def test_stage_counts_keep_the_highest_done_per_stage() -> None:
    counts = StageCounts()
    counts.update(1, 3, 8)
    counts.update(1, 2, 8)  # a late, older report never moves progress back
    counts.update(2, 1, 4)
    assert counts.totals() == (4, 12, 2)


@pytest.mark.parametrize("mode", ["lines", "bar"])
def test_progress_is_shown_while_spark_works(spark, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROGRESS_ENV, mode)
    stream = io.StringIO()
    with spark_progress(spark, "demo.task", stream=stream, interval_s=0.0) as counts:
        _slow_job(spark)
        time.sleep(1.0)  # the poller's last look
    done, total, stages = counts.totals()
    assert total >= 8 and done == total and stages >= 1
    text = stream.getvalue()
    if mode == "lines":
        assert "demo.task:" in text and "Spark tasks done" in text
    else:
        assert "demo.task" in text and "task" in text


def test_progress_can_be_switched_off(spark, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROGRESS_ENV, "off")
    stream = io.StringIO()
    with spark_progress(spark, "quiet", stream=stream, interval_s=0.0):
        _slow_job(spark)
    assert stream.getvalue() == ""
