"""Publishing transforms: forecast rows from per-series results, aggregate backtest metrics, the model artifact."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from usecases.forecasting.backtest import PROPHET_LABEL
from usecases.forecasting.columns import key_columns
from usecases.forecasting.forecaster_model import SEASONAL_NAIVE
from usecases.forecasting.metrics import METRICS
from usecases.forecasting.model import CHOSEN

FORECAST_VALUES = ("ds", "yhat", "yhat_lower", "yhat_upper")


def explode_forecasts(models: DataFrame, keys: Sequence[str], run_id: str) -> DataFrame:
    """Per-series results (keys, model, training_date, ds[], yhat[], ...) -> ``forecasts`` rows.

    Output columns: keys, ds, yhat, yhat_lower, yhat_upper, model, training_date, run_id (intervals null
    when they were not asked for).
    """
    zipped = models.select(*key_columns(keys), "model", "training_date",
                           F.explode(F.arrays_zip(*FORECAST_VALUES)).alias("f"))
    bounds = [F.when(F.isnan(F.col(f"f.{c}")), None).otherwise(F.col(f"f.{c}")).alias(c)
              for c in ("yhat_lower", "yhat_upper")]
    return zipped.select(*key_columns(keys), F.col("f.ds").alias("ds"), F.col("f.yhat").alias("yhat"), *bounds, "model",
                         "training_date", F.lit(run_id).alias("run_id"))


def errors_from_results(models: DataFrame, keys: Sequence[str]) -> DataFrame:
    """``forecast_errors`` rows: series whose chosen model could not be used (keys, training_date, error_type,
    error, chosen_model, fallback_model)."""
    return models.filter(F.col("error").isNotNull()).select(
        *key_columns(keys), "training_date", "error_type", "error", CHOSEN, F.col("model").alias("fallback_model"))


def aggregate_metrics(metrics: DataFrame, keys: Sequence[str]) -> dict[str, float]:
    """Backtest summary in two small actions whatever the number of series.

    Mean and median of each metric per candidate (``<model>_mean_smape``), over each series' chosen model
    (``chosen_mean_smape``) and over the series that chose a model (``chosen_<model>_mean_smape``); how many
    series chose each model (``chosen_<model>_series``); the shares of series where Prophet's and the chosen
    model's backtest MASE beat seasonal-naive's.
    """
    exprs = [F.avg(m).alias(f"mean_{m}") for m in METRICS] + [
        F.percentile_approx(m, 0.5).alias(f"median_{m}") for m in METRICS]
    is_chosen = F.col("model") == F.col(CHOSEN)
    groups = F.array(F.col("model"), F.when(is_chosen, F.lit("chosen")),
                     F.when(is_chosen, F.concat(F.lit("chosen_"), F.col(CHOSEN))))
    out: dict[str, float] = {}
    summary = (metrics.withColumn("_group", F.explode(groups)).filter(F.col("_group").isNotNull())
               .groupBy("_group").agg(*exprs, F.count("*").alias("series")).collect())  # 2 + 2 x candidates rows
    for row in summary:
        out.update({f"{row['_group']}_{name}": float(v) for name, v in row.asDict().items()
                    if name != "_group" and v is not None})

    def mase_of(condition: Column) -> Column:
        return F.first(F.when(condition, F.col("mase")), ignorenulls=True)

    paired = metrics.groupBy(*key_columns(keys)).agg(mase_of(F.col("model") == PROPHET_LABEL).alias("p"),
                                        mase_of(F.col("model") == SEASONAL_NAIVE).alias("n"),
                                        mase_of(is_chosen).alias("c"))
    shares = paired.agg(F.avg((F.col("p") < F.col("n")).cast("double")).alias("prophet"),
                        F.avg((F.col("c") < F.col("n")).cast("double")).alias("chosen")).first()
    for name in ("prophet", "chosen"):
        if shares[name] is not None:
            out[f"{name}_beats_naive_share"] = float(shares[name])
    return out


def write_series_models(models: DataFrame, keys: Sequence[str], path: Path) -> int:
    """Stream every series' (key, model, state) to a JSON-lines file without collecting them all at once."""
    count = 0
    with open(path, "w", encoding="utf-8") as fh:
        usable = models.filter(F.col("model_state").isNotNull())  # a series with no finite forecast has no model
        for row in usable.select(*key_columns(keys), "model", "model_state").toLocalIterator():
            fh.write(json.dumps({"key": [row[k] for k in keys], "model": row["model"],
                                 "state": row["model_state"]}) + "\n")
            count += 1
    return count
