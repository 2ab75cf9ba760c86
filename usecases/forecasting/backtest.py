"""Rolling-origin backtest of one series: every candidate model on the same folds, scores, and the choice.

Origins are the last ``folds`` multiples of ``fold_horizon`` days before the training date, so the folds
cover the last ``folds x fold_horizon`` days without overlap; each fold refits every candidate on everything
before its origin (point forecasts only). MASE is scaled by the seasonal-naive in-sample error of the part
before the earliest origin, the same scale for every candidate, so ``mase < 1`` for a model means it beat
in-sample seasonal-naive. Only the candidates of the series' demand class compete (``selection.candidate_pool``);
the chosen model (``selection.choose_model``) is recorded on every row of the series.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from usecases.forecasting.columns import key_schema
from usecases.forecasting.forecaster_model import PROPHET
from usecases.forecasting.metrics import METRICS, accuracy, seasonal_naive_scale
from usecases.forecasting.model import ForecastSettings, point_forecast, to_history
from usecases.forecasting.selection import INTERMITTENT, average_demand_interval, candidate_pool, choose_model

PROPHET_LABEL = PROPHET
# The last fold's scores: the held-out window on which the registry's champion/challenger gate compares versions.
LAST_FOLD = ("last_fold_smape", "last_fold_mae")
METRICS_TAIL = ("model string, folds int, points int, failed_folds int, fit_seconds double, "
                + ", ".join(f"{m} double" for m in METRICS) + ", "
                + ", ".join(f"{m} double" for m in LAST_FOLD)
                + ", demand_class string, adi double, chosen_model string, selection_metric string, "
                "selection_reason string")


def metrics_schema(keys: Sequence[str]) -> str:
    """Output schema of ``backtest_one_series``: key columns as text, then METRICS_TAIL."""
    return key_schema(keys) + ", " + METRICS_TAIL


def fold_origins(n: int, folds: int, fold_horizon: int, min_train: int) -> list[int]:
    """Row indices where each fold's test window starts, oldest first; folds without enough training are dropped."""
    origins = [n - k * fold_horizon for k in range(folds, 0, -1)]
    return [o for o in origins if o >= min_train]


def backtest_one_series(pdf: pd.DataFrame, keys: Sequence[str], settings: ForecastSettings, folds: int,
                        fold_horizon: int, min_train: int, intermittent_folds: int | None = None) -> pd.DataFrame:
    """One series' prepared rows (keys, date, units_sold) -> one metrics row per candidate (``metrics_schema``).

    ``folds`` for a smooth series, ``intermittent_folds`` (default: ``folds``) for an intermittent one: its daily
    scores are noisier and its candidates cost next to nothing, so more folds buy a steadier choice.
    """
    history = to_history(pdf)
    point_settings = dataclasses.replace(settings, uncertainty_samples=0)  # metrics need no intervals
    y = history["y"].to_numpy()
    adi = average_demand_interval(y)
    demand_class, pool = candidate_pool(settings.candidate_models, adi, settings.intermittent_adi)
    if demand_class == INTERMITTENT and intermittent_folds:
        folds = intermittent_folds
    origins = fold_origins(len(history), folds, fold_horizon, min_train)
    actual = np.concatenate([y[o:o + fold_horizon] for o in origins]) if origins else np.array([])
    scale = seasonal_naive_scale(y[: origins[0]], settings.season_length) if origins else float("nan")
    stats: dict[str, dict] = {}
    for model in pool:
        chunks, failed, started = [], 0, time.perf_counter()
        for origin in origins:
            train, steps = history.iloc[:origin], len(y[origin:origin + fold_horizon])
            try:  # point_forecast raises on an infinite or NaN forecast: such a fold counts as failed
                chunks.append(point_forecast(model, train, point_settings, steps))
            except Exception:  # a candidate that cannot fit a fold is out of the running
                chunks.append(np.full(steps, np.nan))
                failed += 1
        predicted = np.concatenate(chunks) if chunks else np.array([])
        used = ~np.isnan(actual) & ~np.isnan(predicted)
        last = accuracy(y[origins[-1]:], chunks[-1], scale) if origins else dict.fromkeys(METRICS, np.nan)
        stats[model] = {"folds": len(origins), "points": int(used.sum()), "failed_folds": failed,
                        "fit_seconds": time.perf_counter() - started, **accuracy(actual, predicted, scale),
                        "last_fold_smape": last["smape"], "last_fold_mae": last["mae"]}
    metric = settings.selection_metric
    observed = y[~np.isnan(y)]
    choice = choose_model({m: s[metric] for m, s in stats.items()},
                          {m: s["failed_folds"] == 0 for m, s in stats.items()}, pool, metric, len(origins),
                          bool(np.unique(observed).size <= 1), settings.selection_tolerance)
    key_values = {k: str(pdf[k].iloc[0]) for k in keys}
    return pd.DataFrame([{**key_values, "model": model, **_finite(s), "demand_class": demand_class,
                          "adi": adi if np.isfinite(adi) else None, "chosen_model": choice.model,
                          "selection_metric": metric, "selection_reason": choice.reason}
                         for model, s in stats.items()])


def _finite(stats: dict[str, float]) -> dict[str, float | None]:
    """Scores as written to ``forecast_metrics``: an undefined or infinite score is null, never inf or NaN."""
    return {k: v if not isinstance(v, float) or np.isfinite(v) else None for k, v in stats.items()}
