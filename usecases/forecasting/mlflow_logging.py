"""What the publish task logs to MLflow: forecast and metric figures, and the demand_forecaster pyfunc."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path

import mlflow
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shared.registry import Registration, model_name, register_model
from shared.tracking import log_figure, scratch_dir
from usecases.forecasting import forecaster_model
from usecases.forecasting.config import ForecastingConfig
from usecases.forecasting.plots import forecast_figure, metric_distribution_figure
from usecases.forecasting.publish import write_series_models

KEY_METRIC = "chosen_median_mase"  # backtest MASE of each series' chosen model, median over series
METRIC_ROWS_MAX = 50_000  # bound on per-series metric rows collected for the distribution plot
HISTORY_DAYS_PLOTTED = 180


def log_figures(prepared: DataFrame, forecasts: DataFrame, metrics: DataFrame, cfg: ForecastingConfig) -> None:
    """The MASE distribution per model, and history + forecast of the first ``plot_series`` series."""
    sample = metrics.select("model", "mase").limit(METRIC_ROWS_MAX).toPandas()
    log_figure(metric_distribution_figure(sample, "mase"), "plots/mase_distribution.png")
    keys = cfg.keys
    chosen = forecasts.select(*keys).distinct().orderBy(*keys).limit(cfg.plot_series).toPandas()
    if chosen.empty:
        return
    picked = prepared.sparkSession.createDataFrame(chosen, ", ".join(f"`{k}` string" for k in keys))
    last = prepared.agg(F.max("date")).first()[0]
    history = (prepared.join(F.broadcast(picked), on=keys)
               .filter(F.col("date") > F.date_sub(F.lit(last), HISTORY_DAYS_PLOTTED)).toPandas())
    future = forecasts.join(F.broadcast(picked), on=keys).toPandas()
    for _, key in chosen.iterrows():
        label = ", ".join(f"{k}={key[k]}" for k in keys)
        h = history.loc[(history[keys] == key[keys].to_numpy()).all(axis=1)].sort_values("date")
        f = future.loc[(future[keys] == key[keys].to_numpy()).all(axis=1)].sort_values("ds")
        name = "_".join(str(key[k]) for k in keys)
        log_figure(forecast_figure(h, f, f"{label} ({f['model'].iloc[0] if len(f) else '-'})"),
                   f"plots/forecast_{name}.png")


def forecaster_signature(keys: list[str]) -> ModelSignature:
    """Input: keys (string) and horizon (long); output: keys, ds, yhat, yhat_lower, yhat_upper, model."""
    inputs = Schema([*[ColSpec("string", k) for k in keys], ColSpec("long", forecaster_model.HORIZON)])
    outputs = Schema([*[ColSpec("string", k) for k in keys], ColSpec("datetime", "ds"), ColSpec("double", "yhat"),
                      ColSpec("double", "yhat_lower"), ColSpec("double", "yhat_upper"), ColSpec("string", "model")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def requirements() -> list[str]:
    """Pinned serving requirements, so MLflow does not have to infer them (slow: it loads the model)."""
    from importlib.metadata import version  # not importing prophet here: its import logs a plotly error

    return [f"{name}=={version(name)}" for name in ("mlflow", "prophet", "statsforecast", "pandas", "numpy")]


def log_and_register_forecaster(results: DataFrame, cfg: ForecastingConfig,
                                aggregates: Mapping[str, float]) -> Registration:
    """Log one pyfunc holding every series' model (``results``: keys, model, model_state) and register it."""
    with scratch_dir("forecasting-model-") as tmp:
        series_path, meta_path = Path(tmp) / "series_models.jsonl", Path(tmp) / "meta.json"
        count = write_series_models(results, cfg.keys, series_path)
        meta_path.write_text(json.dumps({"key_columns": cfg.keys, "seed": cfg.seed, "intervals": cfg.intervals,
                                         "nonnegative": cfg.nonnegative, "series": count}))
        with warnings.catch_warnings():  # an input example would make MLflow load and run the model at logging
            warnings.filterwarnings("ignore", message=".*An input example was not provided")
            info = mlflow.pyfunc.log_model(
                name="model", python_model=forecaster_model.__file__,
                artifacts={"series_models": str(series_path), "meta": str(meta_path)},
                signature=forecaster_signature(cfg.keys), pip_requirements=requirements(),
            )
    value = float(aggregates.get(KEY_METRIC, float("nan")))
    return register_model(info.model_uri, model_name(cfg.catalog, cfg.schema, cfg.registered_model), KEY_METRIC, value,
                          higher_is_better=False)
