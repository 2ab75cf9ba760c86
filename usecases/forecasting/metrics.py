"""Point-forecast accuracy metrics: MAE, RMSE, sMAPE and MASE (scaled by in-sample seasonal-naive error)."""

from __future__ import annotations

import numpy as np

METRICS = ("mae", "rmse", "smape", "mase")


def seasonal_naive_scale(y: np.ndarray, season: int) -> float:
    """Mean |y_t - y_{t-season}| over a training window: MASE's denominator (NaN when undefined or zero)."""
    values = np.asarray(y, dtype=float)
    diffs = np.abs(values[season:] - values[:-season])
    diffs = diffs[~np.isnan(diffs)]
    if diffs.size == 0 or diffs.mean() == 0:
        return float("nan")
    return float(diffs.mean())


def accuracy(actual: np.ndarray, predicted: np.ndarray, scale: float) -> dict[str, float]:
    """MAE, RMSE, sMAPE (percent, 0..200; 0/0 days count as exact) and MASE over days with an actual value."""
    a, p = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    keep = ~np.isnan(a) & ~np.isnan(p)
    a, p = a[keep], p[keep]
    if a.size == 0:
        return dict.fromkeys(METRICS, float("nan"))
    error = np.abs(a - p)
    denominator = np.abs(a) + np.abs(p)
    ratio = np.divide(2 * error, denominator, out=np.zeros_like(error), where=denominator > 0)
    mae = float(error.mean())
    return {"mae": mae, "rmse": float(np.sqrt(np.mean(error**2))), "smape": float(100 * ratio.mean()),
            "mase": mae / scale if scale and not np.isnan(scale) else float("nan")}
