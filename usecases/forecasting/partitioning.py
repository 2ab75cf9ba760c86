"""Spread series evenly over Spark partitions so every core fits the same number of models.

Hash-partitioning by the series keys leaves partitions uneven (with 200 series on 8 partitions some get 18,
some 32), and the job waits for the fullest one. Here each series gets a ``bucket`` value chosen so that
Spark's own hash partitioning (``pmod(murmur3(value, seed 42), n)``, computed here in Python, so finding the
values costs no Spark job) sends exactly ``n_series / n`` series to each of ``n`` partitions; the
grouped map (``shared.grouped.map_groups_in_partitions``) then only sorts each partition by ``(bucket, *keys)``
(no second shuffle) and hands the series to Python many per Arrow batch.

Who gets which bucket is dealt on the driver from the series' keys, collected once (at most
``MAX_SERIES_ON_DRIVER`` of them, a few MB): that one small job also gives the series count, and the deal
goes back as a local table in the plan, broadcast into the join without a job of its own. Over the limit,
Spark counts the series and ranks them itself (a window over the distinct keys, then a broadcast join): the
same deal, two more jobs. Measured on the forecasting benchmark's first run in a fresh JVM (200 series, 2 cores,
1 December): the first fit started 2.0-2.3 s into the run dealt on the driver, 2.7-2.9 s counted and ranked by
Spark, 2.5-2.7 s dealt on the driver after a separate count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, Row, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType

from shared.spark import task_slots
from usecases.forecasting.columns import key_columns

BUCKET = "_bucket"
TASKS_PER_CORE = 2  # two tasks per core, so a core that finishes early takes the next one
SPARK_HASH_SEED = 42  # the seed of Spark's Murmur3Hash in HashPartitioning and in SQL's hash()
_MASK = 0xFFFFFFFF
# Series keys collected to deal buckets on the driver; over this, Spark ranks them (see the module's docstring).
MAX_SERIES_ON_DRIVER = 100_000


@dataclass(frozen=True)
class BalancedSeries:
    """Rows with their BUCKET column, repartitioned; how many series they hold, over how many partitions."""

    rows: DataFrame
    n_series: int
    partitions: int


def partition_count(spark: SparkSession, n_series: int, configured: int = 0) -> int:
    """``configured`` when > 0, else two tasks per core that runs at once; never more partitions than series."""
    wanted = configured if configured > 0 else TASKS_PER_CORE * task_slots(spark)
    return max(1, min(wanted, n_series))


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK


def _mix(h1: int, k1: int) -> int:
    k1 = _rotl((k1 * 0xCC9E2D51) & _MASK, 15) * 0x1B873593 & _MASK
    return (_rotl(h1 ^ k1, 13) * 5 + 0xE6546B64) & _MASK


def spark_hash_long(value: int, seed: int = SPARK_HASH_SEED) -> int:
    """Spark's ``hash()`` of a BIGINT: Murmur3_x86_32.hashLong (low word, then high word), as a signed int."""
    h1 = _mix(_mix(seed & _MASK, value & _MASK), (value >> 32) & _MASK) ^ 8
    h1 = ((h1 ^ (h1 >> 16)) * 0x85EBCA6B) & _MASK
    h1 = ((h1 ^ (h1 >> 13)) * 0xC2B2AE35) & _MASK
    h1 ^= h1 >> 16
    return h1 - (1 << 32) if h1 & 0x80000000 else h1


def bucket_values(n: int) -> list[int]:
    """For each partition p in 0..n-1, the smallest long v >= 0 with ``pmod(hash(v), n) == p``."""
    values: dict[int, int] = {}
    for candidate in range(64 * n):  # about n * ln(n) candidates are needed
        values.setdefault(spark_hash_long(candidate) % n, candidate)  # Python's % is pmod for n > 0
        if len(values) == n:
            return [values[p] for p in range(n)]
    return list(range(n))  # practically impossible; plain hashing then, balanced or not


def with_balanced_buckets(df: DataFrame, keys: Sequence[str], n: int) -> DataFrame:
    """``df`` plus a BUCKET column, repartitioned so each of ``n`` partitions holds an equal share of series."""
    series = df.select(*key_columns(keys)).distinct()
    rank = F.row_number().over(Window.orderBy(*key_columns(keys))) - 1
    # slot -> bucket value as a literal array lookup: no second DataFrame, join or round trip to build it
    buckets = F.array(*[F.lit(value).cast("long") for value in bucket_values(n)])
    assigned = series.withColumn(BUCKET, F.element_at(buckets, (rank % n).cast("int") + 1))
    return df.join(F.broadcast(assigned), on=list(keys)).repartition(n, BUCKET)


def _key_order(row: Row) -> tuple[Any, ...]:
    """Sort key of a series' key values, nulls last: the sort never compares None with a value (forecasting's
    contract keeps null keys out; any order would do, a fixed one gives every run the same deal)."""
    return tuple((value is None, value) for value in row)


def balance_series(df: DataFrame, keys: Sequence[str], configured_partitions: int = 0,
                   max_on_driver: int = MAX_SERIES_ON_DRIVER) -> BalancedSeries:
    """``df`` with a BUCKET column, each of ``partition_count(...)`` partitions holding an equal share of series.

    Deals the buckets on the driver from the collected keys when there are at most ``max_on_driver`` series (one
    job, which also counts them), else as ``with_balanced_buckets`` does after a count."""
    spark, keys = df.sparkSession, list(keys)
    series = df.select(*key_columns(keys)).distinct()
    collected = series.limit(max_on_driver + 1).collect()
    if len(collected) > max_on_driver:
        n_series = series.count()
        n = partition_count(spark, n_series, configured_partitions)
        return BalancedSeries(with_balanced_buckets(df, keys, n), n_series, n)
    n = partition_count(spark, len(collected), configured_partitions)
    values = bucket_values(n)
    ordered = sorted(collected, key=_key_order)
    # object columns: Arrow then converts the values as they are (an int key with a null stays an int)
    deal = pd.DataFrame({name: pd.Series([row[i] for row in ordered], dtype=object) for i, name in enumerate(keys)})
    deal[BUCKET] = [values[i % n] for i in range(len(deal))]
    key_fields = [df.schema[name] for name in keys]
    schema = StructType([*key_fields, StructField(BUCKET, LongType(), nullable=False)])
    assigned = spark.createDataFrame(deal, schema)
    return BalancedSeries(df.join(F.broadcast(assigned), on=keys).repartition(n, BUCKET), len(collected), n)
