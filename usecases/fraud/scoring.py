"""Scoring with the compiled tree SQL alone (no Python UDF) and the analysts' review queue."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

# HotSpot never JIT-compiles a method over 8000 bytes of bytecode (-XX:+DontCompileHugeMethods, the default).
# Whole-stage codegen inlines a whole nested CASE into one method (it cannot split code that reads the stage's
# local variables): a tree of a few hundred nodes gives ~30 KB, under Spark's 64 KB guard but over the JIT limit,
# so every row runs in the bytecode interpreter. Lowering Spark's limit to the JIT's makes Spark drop whole-stage
# codegen for that stage only; the plain projection codegen then splits the CASE into small, JIT-able methods.
HOTSPOT_HUGE_METHOD_BYTES = 8000
HUGE_METHOD_LIMIT = "spark.sql.codegen.hugeMethodLimit"
SCORE_COLUMNS = ("transaction_id", "probability", "prediction", "rule_id", "support", "needs_review", "model_version")


def score_with_sql(
    features: DataFrame, scoring_sql: str, model_version: str, band_low: float, band_high: float, min_support: int
) -> DataFrame:
    """``fraud_scores`` rows: the compiled expression evaluated by Spark SQL, plus ``needs_review``.

    A row needs review when its probability lies inside [band_low, band_high] or its leaf saw fewer than
    ``min_support`` training rows (a rule the model has little evidence for).
    """
    scored = features.select("transaction_id", F.expr(scoring_sql).alias("_tree"))
    probability = F.col("_tree.probability")
    return scored.select(
        "transaction_id",
        probability.alias("probability"),
        F.col("_tree.prediction").cast("int").alias("prediction"),
        F.col("_tree.rule_id").cast("int").alias("rule_id"),
        F.col("_tree.support").cast("bigint").alias("support"),
        (probability.between(band_low, band_high) | (F.col("_tree.support") < min_support)).alias("needs_review"),
        F.lit(model_version).alias("model_version"),
    )


def review_queue(scores: DataFrame) -> DataFrame:
    """Rows needing review, ranked most uncertain first (probability nearest 0.5, then least support).

    Columns: the score columns plus ``uncertainty`` (1 - |2p - 1|) and ``review_rank`` (1 = look first).
    """
    queue = scores.filter(F.col("needs_review")).withColumn(
        "uncertainty", 1 - F.abs(2 * F.col("probability") - 1)
    )
    order = Window.orderBy(F.col("uncertainty").desc(), F.col("support").asc(), F.col("transaction_id").asc())
    return queue.withColumn("review_rank", F.row_number().over(order))


@contextmanager
def jit_friendly_codegen(spark: SparkSession) -> Iterator[bool]:
    """Run actions inside with ``hugeMethodLimit`` at the JIT's limit; yields whether the setting took.

    Restores the previous value afterwards. Where the setting may not be changed (some serverless
    runtimes, where Photon evaluates the CASE natively anyway) it leaves the session alone.
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
