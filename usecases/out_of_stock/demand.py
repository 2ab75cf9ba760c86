"""Expected demand per store-item-day from past data only: censored exponential smoothing with a promo lift.

Why censored: a day with nothing to sell (``start_stock`` = 0), a filled calendar day or a day the store was
closed (``store_closed``, see closures.py) says nothing about demand, so it does not update the level; the
level is carried over it. Every value for day t uses days < t only (the smoothed series is shifted one day),
so future rows never change past expectations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from usecases.out_of_stock.arrays import ffill, flags, floats, shift, with_columns

DEMAND_SCHEMA = (
    "date date, store_id string, item_id string, units_sold int, on_hand_units int, replenishment_units int, "
    "on_order_units int, in_transit_units int, promo boolean, shelf_capacity int, is_filled boolean, "
    "on_hand_prev int, start_stock int, balance_gap int, store_closed boolean, observed boolean, history_days int, "
    "demand_rate double, demand_var double, demand_rate_long double, zero_share double, "
    "promo_lift double, expected_units double"
)
MIN_PROMO_DAYS = 5
MAX_PROMO_LIFT = 4.0


def expected_demand_one_series(pdf: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Add ``observed``, ``history_days``, ``demand_rate`` (de-promoted level), ``demand_var`` (daily variance),
    ``demand_rate_long`` (the same level smoothed 3x slower), ``zero_share`` (slowly smoothed share of
    zero-sales days: the empirical zero probability of intermittent items), ``promo_lift`` and
    ``expected_units`` (rate x lift on promo days) to one store-item's days.

    All estimates for day t come from observed days before t; before the first observed day they are NaN.
    """
    out = pdf.sort_values("date").reset_index(drop=True)
    # units_sold has no nulls: the contract rejects them and the calendar fills 0.
    sold = floats(out, "units_sold")
    closed = flags(out, "store_closed")
    observed = ~flags(out, "is_filled") & ~closed & (np.nan_to_num(floats(out, "start_stock"), nan=0.0) > 0)
    promo = flags(out, "promo")
    promo_obs, plain_obs = observed & promo, observed & ~promo
    n_promo = np.cumsum(promo_obs)
    with np.errstate(invalid="ignore", divide="ignore"):
        promo_mean = shift(np.cumsum(np.where(promo_obs, sold, 0.0)) / np.where(n_promo > 0, n_promo, np.nan))
        n_plain = np.cumsum(plain_obs)
        plain_mean = shift(np.cumsum(np.where(plain_obs, sold, 0.0)) / np.where(n_plain > 0, n_plain, np.nan))
        enough = shift(n_promo.astype(float), 0.0) >= MIN_PROMO_DAYS
        lift = np.where(enough & (plain_mean > 0), np.clip(promo_mean / plain_mean, 1.0 / MAX_PROMO_LIFT,
                                                           MAX_PROMO_LIFT), np.nan)
    lift = np.where(np.isnan(lift), 1.0, lift)
    factor = np.where(promo, lift, 1.0)
    obs_base = (sold / factor)[observed]
    level_obs = _ewm(obs_base, alpha)
    var_obs = _ewm((obs_base - shift(level_obs)) ** 2, alpha, ignore_na=True)
    long_obs = _ewm(obs_base, alpha / 3)
    zero_obs = _ewm((obs_base == 0).astype(float), alpha / 3)
    # Row i takes the value after the last observed day before i (reindex, ffill, shift(1) in pandas terms).
    latest = np.cumsum(observed) - 1

    def before_each_day(values: np.ndarray) -> np.ndarray:
        if values.size == 0:  # no observed day at all
            return np.full(latest.size, np.nan)
        return shift(np.where(latest >= 0, ffill(values)[np.maximum(latest, 0)], np.nan))

    level = before_each_day(level_obs)
    return with_columns(out, {
        "store_closed": closed,
        "observed": observed,
        "history_days": shift(np.cumsum(observed).astype(float), 0.0).astype("int32"),
        "demand_rate": level,
        "demand_var": before_each_day(var_obs),
        "demand_rate_long": before_each_day(long_obs),
        "zero_share": before_each_day(zero_obs),
        "promo_lift": lift,
        "expected_units": level * factor,
    })


def _ewm(values: np.ndarray, alpha: float, ignore_na: bool = False) -> np.ndarray:
    """pandas' exponentially weighted mean (``adjust=False``): the recursion behind every smoothed estimate."""
    return pd.Series(values).ewm(alpha=alpha, adjust=False, ignore_na=ignore_na).mean().to_numpy()
