"""Which candidate forecasts a series: the rule, as pure functions of the history and the backtest scores.

First the series' demand class (Syntetos-Boylan): with an average inter-demand interval ADI (days per day
with non-zero demand) above ``intermittent_adi`` (1.32 by default) the series is *intermittent* and the window
models, seasonal_naive and the intermittent-demand methods (Croston, ADIDA, IMAPA, TSB) compete; otherwise it is
*smooth* and the window models, seasonal_naive, AutoETS and Prophet compete. Models built for the other class
would only add noise to a choice made on a few weeks of backtest, and cost fits. ``intermittent_adi=0`` lets all
compete.

Then, in order:

1. a constant history (every observed value the same, all-zero included) gets ``seasonal_naive``: it forecasts
   that constant exactly, and no other model has anything to learn;
2. a series too short for even one backtest fold gets ``seasonal_naive``: there is no evidence to prefer anything;
3. otherwise the candidates that produced a forecast on every fold and a finite score compete, and the one with
   the lowest score (``selection_metric`` over all fold days) wins;
4. scores within ``tolerance`` (``selection_tolerance``, 5% by default, relative) of the best are a tie, won by
   the candidate listed first in ``candidate_models``. The default lists the steadiest first (the 13-week window):
   on a few weeks of noisy daily data the lowest score is often luck, and a rival must win clearly to be chosen
   (on real intermittent data a 5% tolerance raised the share of series where the choice beat seasonal-naive
   on later, held-out weeks; see benchmarks/forecasting_real.py);
5. when no candidate qualifies (every one failed on some fold), ``seasonal_naive``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

FALLBACK = "seasonal_naive"
TIE_TOLERANCE = 1e-9
SMOOTH, INTERMITTENT = "smooth", "intermittent"
WINDOW_MODELS = ("window_13w", "window_8w", "window_26w", "seasonal_window_13w")
SMOOTH_MODELS = (*WINDOW_MODELS, "seasonal_naive", "auto_ets", "prophet")
INTERMITTENT_MODELS = (*WINDOW_MODELS, "seasonal_naive", "croston_optimized", "adida", "imapa", "tsb")


def average_demand_interval(y: np.ndarray) -> float:
    """Observed days per observed day with non-zero demand (inf when there is none)."""
    observed = np.asarray(y, dtype=float)
    observed = observed[~np.isnan(observed)]
    nonzero = int(np.count_nonzero(observed))
    return observed.size / nonzero if nonzero else math.inf


def candidate_pool(candidates: Sequence[str], adi: float, intermittent_adi: float) -> tuple[str, list[str]]:
    """The series' demand class and the candidates (in configured order) that compete for it."""
    if intermittent_adi <= 0:
        return "any", list(candidates)
    demand_class = INTERMITTENT if adi > intermittent_adi else SMOOTH
    allowed = INTERMITTENT_MODELS if demand_class == INTERMITTENT else SMOOTH_MODELS
    return demand_class, [c for c in candidates if c in allowed]


@dataclass(frozen=True)
class Choice:
    """The chosen model and why, in words that go into ``forecast_metrics.selection_reason``."""

    model: str
    reason: str


def choose_model(scores: Mapping[str, float], complete: Mapping[str, bool], candidates: Sequence[str], metric: str,
                 folds: int, constant: bool, tolerance: float = 0.0) -> Choice:
    """Apply the rule above. ``scores``: each candidate's backtest score (lower is better; NaN when none);
    ``complete``: whether the candidate produced a forecast on every fold."""
    if constant:
        return Choice(FALLBACK, "constant history: seasonal_naive repeats it exactly")
    if folds == 0:
        return Choice(FALLBACK, "no backtest fold: the series is too short for one fold")
    eligible = [c for c in candidates if complete.get(c, False) and math.isfinite(scores.get(c, math.nan))]
    if not eligible:
        return Choice(FALLBACK, "no candidate produced a forecast on every fold")
    best = min(scores[c] for c in eligible)
    tied = [c for c in eligible if scores[c] <= best * (1 + tolerance) + TIE_TOLERANCE * max(1.0, abs(best))]
    if len(tied) == 1:
        return Choice(tied[0], f"lowest {metric} over {folds} fold(s)")
    within = f"within {tolerance:.0%} of the best" if tolerance > 0 else "tie"
    return Choice(tied[0], f"{within} on {metric} over {folds} fold(s): {', '.join(tied)}; first listed wins")
