"""Seeded train/test split and driver-bounded training samples (balanced by downsampling negatives, or uniform)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

SPLIT_BUCKETS = 10_000


def transaction_key(column: str = "transaction_id") -> Column:
    """The id as text: the split hash and joins then work alike for numeric ids and ids like ``T-0001``, and an
    id read as a number from one source and as text from another lands on the same side of the split."""
    return F.col(column).cast("string")


def with_test_flag(df: DataFrame, test_fraction: float, seed: int) -> DataFrame:
    """Add ``is_test``: a hash of transaction_id and seed, so a row stays on its side across runs and models."""
    bucket = F.pmod(F.xxhash64(transaction_key(), F.lit(seed)), F.lit(SPLIT_BUCKETS))
    return df.withColumn("is_test", bucket < F.lit(int(round(test_fraction * SPLIT_BUCKETS))))


def bounded(df: DataFrame, max_rows: int, seed: int, rows: int | None = None) -> DataFrame:
    """At most ``max_rows`` rows, sampled (seeded) rather than the first ones, before anything reaches the driver.

    ``rows`` is ``df``'s row count when the caller knows it (one aggregation gave every count the train task needs),
    else it is counted here. The result never exceeds ``max_rows``, whatever the count.
    """
    rows = df.count() if rows is None else rows
    if rows <= max_rows:
        return df.limit(max_rows)
    fraction = min(1.0, max_rows / rows * 1.05)
    return df.sample(fraction=fraction, seed=seed).limit(max_rows)


def balanced_sample(train: DataFrame, negatives_per_positive: float, max_rows: int, seed: int,
                    positives_rows: int, negatives_rows: int) -> DataFrame:
    """Every positive plus a seeded sample of ``negatives_per_positive`` negatives each, capped at ``max_rows``.

    ``positives_rows`` / ``negatives_rows``: how many fraud and legitimate rows ``train`` holds.
    """
    positives = train.filter(F.col("label") == 1)
    negatives = train.filter(F.col("label") == 0)
    n_pos, n_neg = positives_rows, negatives_rows
    fraction = 1.0 if n_pos == 0 or n_neg == 0 else min(1.0, negatives_per_positive * n_pos / n_neg)
    sample = positives.unionByName(negatives.sample(fraction=fraction, seed=seed))
    return bounded(sample, max_rows, seed, rows=n_pos + round(fraction * n_neg))


def uniform_sample(train: DataFrame, max_rows: int, seed: int, rows: int) -> DataFrame:
    """The unbalanced variant: the training split as it is (``rows`` rows), capped at ``max_rows``."""
    return bounded(train, max_rows, seed, rows=rows)
