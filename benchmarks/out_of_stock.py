"""Out-of-stock benchmark: store-item-days per second for the whole job at two sizes (N and 2N store-items).

The two runs are two ways of doing the same work for the first N store-items (alone, and inside a job twice
as large): their published alerts must be identical, since every series is simulated and scored on its own.
The figure of merit is the time ratio (target: <= 2.2x for 2x data).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def run_size(n_stores: int, n_items: int, n_days: int, root: Path) -> tuple[float, dict[str, float], Path]:
    """Run the whole job (generate .. publish) once; return wall seconds, seconds per task, warehouse."""
    from shared.bundle import load_bundle
    from shared.runner import run_job

    warehouse = root / f"wh_{n_stores}x{n_items}"
    overrides = {"n_stores": str(n_stores), "n_items": str(n_items), "n_days": str(n_days)}
    started = time.perf_counter()
    results = run_job(load_bundle(Path(__file__).resolve().parents[1]), "out_of_stock", overrides=overrides,
                      warehouse=str(warehouse), echo=lambda _: None)
    elapsed = time.perf_counter() - started
    return elapsed, {r.task: r.report.elapsed_s for r in results}, warehouse


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks out_of_stock")
    parser.add_argument("--stores", type=int, default=10, help="stores at size N (2N doubles the stores)")
    parser.add_argument("--items", type=int, default=100, help="items per store")
    parser.add_argument("--days", type=int, default=730)
    args = parser.parse_args(argv)

    import os

    from shared.spark import get_spark
    from shared.tables import LocalTableStore

    root = Path(tempfile.mkdtemp(prefix="oos-bench-"))
    os.environ.setdefault("USECASES_HOME", str(root / "home"))
    spark = get_spark("bench-out-of-stock")
    spark.range(10).count()  # session start-up is not part of either measurement
    small_s, small_tasks, small_wh = run_size(args.stores, args.items, args.days, root)
    large_s, large_tasks, large_wh = run_size(2 * args.stores, args.items, args.days, root)
    small_alerts = LocalTableStore(spark, "main", "ml_use_cases", small_wh).read("oos_alerts")
    large_alerts = LocalTableStore(spark, "main", "ml_use_cases", large_wh).read("oos_alerts")
    first_stores = small_alerts.select("store_id").distinct()
    subset = large_alerts.join(first_stores, "store_id").select(*small_alerts.columns)
    identical = small_alerts.exceptAll(subset).count() == 0 and subset.exceptAll(small_alerts).count() == 0
    rows_small = args.stores * args.items * args.days
    rows_large = 2 * rows_small
    result = {
        "sizes": {"small": f"{args.stores * args.items} store-items x {args.days} days",
                  "large": f"{2 * args.stores * args.items} store-items x {args.days} days"},
        "rows_small": rows_small, "rows_large": rows_large,
        "seconds_small": round(small_s, 2), "seconds_large": round(large_s, 2),
        "store_item_days_per_s_small": round(rows_small / small_s, 1),
        "store_item_days_per_s_large": round(rows_large / large_s, 1),
        "time_ratio_2x_data": round(large_s / small_s, 3), "target_ratio_max": 2.2,
        "task_seconds_small": small_tasks, "task_seconds_large": large_tasks,
        "alerts_small": small_alerts.count(),
        "alerts_of_first_n_identical_in_both_runs": identical,
        "alerts_by_type_large": {r["alert_type"]: r["count"]
                                 for r in large_alerts.groupBy("alert_type").count().collect()},
        "spark_master": spark.sparkContext.master,
        "note": "whole job = generate, prepare, expected_demand, detect, evaluate (MLflow), publish",
    }
    return result
