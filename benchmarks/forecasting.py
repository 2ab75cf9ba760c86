"""Forecasting benchmark: Prophet per series through the Spark job's grouped map versus a plain Python loop.

Both sides run the job's own per-series function (``forecast_one_series``) with the job's default Prophet
settings over the same generated series (3 years daily by default), after a warm-up (Spark's Python workers
started, Prophet imported). Spark's time covers balancing, the shuffle, the grouped map and writing the
results; the loop's time covers the same fits and predictions in one process. The per-core ratio divides
Spark's throughput by its cores before comparing: 1.0 means Spark adds no overhead and keeps every core busy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

KEYS = ["store_id", "item_id"]


def make_series(n_series: int, days: int, seed: int, end: dt.date, country: str) -> pd.DataFrame:
    """Prepared rows (store_id, item_id, date, units_sold) of ``n_series`` regular series, calendars complete."""
    from usecases.forecasting.generate import holiday_dates, series_specs, simulate_series

    stores = max(1, int(np.ceil(n_series / 50)))
    specs = series_specs(seed, stores, 50, days, 0.0, 0.0).head(n_series)
    holidays = holiday_dates(country, end - dt.timedelta(days=days - 1), end)
    calendar = pd.DataFrame({"date": pd.date_range(end=end, periods=days).date})
    frames = []
    for _, spec in specs.iterrows():
        sold = simulate_series(spec, seed, end, holidays)[["date", "units_sold"]]
        frame = calendar.merge(sold, on="date", how="left").fillna({"units_sold": 0}).astype({"units_sold": float})
        frames.append(frame.assign(store_id=str(spec["store"]), item_id=str(spec["item"])))
    return pd.concat(frames, ignore_index=True)[[*KEYS, "date", "units_sold"]]


def spark_cores(master: str) -> int:
    """Cores of a local master (``local[2]``, ``local[*]``); the machine's cores otherwise."""
    match = re.match(r"local\[(\d+|\*)", master)
    if match and match.group(1) != "*":
        return int(match.group(1))
    return os.cpu_count() or 1


def run_loop(prepared: pd.DataFrame, settings) -> tuple[float, pd.DataFrame]:  # noqa: ANN001 - ForecastSettings
    from usecases.forecasting.model import forecast_one_series

    started = time.perf_counter()
    rows = [forecast_one_series(pdf, KEYS, settings) for _, pdf in prepared.groupby(KEYS, sort=True)]
    return time.perf_counter() - started, pd.concat(rows, ignore_index=True)


def run_spark(spark, prepared_df, settings, out: Path) -> float:  # noqa: ANN001 - SparkSession, DataFrame
    from usecases.forecasting.model import forecast_one_series, result_schema
    from usecases.forecasting.partitioning import BUCKET, partition_count, with_balanced_buckets

    def fit(pdf: pd.DataFrame) -> pd.DataFrame:
        return forecast_one_series(pdf, KEYS, settings)

    started = time.perf_counter()
    n_series = prepared_df.select(*KEYS).distinct().count()
    n = partition_count(spark, n_series)
    (with_balanced_buckets(prepared_df, KEYS, n).groupBy(BUCKET, *KEYS).applyInPandas(fit, result_schema(KEYS))
     .write.mode("overwrite").parquet(str(out)))
    return time.perf_counter() - started


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks forecasting")
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    from shared.spark import get_spark
    from usecases.forecasting.config import ForecastingConfig
    from usecases.forecasting.model import ForecastSettings

    cfg = ForecastingConfig(seed=args.seed)
    prepared = make_series(args.series, args.days, args.seed, dt.date.fromisoformat(cfg.history_end),
                           cfg.holidays_country)
    spark = get_spark("bench-forecasting")
    cores = spark_cores(spark.sparkContext.master)
    with tempfile.TemporaryDirectory(prefix="bench-forecasting-") as tmp:
        settings = ForecastSettings.from_config(cfg, str(Path(tmp) / "scratch"))
        prepared_df = spark.createDataFrame(prepared, "store_id string, item_id string, date date, units_sold double")
        prepared_df = prepared_df.cache()
        prepared_df.count()
        warm = prepared[prepared["store_id"].eq("1") & prepared["item_id"].isin(["1", "2", "3", "4"])]
        run_spark(spark, spark.createDataFrame(warm, prepared_df.schema), settings, Path(tmp) / "warm")
        run_loop(warm[warm["item_id"] == "1"], settings)

        spark_s = run_spark(spark, prepared_df, settings, Path(tmp) / "spark")
        from_spark = pd.read_parquet(Path(tmp) / "spark").drop(columns=["training_date"], errors="ignore")
        loop_s, from_loop = run_loop(prepared, settings)
        prepared_df.unpersist()
        leftovers = list((Path(tmp) / "scratch").glob("*")) if (Path(tmp) / "scratch").exists() else []

    merged = from_loop.merge(from_spark, on=KEYS, suffixes=("_loop", "_spark"))
    identical = len(merged) == args.series and all(
        np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-9, atol=1e-9, equal_nan=True)
        for col in ("yhat", "yhat_lower", "yhat_upper")
        for a, b in zip(merged[f"{col}_loop"], merged[f"{col}_spark"], strict=True)
    ) and (merged["model_loop"] == merged["model_spark"]).all()
    spark_rate, loop_rate = args.series / spark_s, args.series / loop_s
    return {
        "series": args.series, "days_per_series": args.days, "horizon": cfg.horizon,
        "uncertainty_samples": cfg.uncertainty_samples, "holidays_country": cfg.holidays_country,
        "seasonality_mode": cfg.seasonality_mode, "spark_cores": cores,
        "spark_seconds": round(spark_s, 2), "loop_seconds": round(loop_s, 2),
        "spark_series_per_second": round(spark_rate, 3), "loop_series_per_second": round(loop_rate, 3),
        "speedup": round(spark_rate / loop_rate, 3),
        "per_core_ratio": round(spark_rate / cores / loop_rate, 3), "per_core_target": 0.85,
        "fit_seconds_per_series": {"loop": round(float(from_loop["fit_seconds"].mean()), 3),
                                   "spark": round(float(from_spark["fit_seconds"].mean()), 3)},
        "predict_seconds_per_series": {"loop": round(float(from_loop["predict_seconds"].mean()), 3),
                                       "spark": round(float(from_spark["predict_seconds"].mean()), 3)},
        "fallback_series": int((from_spark["error"].notna()).sum()),
        "identical_forecasts": bool(identical), "cmdstan_files_left": len(leftovers),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }
