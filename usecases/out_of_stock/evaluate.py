"""Alert episodes, their matching to ground-truth episodes, and precision / recall per alert type.

Matching (the definition the tests and MLflow metrics use):
1. An alert episode is a maximal run of alert days of one ``alert_type`` for one store-item in which
   consecutive alert days are at most ``EPISODE_GAP_DAYS`` open days apart (alerts.alert_episodes: the
   rows of ``oos_alerts``).
2. Each alert type answers one ground-truth type (ALERT_TO_TRUTH): phantom_inventory -> phantom_inventory,
   safety_stock -> late_replenishment, zero_sales -> late_replenishment (a real stock-out follows a late
   order), osa_gap -> shelf_problem.
3. An alert episode [a_start, a_end] matches a ground-truth episode [g_start, g_end] of its answered type for
   the same store-item when they overlap once the truth is widened by ``tolerance`` days each side:
   a_start <= g_end + tolerance and a_end >= g_start - tolerance.
4. precision = matched alert episodes / alert episodes; recall = truth episodes matched by at least one
   alert episode / truth episodes. Both are null when their denominator is 0.
5. Per alert-day (``alert_day_precision_recall``): day precision = alert days of the type that fall inside a
   truth episode of the answered type for the same store-item widened by ``tolerance`` days each side /
   alert days; day recall = truth episode days carrying an alert of the type / truth episode days.
Slow movers (ground-truth type ``slow_mover``): the share of their zero-sales days that carry any alert.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from usecases.out_of_stock.alerts import EPISODE_GAP_DAYS, alert_episodes

__all__ = ["EPISODE_GAP_DAYS", "alert_day_precision_recall", "alert_episodes", "match_episodes", "precision_recall",
           "slow_mover_flag_rate"]

ALERT_TO_TRUTH = {"phantom_inventory": "phantom_inventory", "safety_stock": "late_replenishment",
                  "zero_sales": "late_replenishment", "osa_gap": "shelf_problem"}
KEY = ["store_id", "item_id"]


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
    """(zero-sales open days of slow movers, those with any alert) for ground-truth ``slow_mover`` series."""
    slow = truth.filter(F.col("episode_type") == "slow_mover").select(*KEY).distinct()
    days = signals.join(slow, KEY, "inner").filter((F.col("units_sold") == 0) & ~F.col("is_filled"))
    if "store_closed" in signals.columns:
        days = days.filter(~F.col("store_closed"))
    row = days.agg(F.count("*").alias("n"), F.sum(
        (F.col("avail_alert").isNotNull() | F.col("ss_alert")).cast("int")).alias("flagged")).collect()[0]
    return int(row["n"]), int(row["flagged"] or 0)


def alert_day_precision_recall(alert_days: DataFrame, truth: DataFrame, tolerance: int) -> list[dict[str, object]]:
    """Per alert type (small, collected), on store-item-days rather than episodes:

    - ``day_precision`` = alert days inside a ground-truth episode of the answered type for the same
      store-item, widened by ``tolerance`` days each side (the episode rule's tolerance) / alert days;
    - ``day_recall`` = ground-truth episode days (not widened) that carry an alert of the type / truth days.

    ``alert_days``: (date, store_id, item_id, alert_type), one row per alert type and day.
    """
    mapping = F.create_map(*[F.lit(x) for pair in ALERT_TO_TRUTH.items() for x in pair])
    days = (alert_days.select(*KEY, "date", "alert_type").distinct()
            .withColumn("truth_type", mapping[F.col("alert_type")]))
    tr = truth.select(*KEY, F.col("episode_type").alias("truth_type"), "start_date", "end_date")
    cond = ((days.store_id == tr.store_id) & (days.item_id == tr.item_id) & (days.truth_type == tr.truth_type)
            & (days.date >= F.date_sub(tr.start_date, tolerance)) & (days.date <= F.date_add(tr.end_date, tolerance)))
    inside = days.alias("d").join(tr.alias("t"), cond, "left_semi")
    n_days = {r["alert_type"]: r["count"] for r in days.groupBy("alert_type").count().collect()}
    n_inside = {r["alert_type"]: r["count"] for r in inside.groupBy("alert_type").count().collect()}
    truth_days = tr.select(*KEY, "truth_type", F.explode(F.sequence("start_date", "end_date")).alias("date"))
    n_truth = {r["truth_type"]: r["count"] for r in truth_days.groupBy("truth_type").count().collect()}
    covered = truth_days.join(days.select(*KEY, "date", "truth_type", "alert_type"), [*KEY, "date", "truth_type"])
    n_covered = {r["alert_type"]: r["count"] for r in covered.groupBy("alert_type").count().collect()}
    rows: list[dict[str, object]] = []
    for alert_type, truth_type in ALERT_TO_TRUTH.items():
        n_a, m_a = int(n_days.get(alert_type, 0)), int(n_inside.get(alert_type, 0))
        n_t, m_t = int(n_truth.get(truth_type, 0)), int(n_covered.get(alert_type, 0))
        rows.append({"alert_type": alert_type, "alert_days": n_a, "alert_days_in_truth": m_a, "truth_days": n_t,
                     "truth_days_alerted": m_t, "day_precision": m_a / n_a if n_a else None,
                     "day_recall": m_t / n_t if n_t else None})
    return rows
