"""Window models: the point forecast that is best *for the selection metric* over a recent window of the series.

Why: the best point forecast depends on how it is scored (Gneiting 2011, "Making and evaluating point
forecasts"): the mean minimises squared error, the median absolute error, and for sMAPE with its 0/0 = 0
convention the best value of a mostly-zero day is 0. Mean-demand methods (Croston, TSB, ETS, Prophet) forecast a
small positive number every day, which sMAPE scores 2 (its worst) on every zero day; seasonal-naive copies last
week's zeros and wins by accident, but it is one observation per weekday and very noisy. A window model estimates
the same loss-matched value from many days, so it is stable: over the last N weeks (``window_<N>w``), or per
position of the season over the last N seasons (``seasonal_window_<N>w``, e.g. per weekday).

The value is the candidate, among 0 and the window's observed values, with the lowest mean score over the
window's days (``selection_metric``): for ``mae`` that is the median, for ``rmse`` the mean is used, for ``smape``
the sMAPE minimiser. The interval is the window's central ``interval_width`` range of observed values.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

WINDOW_KIND = re.compile(r"^(seasonal_)?window_(\d+)w$")


def parse_kind(kind: str) -> tuple[bool, int]:
    """(seasonal, weeks) of a window model's name, e.g. ``seasonal_window_13w`` -> (True, 13)."""
    match = WINDOW_KIND.match(kind)
    if not match:
        raise ValueError(f"not a window model: {kind!r}")
    return bool(match.group(1)), int(match.group(2))


def smape_losses(values: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Mean sMAPE (0..2, 0/0 = 0) of each candidate forecast over ``values``."""
    v, c = values[None, :], candidates[:, None]
    denominator = np.abs(v) + np.abs(c)
    ratio = np.divide(2 * np.abs(v - c), denominator, out=np.zeros(np.broadcast_shapes(v.shape, c.shape)),
                      where=denominator > 0)
    return ratio.mean(axis=1)


def best_value(values: np.ndarray, metric: str) -> float:
    """The point forecast that scores best on ``values`` under ``metric`` (NaN when there is no value)."""
    observed = np.asarray(values, dtype=float)
    observed = observed[~np.isnan(observed)]
    if observed.size == 0:
        return float("nan")
    if metric == "rmse":
        return float(observed.mean())
    if metric == "mae":
        return float(np.median(observed))
    candidates = np.unique(np.concatenate([[0.0], observed]))  # sorted: ties go to the smaller value
    return float(candidates[int(np.argmin(smape_losses(observed, candidates)))])


def window_state(kind: str, y: np.ndarray, last_date: str, season: int, metric: str,
                 interval_width: float) -> dict[str, Any]:
    """What ``forecaster_model.window_forecast`` needs: per-position values and interval bounds.

    A position of the season with no observed value in the window takes the flat window's value; a window with
    no observed value at all raises ValueError (the caller falls back).
    """
    seasonal, weeks = parse_kind(kind)
    days = 7 * weeks
    window = np.asarray(y, dtype=float)[-days:]
    q = [(1 - interval_width) / 2, (1 + interval_width) / 2]
    flat = best_value(window, metric)
    if np.isnan(flat):
        raise ValueError(f"{kind}: no observed value in the last {days} days")
    observed = window[~np.isnan(window)]
    flat_bounds = np.quantile(observed, q)
    if not seasonal:
        return {"last_date": last_date, "values": [flat], "lower": [float(flat_bounds[0])],
                "upper": [float(flat_bounds[1])], "metric": metric, "interval_width": interval_width}
    values, lower, upper = [], [], []
    n = len(y)
    for position in range(season):  # position p of the forecast = days n - season*k + p of the history
        same = np.asarray(y, dtype=float)[[n - season * k + position for k in range(1, days // season + 1)
                                           if n - season * k + position >= 0]]
        same = same[~np.isnan(same)]
        if same.size == 0:
            values.append(flat), lower.append(float(flat_bounds[0])), upper.append(float(flat_bounds[1]))
            continue
        values.append(best_value(same, metric))
        bounds = np.quantile(same, q)
        lower.append(float(bounds[0]))
        upper.append(float(bounds[1]))
    return {"last_date": last_date, "values": values, "lower": lower, "upper": upper, "metric": metric,
            "interval_width": interval_width}
