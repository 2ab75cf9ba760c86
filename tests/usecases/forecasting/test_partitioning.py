"""Balanced buckets: each partition gets an equal share of series, with no second shuffle before the UDF."""

from __future__ import annotations

from pyspark.sql import functions as F

from usecases.forecasting.partitioning import BUCKET, partition_count, with_balanced_buckets


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
    assert partition_count(spark, 1000) >= 2
