"""Expected demand per store-item-day from past data only: censored exponential smoothing with a promo lift.

Why censored: a day with nothing to sell (``start_stock`` = 0), a filled calendar day or a day the store was
closed (``store_closed``, see closures.py) says nothing about demand, so it does not update the level; the
level is carried over it. Every value for day t uses days < t only (the smoothed series is shifted one day),
so future rows never change past expectations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
    sold = out["units_sold"].astype(float)
    closed = out["store_closed"].fillna(False).astype(bool) if "store_closed" in out else pd.Series(False, out.index)
    out["store_closed"] = closed
    observed = (~out["is_filled"].astype(bool)) & ~closed & (out["start_stock"].fillna(0) > 0)
    promo = out["promo"].fillna(False).astype(bool)
    promo_obs, plain_obs = observed & promo, observed & ~promo
    promo_mean = (sold.where(promo_obs, 0).cumsum() / promo_obs.cumsum().replace(0, np.nan)).shift(1)
    plain_mean = (sold.where(plain_obs, 0).cumsum() / plain_obs.cumsum().replace(0, np.nan)).shift(1)
    enough = promo_obs.cumsum().shift(1).fillna(0) >= MIN_PROMO_DAYS
    lift = (promo_mean / plain_mean).where(enough & (plain_mean > 0)).clip(1.0 / MAX_PROMO_LIFT, MAX_PROMO_LIFT)
    lift = lift.fillna(1.0)
    base = sold / np.where(promo, lift, 1.0)
    obs_base = base[observed]
    level_obs = obs_base.ewm(alpha=alpha, adjust=False).mean()
    resid = (obs_base - level_obs.shift(1)).pow(2)
    var_obs = resid.ewm(alpha=alpha, adjust=False, ignore_na=True).mean()
    long_obs = obs_base.ewm(alpha=alpha / 3, adjust=False).mean()
    zero_obs = (obs_base == 0).astype(float).ewm(alpha=alpha / 3, adjust=False).mean()
    level = level_obs.reindex(out.index).ffill().shift(1)
    var = var_obs.reindex(out.index).ffill().shift(1)
    out["observed"] = observed
    out["history_days"] = observed.cumsum().shift(1).fillna(0).astype("int32")
    out["demand_rate"] = level
    out["demand_var"] = var
    out["demand_rate_long"] = long_obs.reindex(out.index).ffill().shift(1)
    out["zero_share"] = zero_obs.reindex(out.index).ffill().shift(1)
    out["promo_lift"] = lift
    out["expected_units"] = level * np.where(promo, lift, 1.0)
    return out
