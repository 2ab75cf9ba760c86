"""Expected demand: past data only (truncation invariance), censoring of no-stock days."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.usecases.out_of_stock.helpers import prepared_series
from usecases.out_of_stock.demand import expected_demand_one_series

COLUMNS = ["demand_rate", "demand_var", "demand_rate_long", "zero_share", "promo_lift", "expected_units",
           "history_days"]


@settings(max_examples=25, deadline=None)
@given(item=st.integers(0, 59), cut=st.integers(20, 140))
def test_values_for_past_days_do_not_depend_on_later_days(item: int, cut: int) -> None:
    pdf, _, _ = prepared_series(0, item)
    full = expected_demand_one_series(pdf, 0.15)
    head = expected_demand_one_series(pdf.iloc[:cut].copy(), 0.15)
    pd.testing.assert_frame_equal(full.iloc[:cut][COLUMNS], head[COLUMNS])


def test_no_stock_days_do_not_drag_the_rate_down() -> None:
    days = 60
    pdf = pd.DataFrame({
        "date": pd.date_range("2024-01-01", periods=days).date, "units_sold": [5] * 40 + [0] * 20,
        "promo": False, "is_filled": False, "start_stock": [50] * 40 + [0] * 20,
    })
    out = expected_demand_one_series(pdf, 0.3)
    assert np.isnan(out["demand_rate"].iloc[0])
    assert out["demand_rate"].iloc[-1] == 5.0
    assert out["history_days"].iloc[-1] == 40


def _expected_demand_in_pandas(pdf: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """The former pandas version of ``expected_demand_one_series``, kept as the reference its numpy version
    must match."""
    from usecases.out_of_stock.demand import MAX_PROMO_LIFT, MIN_PROMO_DAYS

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
    out["observed"] = observed
    out["history_days"] = observed.cumsum().shift(1).fillna(0).astype("int32")
    out["demand_rate"] = level
    out["demand_var"] = var_obs.reindex(out.index).ffill().shift(1)
    out["demand_rate_long"] = long_obs.reindex(out.index).ffill().shift(1)
    out["zero_share"] = zero_obs.reindex(out.index).ffill().shift(1)
    out["promo_lift"] = lift
    out["expected_units"] = level * np.where(promo, lift, 1.0)
    return out


@settings(max_examples=60, deadline=None)
@given(item=st.integers(0, 59), n_days=st.integers(1, 200), seed=st.integers(0, 10_000),
       neutral_share=st.floats(0.0, 0.9), alpha=st.sampled_from([0.05, 0.15, 1.0]))
def test_numpy_version_equals_the_pandas_reference(item: int, n_days: int, seed: int, neutral_share: float,
                                                   alpha: float) -> None:
    """Property: on series with closures, filled days, promotions, no-stock days and null flags, the numpy
    version gives the reference's values (observed flags, counts and every estimate)."""
    pdf, _, _ = prepared_series(seed % 3, item, n_days=200, seed=seed)
    pdf = pdf.iloc[:n_days].copy()
    rng = np.random.default_rng(seed)
    n = len(pdf)
    pdf["store_closed"] = pd.array(rng.random(n) < neutral_share / 3, dtype="boolean")
    pdf.loc[rng.random(n) < 0.05, "store_closed"] = pd.NA
    pdf["is_filled"] = rng.random(n) < neutral_share / 3
    pdf["promo"] = pd.array(rng.random(n) < 0.3, dtype="boolean")
    pdf.loc[rng.random(n) < neutral_share / 3, "start_stock"] = 0
    pdf.loc[rng.random(n) < 0.05, "start_stock"] = np.nan
    shuffled = pdf.sample(frac=1.0, random_state=seed)
    expected = _expected_demand_in_pandas(shuffled, alpha)
    actual = expected_demand_one_series(shuffled, alpha)
    for column in ["observed", "store_closed", *COLUMNS]:
        np.testing.assert_array_equal(actual[column].to_numpy(dtype=float), expected[column].to_numpy(dtype=float),
                                      err_msg=column)
    assert actual["history_days"].dtype == np.int32
