"""Spread series evenly over Spark partitions so every core fits the same number of models.

Hash-partitioning by the series keys leaves partitions uneven (with 200 series on 8 partitions some get 18,
some 32), and the job waits for the fullest one. Here each series gets a ``bucket`` value chosen so that
Spark's own hash partitioning sends exactly ``n_series / n`` series to each of ``n`` partitions; the
grouped map (``shared.grouped.map_groups_in_partitions``) then only sorts each partition by ``(bucket, *keys)``
(no second shuffle) and hands the series to Python many per Arrow batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from shared.spark import parallelism
from usecases.forecasting.columns import key_columns

BUCKET = "_bucket"
TASKS_PER_CORE = 2  # a few tasks per core so a core that finishes early takes the next one


def partition_count(spark: SparkSession, n_series: int, configured: int = 0) -> int:
    """``configured`` when > 0, else a few tasks per core; never more partitions than series."""
    wanted = configured if configured > 0 else TASKS_PER_CORE * parallelism(spark)
    return max(1, min(wanted, n_series))


def bucket_values(spark: SparkSession, n: int) -> list[int]:
    """For each partition p in 0..n-1, a long v with ``pmod(hash(v), n) == p`` (Spark's HashPartitioning)."""
    probe = spark.range(0, 64 * n).select("id", F.expr(f"pmod(hash(id), {int(n)})").alias("p"))
    found = probe.groupBy("p").agg(F.min("id").alias("v")).orderBy("p").collect()  # n rows
    values = {int(r["p"]): int(r["v"]) for r in found}
    if len(values) < n:  # practically impossible with 64 candidates per partition; fall back to plain hashing
        return list(range(n))
    return [values[p] for p in range(n)]


def with_balanced_buckets(df: DataFrame, keys: Sequence[str], n: int) -> DataFrame:
    """``df`` plus a BUCKET column, repartitioned so each of ``n`` partitions holds an equal share of series."""
    spark = df.sparkSession
    series = df.select(*key_columns(keys)).distinct()
    rank = F.row_number().over(Window.orderBy(*key_columns(keys))) - 1
    slots = spark.createDataFrame([(i, v) for i, v in enumerate(bucket_values(spark, n))], f"slot int, {BUCKET} long")
    assigned = series.withColumn("slot", (rank % n).cast("int")).join(F.broadcast(slots), "slot").drop("slot")
    return df.join(F.broadcast(assigned), on=list(keys)).repartition(n, BUCKET)
