"""Accuracy metrics and the seasonal-naive baseline: invariants checked with hypothesis."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from usecases.forecasting.forecaster_model import seasonal_naive_forecast, seasonal_naive_state
from usecases.forecasting.metrics import accuracy, seasonal_naive_scale

values = st.lists(st.floats(0, 1000, allow_nan=False), min_size=15, max_size=60)


@settings(max_examples=30, deadline=None)
@given(values, st.floats(-50, 50, allow_nan=False))
def test_metric_invariants(actual: list[float], shift: float) -> None:
    a = np.array(actual)
    exact = accuracy(a, a, 2.0)
    assert exact["mae"] == exact["rmse"] == exact["smape"] == exact["mase"] == 0
    off = accuracy(a, a + shift, 2.0)
    assert off["rmse"] >= off["mae"] - 1e-9
    assert 0 <= off["smape"] <= 200 + 1e-9
    assert np.isclose(off["mase"], off["mae"] / 2.0)


@settings(max_examples=30, deadline=None)
@given(values, st.integers(1, 10), st.integers(1, 40))
def test_seasonal_naive_repeats_the_last_season(y: list[float], season: int, horizon: int) -> None:
    series = np.array(y)
    state = seasonal_naive_state(series, dt.date(2024, 1, 31), season, 0.9)
    forecast = seasonal_naive_forecast(state, horizon, intervals=True)
    assert len(forecast) == horizon and forecast["ds"].iloc[0] == dt.date(2024, 2, 1)
    last = series[-season:] if len(series) >= season else None
    if last is not None:
        np.testing.assert_allclose(forecast["yhat"], np.resize(last, horizon))
    assert (forecast["yhat_lower"] <= forecast["yhat"]).all() and (forecast["yhat"] <= forecast["yhat_upper"]).all()


def test_seasonal_naive_fills_gaps_from_earlier_seasons_and_scale_ignores_them() -> None:
    y = np.array([1, 2, 3, 4, np.nan, 6])
    state = seasonal_naive_state(y, dt.date(2024, 1, 6), 3, 0.9)
    assert state["season_values"] == [4.0, 2.0, 6.0]
    assert seasonal_naive_scale(np.array([5.0] * 20), 7) != seasonal_naive_scale(np.array([5.0] * 20), 7)  # NaN
    assert seasonal_naive_scale(y, 3) == 3.0
