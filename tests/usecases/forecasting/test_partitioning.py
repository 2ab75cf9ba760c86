"""Balanced buckets: each partition gets an equal share of series, with no second shuffle before the UDF."""

from __future__ import annotations

import random

import pytest
from pyspark.sql import functions as F

from usecases.forecasting.partitioning import (
    BUCKET,
    balance_series,
    bucket_values,
    partition_count,
    spark_hash_long,
    with_balanced_buckets,
)


def test_series_are_spread_evenly_and_groupby_reuses_the_partitioning(spark) -> None:
    df = spark.range(23 * 5).select((F.col("id") % 23).cast("string").alias("item"), F.col("id").alias("value"))
    spread = with_balanced_buckets(df, ["item"], 4)
    per_partition = (spread.groupBy(F.spark_partition_id().alias("p")).agg(F.countDistinct("item").alias("n"))
                     .collect())
    assert sorted(r["n"] for r in per_partition) == [5, 6, 6, 6]
    grouped = spread.groupBy(BUCKET, "item").applyInPandas(lambda pdf: pdf.head(1), spread.schema)
    plan = grouped._jdf.queryExecution().executedPlan().toString()
    exchanges = [line for line in plan.splitlines() if "Exchange hashpartitioning(_bucket" in line]
    assert len(exchanges) == 1 and "REPARTITION_BY_NUM" in exchanges[0]  # no second shuffle for the groupBy
    assert grouped.count() == 23


def test_partition_count_never_exceeds_the_series(spark) -> None:
    assert partition_count(spark, 3) == 3
    assert partition_count(spark, 1000, configured=7) == 7
    assert partition_count(spark, 1000) == 2 * 2  # two tasks per core of the local[2] session


def test_the_python_hash_is_sparks_hash_of_a_long(spark) -> None:
    rng = random.Random(7)
    values = [0, 1, -1, 42, 2**31 - 1, -(2**31), 2**32, 2**63 - 1, -(2**63),
              *(rng.randrange(-(2**63), 2**63) for _ in range(2000)), *range(500)]
    rows = spark.createDataFrame([(v,) for v in values], "v long").select("v", F.hash("v").alias("h")).collect()
    assert [spark_hash_long(r["v"]) for r in rows] == [r["h"] for r in rows]


def test_bucket_values_land_in_their_partition_under_sparks_hash_partitioning(spark) -> None:
    for n in (1, 2, 3, 4, 7, 8, 16, 61, 64, 200):
        values = bucket_values(n)
        df = spark.createDataFrame(list(enumerate(values)), "p int, v long").repartition(n, "v")
        landed = df.select("p", F.spark_partition_id().alias("actual")).collect()
        assert sorted((r["p"], r["actual"]) for r in landed) == [(p, p) for p in range(n)], n


def _series_per_partition(rows) -> list[int]:
    per_partition = rows.groupBy(F.spark_partition_id().alias("p")).agg(F.countDistinct(*[
        c for c in rows.columns if c not in ("value", BUCKET)]).alias("n")).collect()
    return sorted(r["n"] for r in per_partition)


@pytest.mark.parametrize("max_on_driver", [1000, 10], ids=["dealt on the driver", "ranked by Spark"])
def test_balance_series_deals_evenly_and_counts_the_series(spark, max_on_driver: int) -> None:
    df = spark.range(23 * 5).select((F.col("id") % 23).cast("string").alias("item"), F.col("id").alias("value"))
    balanced = balance_series(df, ["item"], max_on_driver=max_on_driver)
    assert (balanced.n_series, balanced.partitions) == (23, 4)  # two tasks per core of the local[2] session
    assert _series_per_partition(balanced.rows) == [5, 6, 6, 6]
    assert balanced.rows.count() == 23 * 5  # every row kept, once
    # one bucket per series
    assert balanced.rows.groupBy("item").agg(F.countDistinct(BUCKET).alias("b")).filter("b != 1").count() == 0
    plan = balanced.rows._jdf.queryExecution().executedPlan().toString()
    # the driver's deal rides in the plan as a local table; Spark's own needs a window over the keys
    assert ("Window" in plan) == (max_on_driver < 23) and ("LocalTableScan" in plan) == (max_on_driver >= 23)


def test_both_deals_give_each_series_the_same_bucket(spark) -> None:
    df = spark.range(200).select((F.col("id") % 37).cast("string").alias("item"), F.col("id").alias("value"))
    on_driver = balance_series(df, ["item"], configured_partitions=5).rows.select("item", BUCKET).distinct()
    by_spark = balance_series(df, ["item"], configured_partitions=5, max_on_driver=3).rows.select("item", BUCKET)
    assert sorted(on_driver.collect()) == sorted(by_spark.distinct().collect())


def test_balance_series_keeps_composite_and_awkward_keys(spark) -> None:
    rows = [("north 1", "a", 1.0), ("north 1", "b", 2.0), ("south", "a", 3.0), ("south", "a", 4.0),
            ("o'neil", "é", 5.0)]
    df = spark.createDataFrame(rows, "`store id` string, item string, value double")
    balanced = balance_series(df, ["store id", "item"], configured_partitions=2)
    assert (balanced.n_series, balanced.partitions) == (4, 2)
    assert _series_per_partition(balanced.rows) == [2, 2]
    assert sorted(tuple(r) for r in balanced.rows.select("store id", "item", "value").collect()) == sorted(
        tuple(r) for r in df.collect())


def test_balance_series_of_no_rows(spark) -> None:
    balanced = balance_series(spark.createDataFrame([], "item string, value double"), ["item"])
    assert (balanced.n_series, balanced.partitions) == (0, 1)
    assert balanced.rows.count() == 0
