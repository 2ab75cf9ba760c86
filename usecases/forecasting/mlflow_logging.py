"""What the publish task logs to MLflow: forecast and metric figures, and the demand_forecaster pyfunc."""

from __future__ import annotations

import datetime as dt
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
from usecases.forecasting.columns import key_columns, key_schema
from usecases.forecasting.config import ForecastingConfig
from usecases.forecasting.gate import GATE_METRIC, GateData, mean_score
from usecases.forecasting.model import fit_settings
from usecases.forecasting.plots import forecast_figure, metric_distribution_figure
from usecases.forecasting.publish import write_series_models

METRIC_ROWS_MAX = 50_000  # bound on per-series metric rows collected for the distribution plot
HISTORY_DAYS_PLOTTED = 180


def log_figures(prepared: DataFrame, forecasts: DataFrame, metrics: DataFrame, cfg: ForecastingConfig) -> None:
    """The MASE distribution per model, and history + forecast of the first ``plot_series`` series."""
    sample = metrics.select("model", "mase").limit(METRIC_ROWS_MAX).toPandas()
    log_figure(metric_distribution_figure(sample, "mase"), "plots/mase_distribution.png")
    keys = cfg.keys
    chosen = (forecasts.select(*key_columns(keys)).distinct().orderBy(*key_columns(keys)).limit(cfg.plot_series)
              .toPandas())
    if chosen.empty:
        return
    picked = prepared.sparkSession.createDataFrame(chosen, key_schema(keys))
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


def log_and_register_forecaster(results: DataFrame, cfg: ForecastingConfig, training_date: dt.date, gate: GateData,
                                tags: Mapping[str, str]) -> Registration:
    """Log one pyfunc holding every series' model (``results``: keys, model, model_state) and register it.

    The registry's gate (``gate.py``) compares it with the champion on this run's last backtest window:
    ``gate_smape``, the mean over series of the last-fold sMAPE, lower is better. ``tags`` (lineage) and the
    window go on the model version.
    """
    with scratch_dir("forecasting-model-") as tmp:
        series_path, meta_path = Path(tmp) / "series_models.jsonl", Path(tmp) / "meta.json"
        count = write_series_models(results, cfg.keys, series_path)
        meta_path.write_text(json.dumps({"key_columns": cfg.keys, "seed": cfg.seed, "intervals": cfg.intervals,
                                         "nonnegative": cfg.nonnegative, "series": count,
                                         "training_date": training_date.isoformat(),
                                         "fit_settings": fit_settings(gate.settings)}))
        with warnings.catch_warnings():  # an input example would make MLflow load and run the model at logging
            warnings.filterwarnings("ignore", message=".*An input example was not provided")
            info = mlflow.pyfunc.log_model(
                name="model", python_model=forecaster_model.__file__,
                artifacts={"series_models": str(series_path), "meta": str(meta_path)},
                signature=forecaster_signature(cfg.keys), pip_requirements=requirements(),
            )
    value, n_series = mean_score(gate.challenger)
    start = training_date - dt.timedelta(days=gate.horizon - 1)
    window = {"training_date": training_date.isoformat(), "gate_window": f"{start.isoformat()}..{training_date}",
              "gate_series": str(n_series)}
    mlflow.log_metric("gate_series", n_series)
    return register_model(info.model_uri, model_name(cfg.catalog, cfg.schema, cfg.registered_model), GATE_METRIC,
                          value, higher_is_better=False, score_model=gate.scorer(), tags={**tags, **window})
