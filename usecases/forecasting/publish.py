"""Publishing transforms: forecast rows from per-series results, aggregate backtest metrics, the model artifact."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from usecases.forecasting.backtest import PROPHET_LABEL
from usecases.forecasting.forecaster_model import SEASONAL_NAIVE
from usecases.forecasting.metrics import METRICS

FORECAST_VALUES = ("ds", "yhat", "yhat_lower", "yhat_upper")


def explode_forecasts(models: DataFrame, keys: Sequence[str], run_id: str) -> DataFrame:
    """Per-series results (keys, model, training_date, ds[], yhat[], ...) -> ``forecasts`` rows.

    Output columns: keys, ds, yhat, yhat_lower, yhat_upper, model, training_date, run_id (intervals null
    when they were not asked for).
    """
    zipped = models.select(*keys, "model", "training_date",
                           F.explode(F.arrays_zip(*FORECAST_VALUES)).alias("f"))
    bounds = [F.when(F.isnan(F.col(f"f.{c}")), None).otherwise(F.col(f"f.{c}")).alias(c)
              for c in ("yhat_lower", "yhat_upper")]
    return zipped.select(*keys, F.col("f.ds").alias("ds"), F.col("f.yhat").alias("yhat"), *bounds, "model",
                         "training_date", F.lit(run_id).alias("run_id"))


def errors_from_results(models: DataFrame, keys: Sequence[str]) -> DataFrame:
    """``forecast_errors`` rows: series whose Prophet fit failed (keys, training_date, error_type, error, model)."""
    return models.filter(F.col("error").isNotNull()).select(
        *keys, "training_date", "error_type", "error", F.col("model").alias("fallback_model"))


def aggregate_metrics(metrics: DataFrame, keys: Sequence[str]) -> dict[str, float]:
    """Mean and median of each metric per model, and the share of series where Prophet's MASE beats the baseline."""
    exprs = [F.avg(m).alias(f"mean_{m}") for m in METRICS] + [
        F.percentile_approx(m, 0.5).alias(f"median_{m}") for m in METRICS]
    out: dict[str, float] = {}
    for row in metrics.groupBy("model").agg(*exprs, F.count("*").alias("series")).collect():  # one row per model
        out.update({f"{row['model']}_{name}": float(v) for name, v in row.asDict().items()
                    if name != "model" and v is not None})
    paired = (metrics.groupBy(*keys)
              .pivot("model", [PROPHET_LABEL, SEASONAL_NAIVE]).agg(F.first("mase"))
              .filter(F.col(PROPHET_LABEL).isNotNull() & F.col(SEASONAL_NAIVE).isNotNull()))
    share = paired.agg(F.avg((F.col(PROPHET_LABEL) < F.col(SEASONAL_NAIVE)).cast("double"))).first()[0]
    if share is not None:
        out["prophet_beats_naive_share"] = float(share)
    return out


def write_series_models(models: DataFrame, keys: Sequence[str], path: Path) -> int:
    """Stream every series' (key, model, state) to a JSON-lines file without collecting them all at once."""
    count = 0
    with open(path, "w", encoding="utf-8") as fh:
        for row in models.select(*keys, "model", "model_state").toLocalIterator():
            fh.write(json.dumps({"key": [row[k] for k in keys], "model": row["model"],
                                 "state": row["model_state"]}) + "\n")
            count += 1
    return count
