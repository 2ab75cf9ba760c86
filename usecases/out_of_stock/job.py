"""Bundle tasks of the out_of_stock job: generate, prepare (with store closures), expected_demand, detect, evaluate,
publish."""

from __future__ import annotations

import logging
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shared import tracking
from shared.contracts import quarantine_rows
from shared.grouped import map_sorted_groups
from shared.spark import parallelism
from shared.task import TaskContext, TaskEntryPoint, TaskReport
from usecases.out_of_stock.alerts import build_alert_days, build_alerts, build_osa_daily
from usecases.out_of_stock.closures import mark_closures, store_days
from usecases.out_of_stock.config import OutOfStockConfig as Cfg
from usecases.out_of_stock.contracts import KEY, LEAD_TIMES, STORE_ITEM_DAILY
from usecases.out_of_stock.demand import DEMAND_SCHEMA, expected_demand_one_series
from usecases.out_of_stock.detect import SIGNALS_SCHEMA, detect_one_series
from usecases.out_of_stock.evaluate import (
    alert_day_precision_recall,
    alert_episodes,
    precision_recall,
    slow_mover_flag_rate,
)
from usecases.out_of_stock.generate import DAILY_COLUMNS, SIM_SCHEMA, simulate_batches
from usecases.out_of_stock.prepare import complete_calendar

EVALUATION_SCHEMA = (
    "alert_type string, truth_type string, alert_episodes int, matched_alerts int, truth_episodes int, "
    "matched_truth int, precision double, recall double, alert_days int, alert_days_in_truth int, "
    "truth_days int, truth_days_alerted int, day_precision double, day_recall double"
)
ON = list(KEY)
UNMATCHED_EXAMPLES = 3  # store-items of lead_times that match no series, named in the warning

log = logging.getLogger(__name__)


def run_generate(ctx: TaskContext[Cfg], cfg: Cfg) -> TaskReport:
    """Write seeded store_item_daily, lead_times and oos_ground_truth where allowed (never overwrites)."""
    n_series = cfg.n_stores * cfg.n_items
    targets = [cfg.store_item_daily_table, cfg.lead_times_table, cfg.ground_truth_table]
    if not ctx.should_generate(targets, cfg):
        return TaskReport(0, 0, balanced=False, metrics={"generated": 0.0})
    slices = max(1, min(n_series, parallelism(ctx.spark) * 4))
    ids = ctx.spark.range(0, n_series, numPartitions=slices)
    simulation = ids.mapInPandas(
        simulate_batches(cfg.seed, cfg.n_items, cfg.n_days, date.fromisoformat(cfg.start_date)), SIM_SCHEMA)
    # The simulation feeds three tables: stage it once (serverless has no cache) instead of simulating thrice.
    with ctx.staged(simulation, "simulation") as sim:
        rows = sim.count()
        ctx.tables.write(sim.select(*DAILY_COLUMNS), cfg.store_item_daily_table)
        ctx.tables.write(sim.select(*KEY, "lead_time_days").distinct(), cfg.lead_times_table)
        episodes = sim.filter(F.col("gt_type").isNotNull()).groupBy(*KEY, F.col("gt_type").alias("episode_type"))
        slow = sim.filter(F.col("profile") == "slow").groupBy(*KEY, F.lit("slow_mover").alias("episode_type"))
        agg = [F.min("date").alias("start_date"), F.max("date").alias("end_date")]
        ctx.tables.write(episodes.agg(*agg).unionByName(slow.agg(*agg)), cfg.ground_truth_table)
    return TaskReport(rows, rows, balanced=True, metrics={"generated": 1.0, "series": float(n_series)})


def run_prepare(ctx: TaskContext[Cfg], cfg: Cfg) -> TaskReport:
    """Contract-check store_item_daily, complete the calendar, add balance features, detect store closures
    (a store-day aggregate -> oos_store_days) and mark them -> oos_prepared."""
    valid, rows_in = ctx.read_with_contract(cfg.store_item_daily_table, STORE_ITEM_DAILY)
    # Closures come from the reported rows alone (the calendar adds only filled-in days, which they ignore).
    ctx.tables.write(store_days(valid, cfg), cfg.store_days_table)
    ctx.tables.write(mark_closures(complete_calendar(valid), ctx.tables.read(cfg.store_days_table)),
                     cfg.prepared_table)
    prepared = ctx.tables.read(cfg.prepared_table)
    counts = prepared.agg(F.count("*").alias("n"), F.sum(F.col("is_filled").cast("int")).alias("filled")).collect()[0]
    filled = int(counts["filled"] or 0)
    closed = ctx.tables.read(cfg.store_days_table).filter("store_closed").count()
    return TaskReport(rows_in, int(counts["n"]) - filled, ctx.quarantined,
                      metrics={"filled_days": float(filled), "prepared_rows": float(counts["n"]),
                               "store_closed_days": float(closed)})


def run_expected_demand(ctx: TaskContext[Cfg], cfg: Cfg) -> TaskReport:
    """Per store-item censored smoothing of past sales -> oos_expected_demand (same rows as oos_prepared)."""
    prepared = ctx.tables.read(cfg.prepared_table)
    alpha = cfg.smoothing_alpha
    # Many small series: groups batched into Arrow batches (shared.grouped), not one Arrow stream per series.
    demand = map_sorted_groups(prepared, KEY, ["date"], lambda pdf: expected_demand_one_series(pdf, alpha),
                               DEMAND_SCHEMA)
    ctx.tables.write(demand, cfg.expected_demand_table)
    return TaskReport(prepared.count(), ctx.tables.read(cfg.expected_demand_table).count())


def run_detect(ctx: TaskContext[Cfg], cfg: Cfg) -> TaskReport:
    """Join lead times, score the four signals per store-item -> oos_signals; series without a lead time are
    still scored (no safety-stock signal) and listed in oos_lead_time_gaps with a reason."""
    demand = ctx.tables.read(cfg.expected_demand_table)
    lead_times, _ = ctx.read_with_contract(cfg.lead_times_table, LEAD_TIMES)
    series = demand.select(*KEY).distinct()
    missing = series.join(lead_times.select(*KEY), ON, "left_anti")
    ctx.tables.write(quarantine_rows(missing, "no valid lead time for this store-item: safety-stock signal skipped"),
                     cfg.lead_time_gaps_table)
    joined = demand.join(lead_times.select(*KEY, "lead_time_days"), ON, "left")
    signals = map_sorted_groups(joined, KEY, ["date"], lambda pdf: detect_one_series(pdf, cfg), SIGNALS_SCHEMA)
    ctx.tables.write(signals, cfg.signals_table)
    out = ctx.tables.read(cfg.signals_table)
    n_missing = ctx.tables.read(cfg.lead_time_gaps_table).count()
    unmatched = lead_times.select(*KEY).join(series, ON, "left_anti")
    n_unmatched = unmatched.count()
    if n_unmatched:  # often ids written two ways ('0012' and '12'): then most series lack a lead time too
        first = unmatched.orderBy(*KEY).limit(UNMATCHED_EXAMPLES).collect()
        examples = ", ".join(f"({r[0]!r}, {r[1]!r})" for r in first)
        log.warning("out_of_stock.detect: %d lead_times row(s) match no store-item of %s and are unused, e.g. %s; "
                    "%d store-item(s) have no lead time", n_unmatched, cfg.store_item_daily_table, examples, n_missing)
    return TaskReport(demand.count(), out.count(), metrics={
        "series_without_lead_time": float(n_missing), "lead_time_rows_quarantined": float(ctx.quarantined),
        "lead_time_rows_unmatched": float(n_unmatched)})


def run_evaluate(ctx: TaskContext[Cfg], cfg: Cfg) -> TaskReport:
    """Precision/recall per alert type against oos_ground_truth (when present) and plots, logged to MLflow."""
    signals = ctx.tables.read(cfg.signals_table)
    # Alert days come from a window over every signal row and feed about ten actions below: staged once, as
    # serverless has no cache.
    with ctx.staged(build_alert_days(signals), "alert_days") as alert_days:
        metrics = _evaluate(ctx, cfg, signals, alert_days)
    summary = [f"on-shelf availability {metrics['osa_mean']:.1%} on open days (mean of store-weeks)"]
    found = [f"{t} precision {metrics[f'precision_{t}']:.2f} recall {metrics[f'recall_{t}']:.2f}"
             for t in sorted({k.split("_", 1)[1] for k in metrics if k.startswith("precision_")})
             if f"recall_{t}" in metrics]
    if found:
        summary.append("against the ground truth, per episode: " + "; ".join(found))
    return TaskReport(signals.count(), int(metrics["alert_days"]), balanced=False, metrics=metrics, summary=summary)


def _evaluate(ctx: TaskContext[Cfg], cfg: Cfg, signals: DataFrame, alert_days: DataFrame) -> dict[str, float]:
    """The evaluate task's metrics, evaluation table and plots, logged to MLflow."""
    from usecases.out_of_stock.plots import actual_vs_expected_figure, osa_heatmap_figure

    metrics: dict[str, float] = {"alert_days": float(alert_days.count())}
    with ctx.mlflow_run(cfg):
        if ctx.tables.exists(cfg.ground_truth_table):
            truth = ctx.tables.read(cfg.ground_truth_table)
            rows = precision_recall(alert_episodes(alert_days), truth, cfg.match_tolerance_days)
            per_day = {r["alert_type"]: r for r in alert_day_precision_recall(alert_days, truth,
                                                                              cfg.match_tolerance_days)}
            for r in rows:
                r.update(per_day[r["alert_type"]])
                for name in ("precision", "recall", "day_precision", "day_recall"):
                    if r[name] is not None:
                        metrics[f"{name}_{r['alert_type']}"] = float(r[name])  # type: ignore[arg-type]
            zero_days, flagged = slow_mover_flag_rate(signals, truth)
            metrics["slow_mover_zero_days"] = float(zero_days)
            metrics["slow_mover_zero_day_flag_rate"] = flagged / zero_days if zero_days else 0.0
            ctx.tables.write(ctx.spark.createDataFrame(rows, EVALUATION_SCHEMA), cfg.evaluation_table)
            tracking.log_dict({"episodes_and_days": rows}, "evaluation/precision_recall.json")
        top = (alert_days.filter(F.col("alert_type") != "safety_stock").groupBy(*KEY).count()
               .orderBy(F.desc("count"), *KEY).limit(cfg.plot_top_items))
        series = signals.join(top.select(*KEY), ON).select(*KEY, "date", "units_sold", "expected_units").toPandas()
        marks = alert_days.join(top.select(*KEY), ON).select(*KEY, "date", "alert_type").toPandas()
        tracking.log_figure(actual_vs_expected_figure(series, marks), "plots/actual_vs_expected_top_items.png")
        open_days = signals.filter(~F.col("store_closed"))  # a closed store is not an availability gap
        weekly = (open_days.groupBy("store_id", F.date_trunc("week", "date").cast("date").alias("week"))
                  .agg(F.avg("osa_pct").alias("osa_pct")).toPandas())  # stores x weeks: small
        tracking.log_figure(osa_heatmap_figure(weekly), "plots/osa_heatmap.png")
        metrics["osa_mean"] = float(weekly["osa_pct"].mean()) if len(weekly) else 0.0
        tracking.log_metrics(metrics)
    return metrics


def run_publish(ctx: TaskContext[Cfg], cfg: Cfg) -> TaskReport:
    """Write oos_alerts (one row per alert episode), oos_alert_days (one row per alert type and day) and
    osa_daily (one row per store-item-day)."""
    signals = ctx.tables.read(cfg.signals_table)
    ctx.tables.write(build_alert_days(signals), cfg.alert_days_table)
    # Episodes from the alert days just written: the window over every signal row runs once, not twice.
    ctx.tables.write(build_alerts(signals, ctx.tables.read(cfg.alert_days_table)), cfg.alerts_table)
    ctx.tables.write(build_osa_daily(signals), cfg.osa_daily_table)
    alerts = ctx.tables.read(cfg.alerts_table)
    by_type = {r["alert_type"]: float(r["count"]) for r in alerts.groupBy("alert_type").count().collect()}
    episodes = ", ".join(f"{int(v):,} {k}" for k, v in sorted(by_type.items())) or "none"
    return TaskReport(signals.count(), ctx.tables.read(cfg.osa_daily_table).count(),
                      metrics={f"alert_episodes_{k}": v for k, v in by_type.items()},
                      summary=[f"alert episodes in {cfg.alerts_table}: {episodes}"])


generate = TaskEntryPoint("out_of_stock", "generate", Cfg, run_generate)
prepare = TaskEntryPoint("out_of_stock", "prepare", Cfg, run_prepare)
expected_demand = TaskEntryPoint("out_of_stock", "expected_demand", Cfg, run_expected_demand)
detect = TaskEntryPoint("out_of_stock", "detect", Cfg, run_detect)
evaluate = TaskEntryPoint("out_of_stock", "evaluate", Cfg, run_evaluate)
publish = TaskEntryPoint("out_of_stock", "publish", Cfg, run_publish)
