"""Alert episodes, their matching to ground-truth episodes, and precision / recall per alert type.

Matching (the definition the tests and MLflow metrics use):
1. An alert episode is a maximal run of alert days of one ``alert_type`` for one store-item in which
   consecutive alert days are at most ``EPISODE_GAP_DAYS`` apart.
2. Each alert type answers one ground-truth type (ALERT_TO_TRUTH): phantom_inventory -> phantom_inventory,
   safety_stock -> late_replenishment, zero_sales -> late_replenishment (a real stock-out follows a late
   order), osa_gap -> shelf_problem.
3. An alert episode [a_start, a_end] matches a ground-truth episode [g_start, g_end] of its answered type for
   the same store-item when they overlap once the truth is widened by ``tolerance`` days each side:
   a_start <= g_end + tolerance and a_end >= g_start - tolerance.
4. precision = matched alert episodes / alert episodes; recall = truth episodes matched by at least one
   alert episode / truth episodes. Both are null when their denominator is 0.
Slow movers (ground-truth type ``slow_mover``): the share of their zero-sales days that carry any alert.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

EPISODE_GAP_DAYS = 2
ALERT_TO_TRUTH = {"phantom_inventory": "phantom_inventory", "safety_stock": "late_replenishment",
                  "zero_sales": "late_replenishment", "osa_gap": "shelf_problem"}
KEY = ["store_id", "item_id"]


def alert_episodes(alerts: DataFrame) -> DataFrame:
    """Alerts (date, store_id, item_id, alert_type) -> episodes (store_id, item_id, alert_type, start_date,
    end_date, days)."""
    order = Window.partitionBy(*KEY, "alert_type").orderBy("date")
    gap = F.datediff("date", F.lag("date").over(order))
    starts = alerts.select(*KEY, "alert_type", "date", F.when(gap <= EPISODE_GAP_DAYS, 0).otherwise(1).alias("new"))
    numbered = starts.withColumn("episode", F.sum("new").over(order.rowsBetween(Window.unboundedPreceding, 0)))
    return numbered.groupBy(*KEY, "alert_type", "episode").agg(
        F.min("date").alias("start_date"), F.max("date").alias("end_date"), F.count("*").alias("days")
    ).drop("episode")


def match_episodes(episodes: DataFrame, truth: DataFrame, tolerance: int) -> DataFrame:
    """Matched pairs (ep_id, alert_type, gt_id) under the module's matching rule; ids come from the inputs."""
    mapping = F.create_map(*[F.lit(x) for pair in ALERT_TO_TRUTH.items() for x in pair])
    ep = episodes.withColumn("truth_type", mapping[F.col("alert_type")])
    tr = truth.select(*KEY, F.col("episode_type").alias("truth_type"), F.col("start_date").alias("g_start"),
                      F.col("end_date").alias("g_end"), "gt_id")
    cond = ((ep.store_id == tr.store_id) & (ep.item_id == tr.item_id) & (ep.truth_type == tr.truth_type)
            & (ep.start_date <= F.date_add(tr.g_end, tolerance)) & (ep.end_date >= F.date_sub(tr.g_start, tolerance)))
    return ep.alias("ep").join(tr.alias("tr"), cond, "inner").select("ep.ep_id", "ep.alert_type", "tr.gt_id")


def precision_recall(episodes: DataFrame, truth: DataFrame, tolerance: int) -> list[dict[str, object]]:
    """One dict per alert type (small, collected): alert_type, truth_type, alert_episodes, matched_alerts,
    truth_episodes, matched_truth, precision, recall."""
    # Ids from the episodes' own columns, so each action below recomputes the same ids (no cache needed).
    ep = episodes.withColumn("ep_id", F.concat_ws("|", *KEY, "alert_type", F.col("start_date").cast("string")))
    tr = truth.withColumn("gt_id", F.concat_ws("|", *KEY, "episode_type", F.col("start_date").cast("string"),
                                               F.col("end_date").cast("string")))
    pairs = match_episodes(ep, tr, tolerance)
    matched = pairs.select("ep_id").distinct().withColumn("matched", F.lit(1))
    per_type = ep.join(matched, "ep_id", "left").groupBy("alert_type").agg(
        F.count("*").alias("n"), F.sum(F.coalesce("matched", F.lit(0))).alias("m")).collect()
    alert_n = {r["alert_type"]: r["n"] for r in per_type}
    alert_m = {r["alert_type"]: r["m"] for r in per_type}
    truth_n = {r["episode_type"]: r["count"] for r in tr.groupBy("episode_type").count().collect()}
    truth_m = {r["alert_type"]: r["n"] for r in pairs.groupBy("alert_type").agg(
        F.countDistinct("gt_id").alias("n")).collect()}
    rows: list[dict[str, object]] = []
    for alert_type, truth_type in ALERT_TO_TRUTH.items():
        n_a, m_a = int(alert_n.get(alert_type, 0)), int(alert_m.get(alert_type, 0))
        n_t, m_t = int(truth_n.get(truth_type, 0)), int(truth_m.get(alert_type, 0))
        rows.append({"alert_type": alert_type, "truth_type": truth_type, "alert_episodes": n_a,
                     "matched_alerts": m_a, "truth_episodes": n_t, "matched_truth": m_t,
                     "precision": m_a / n_a if n_a else None, "recall": m_t / n_t if n_t else None})
    return rows


def slow_mover_flag_rate(signals: DataFrame, truth: DataFrame) -> tuple[int, int]:
    """(zero-sales days of slow movers, those with any alert) for ground-truth ``slow_mover`` series."""
    slow = truth.filter(F.col("episode_type") == "slow_mover").select(*KEY).distinct()
    days = signals.join(slow, KEY, "inner").filter((F.col("units_sold") == 0) & ~F.col("is_filled"))
    row = days.agg(F.count("*").alias("n"), F.sum(
        (F.col("avail_alert").isNotNull() | F.col("ss_alert")).cast("int")).alias("flagged")).collect()[0]
    return int(row["n"]), int(row["flagged"] or 0)
