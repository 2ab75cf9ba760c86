"""Scoring with the compiled tree SQL alone (no Python UDF) and the analysts' review queue."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

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


def review_rows(scores: DataFrame) -> DataFrame:
    """The rows needing review, with ``uncertainty`` (1 - |2p - 1|: 1 at p = 0.5, 0 at p = 0 or 1)."""
    return scores.filter(F.col("needs_review")).withColumn("uncertainty", 1 - F.abs(2 * F.col("probability") - 1))


def review_queue(scores: DataFrame) -> DataFrame:
    """Rows needing review, ranked most uncertain first (probability nearest 0.5, then least support, then
    transaction id).

    Columns: the score columns plus ``uncertainty`` (1 - |2p - 1|) and ``review_rank`` (1 = look first, no gaps).

    Why not one ``row_number`` over the whole queue: a window without a partition moves every row to one task, so
    the queue's size is capped by one core and its memory. A tree gives every row of a leaf the same probability
    and support, so the queue holds a few (uncertainty, support) groups, one per uncertain leaf: their sizes (a
    small aggregate) give each group's offset, and the rows are numbered within their group, groups in parallel.
    A group never splits, so the largest leaf is the largest task.
    """
    queue = review_rows(scores)
    group = ["uncertainty", "support"]
    ranked_before = Window.orderBy(F.col("uncertainty").desc(), F.col("support").asc()).rowsBetween(
        Window.unboundedPreceding, -1)
    offsets = queue.groupBy(*group).count().select(
        F.col("uncertainty").alias("_u"), F.col("support").alias("_s"),
        F.coalesce(F.sum("count").over(ranked_before), F.lit(0)).alias("_offset"))
    within = F.row_number().over(Window.partitionBy(*group).orderBy(F.col("transaction_id").asc()))
    # null-safe: a null support (or probability) is one group of its own, as the ordering treats it
    same_group = F.col("uncertainty").eqNullSafe(F.col("_u")) & F.col("support").eqNullSafe(F.col("_s"))
    rank = (F.col("_offset") + within).cast("int")  # an int, as a plain row_number gave
    return queue.join(offsets, same_group).withColumn("review_rank", rank).drop("_u", "_s", "_offset")
