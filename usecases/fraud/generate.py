"""Seeded PaySim-shaped synthetic transactions, generated in Spark so any size (6M+ rows) stays distributed."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

TRANSACTION_TYPES = ("CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER")
# PaySim's type mix (cumulative upper bounds) and log-normal amount parameters per type.
TYPE_MIX = (("CASH_OUT", 0.352), ("PAYMENT", 0.690), ("CASH_IN", 0.910), ("TRANSFER", 0.9935), ("DEBIT", 1.0))
AMOUNT_LOG_MEAN = {"CASH_IN": 11.4, "CASH_OUT": 11.5, "DEBIT": 8.0, "PAYMENT": 8.9, "TRANSFER": 12.6}
STEPS = 743  # PaySim covers 30 days of hourly steps
MISSING_DEST_BALANCE_RATE = 0.003  # dest balances a feed sometimes leaves empty: the model must cope


def _pick(u: Column, table: tuple[tuple[str, float], ...]) -> Column:
    expr = F.lit(table[-1][0])
    for name, upper in reversed(table[:-1]):
        expr = F.when(u < upper, F.lit(name)).otherwise(expr)
    return expr


def generate_transactions(spark: SparkSession, rows: int, seed: int, partitions: int | None = None) -> DataFrame:
    """A PaySim-like ``transactions`` frame (no ``label``: labels come from the SME rules).

    Columns: transaction_id, step, type, amount, name_orig, old_balance_orig, new_balance_orig, name_dest,
    old_balance_dest, new_balance_dest. Same seed and size give the same rows.
    """
    base = spark.range(0, rows, numPartitions=partitions or max(1, min(64, rows // 250_000 + 1)))
    r = [F.rand(seed * 1000 + k) for k in range(10)]
    z = [F.randn(seed * 1000 + 50 + k) for k in range(3)]
    df = base.select(
        F.col("id").alias("transaction_id"),
        (F.floor(r[0] * STEPS) + 1).cast("int").alias("step"),
        _pick(r[1], TYPE_MIX).alias("type"),
        r[2].alias("_u_zero_orig"), r[3].alias("_u_drain"), r[4].alias("_u_share"),
        r[5].alias("_u_zero_dest"), r[6].alias("_u_update_dest"), r[7].alias("_u_null"),
        z[0].alias("_z_amount"), z[1].alias("_z_orig"), z[2].alias("_z_dest"),
        (F.floor(r[8] * 2_000_000_000)).cast("bigint").alias("_orig_no"),
        (F.floor(r[9] * 500_000_000)).cast("bigint").alias("_dest_no"),
    )
    mean = F.lit(AMOUNT_LOG_MEAN["CASH_IN"])
    for name, mu in AMOUNT_LOG_MEAN.items():
        mean = F.when(F.col("type") == name, F.lit(mu)).otherwise(mean)
    drawn = F.round(F.exp(mean + F.col("_z_amount")), 2)
    old_orig = F.when(F.col("_u_zero_orig") < 0.33, F.lit(0.0)).otherwise(
        F.round(F.exp(10.5 + 1.6 * F.col("_z_orig")), 2)
    )
    df = df.withColumn("old_balance_orig", old_orig)
    is_debit = F.col("type") != "CASH_IN"
    # Most debits stay within the balance; some drain the account (the pattern the SME rules look for).
    within = F.round(F.col("old_balance_orig") * (0.05 + 0.9 * F.col("_u_share")), 2)
    capped = (F.col("old_balance_orig") > 0) & (F.col("_u_drain") > 0.7) & (drawn > F.col("old_balance_orig"))
    df = df.withColumn("amount", F.when(is_debit & capped, within).otherwise(drawn))
    df = df.withColumn(
        "new_balance_orig",
        F.when(is_debit, F.greatest(F.col("old_balance_orig") - F.col("amount"), F.lit(0.0)))
        .otherwise(F.col("old_balance_orig") + F.col("amount")),
    )
    merchant = F.col("type") == "PAYMENT"
    old_dest = F.when(merchant | (F.col("_u_zero_dest") < 0.35), F.lit(0.0)).otherwise(
        F.round(F.exp(11.5 + 1.5 * F.col("_z_dest")), 2)
    )
    df = df.withColumn("old_balance_dest", old_dest)
    credited = F.col("type").isin("TRANSFER", "CASH_OUT") & (F.col("_u_update_dest") > 0.3)
    new_dest = (
        F.when(merchant, F.lit(0.0))
        .when(credited, F.col("old_balance_dest") + F.col("amount"))
        .when(F.col("type") == "CASH_IN", F.greatest(F.col("old_balance_dest") - F.col("amount"), F.lit(0.0)))
        .otherwise(F.col("old_balance_dest"))
    )
    df = df.withColumn("new_balance_dest", F.round(new_dest, 2))
    missing = F.col("_u_null") < MISSING_DEST_BALANCE_RATE
    return df.select(
        "transaction_id", "step", "type", "amount",
        F.concat(F.lit("C"), F.col("_orig_no").cast("string")).alias("name_orig"),
        "old_balance_orig", "new_balance_orig",
        F.concat(F.when(merchant, F.lit("M")).otherwise(F.lit("C")), F.col("_dest_no").cast("string"))
        .alias("name_dest"),
        F.when(missing & (F.col("_u_null") < MISSING_DEST_BALANCE_RATE / 2), F.lit(None).cast("double"))
        .otherwise(F.col("old_balance_dest")).alias("old_balance_dest"),
        F.when(missing & (F.col("_u_null") >= MISSING_DEST_BALANCE_RATE / 2), F.lit(None).cast("double"))
        .otherwise(F.col("new_balance_dest")).alias("new_balance_dest"),
    )
