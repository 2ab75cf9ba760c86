"""Rolling-origin backtest of one series: Prophet (with its fallback) against seasonal-naive, per model metrics.

Origins are the last ``folds`` multiples of ``fold_horizon`` days before the training date, so the folds
cover the last ``folds x fold_horizon`` days without overlap; each fold refits on everything before its
origin. MASE is scaled by the seasonal-naive in-sample error of the part before the earliest origin, the
same scale for both models, so ``mase(prophet) < mase(seasonal_naive)`` means Prophet beats the baseline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from usecases.forecasting.forecaster_model import SEASONAL_NAIVE, seasonal_naive_forecast, seasonal_naive_state
from usecases.forecasting.metrics import METRICS, accuracy, seasonal_naive_scale
from usecases.forecasting.model import ProphetSettings, forecast_with_fallback, to_history

PROPHET_LABEL = "prophet"
METRICS_TAIL = "model string, folds int, points int, fallback_folds int, " + ", ".join(f"{m} double" for m in METRICS)


def metrics_schema(keys: Sequence[str]) -> str:
    """Output schema of ``backtest_one_series``: key columns as text, then METRICS_TAIL."""
    return ", ".join(f"`{k}` string" for k in keys) + ", " + METRICS_TAIL


def fold_origins(n: int, folds: int, fold_horizon: int, min_train: int) -> list[int]:
    """Row indices where each fold's test window starts, oldest first; folds without enough training are dropped."""
    origins = [n - k * fold_horizon for k in range(folds, 0, -1)]
    return [o for o in origins if o >= min_train]


def backtest_one_series(pdf: pd.DataFrame, keys: Sequence[str], settings: ProphetSettings, folds: int,
                        fold_horizon: int, min_train: int) -> pd.DataFrame:
    """One series' prepared rows (keys, date, units_sold) -> one metrics row per model (``metrics_schema``)."""
    history = to_history(pdf)
    point_settings = dataclasses.replace(settings, uncertainty_samples=0)  # metrics need no intervals
    y = history["y"].to_numpy()
    origins = fold_origins(len(history), folds, fold_horizon, min_train)
    actual: list[np.ndarray] = []
    predicted: dict[str, list[np.ndarray]] = {PROPHET_LABEL: [], SEASONAL_NAIVE: []}
    fallbacks = 0
    for origin in origins:
        train, test = history.iloc[:origin], y[origin:origin + fold_horizon]
        outcome = forecast_with_fallback(train, point_settings, len(test))
        fallbacks += outcome.error is not None
        predicted[PROPHET_LABEL].append(outcome.forecast["yhat"].to_numpy())
        state = seasonal_naive_state(train["y"].to_numpy(), train["ds"].iloc[-1].date(), settings.season_length,
                                     settings.interval_width)
        predicted[SEASONAL_NAIVE].append(seasonal_naive_forecast(state, len(test), False)["yhat"].to_numpy())
        actual.append(test)
    scale = seasonal_naive_scale(y[: origins[0]], settings.season_length) if origins else float("nan")
    key_values = {k: str(pdf[k].iloc[0]) for k in keys}
    rows = []
    for model, chunks in predicted.items():
        a = np.concatenate(actual) if actual else np.array([])
        p = np.concatenate(chunks) if chunks else np.array([])
        rows.append({**key_values, "model": model, "folds": len(origins), "points": int((~np.isnan(a)).sum()),
                     "fallback_folds": fallbacks if model == PROPHET_LABEL else 0, **accuracy(a, p, scale)})
    return pd.DataFrame(rows)
