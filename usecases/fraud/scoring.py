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


def review_queue(scores: DataFrame) -> DataFrame:
    """Rows needing review, ranked most uncertain first (probability nearest 0.5, then least support).

    Columns: the score columns plus ``uncertainty`` (1 - |2p - 1|) and ``review_rank`` (1 = look first).
    """
    queue = scores.filter(F.col("needs_review")).withColumn(
        "uncertainty", 1 - F.abs(2 * F.col("probability") - 1)
    )
    order = Window.orderBy(F.col("uncertainty").desc(), F.col("support").asc(), F.col("transaction_id").asc())
    return queue.withColumn("review_rank", F.row_number().over(order))
