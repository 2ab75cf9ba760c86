"""Window models: the value best for the selection metric over a recent window, per season position or flat."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usecases.forecasting.forecaster_model import WINDOWS, DemandForecaster, forecast_from_state
from usecases.forecasting.model import ForecastSettings, fit_model, forecast_one_series, to_history
from usecases.forecasting.windows import best_value, parse_kind, smape_losses, window_state

END = dt.date(2024, 6, 30)


def test_the_value_matches_the_metric() -> None:
    mostly_zero = np.array([0, 0, 0, 0, 3, 5, 0, 0, 2, 0], dtype=float)
    assert best_value(mostly_zero, "smape") == 0.0  # most days sold nothing: 0 scores best under sMAPE
    assert best_value(mostly_zero, "mae") == 0.0  # the median
    assert best_value(mostly_zero, "rmse") == pytest.approx(1.0)  # the mean
    busy = np.array([4, 5, 6, 5, 7, np.nan, 5], dtype=float)
    assert best_value(busy, "mae") == 5.0 and best_value(busy, "smape") == 5.0
    assert np.isnan(best_value(np.array([np.nan]), "smape"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=60), st.floats(0, 25))
def test_the_smape_value_is_at_least_as_good_as_any_other_forecast(values: list[int], other: float) -> None:
    v = np.asarray(values, dtype=float)
    chosen = best_value(v, "smape")
    assert smape_losses(v, np.array([chosen]))[0] <= smape_losses(v, np.array([other]))[0] + 1e-12


def test_seasonal_window_repeats_each_weekday_and_flat_window_one_value() -> None:
    weeks = np.tile([0, 0, 0, 0, 0, 6, 8], 13).astype(float)  # sells only at the weekend
    state = window_state("seasonal_window_13w", weeks, END.isoformat(), 7, "smape", 0.9)
    assert state["values"] == [0, 0, 0, 0, 0, 6, 8]
    forecast = forecast_from_state("seasonal_window_13w", state, 10, 1, True, True)
    assert list(forecast["yhat"]) == [0, 0, 0, 0, 0, 6, 8, 0, 0, 0]
    assert forecast["ds"].iloc[0] == END + dt.timedelta(days=1)
    assert (forecast["yhat_lower"] <= forecast["yhat"]).all() and (forecast["yhat"] <= forecast["yhat_upper"]).all()
    flat = window_state("window_8w", weeks, END.isoformat(), 7, "rmse", 0.9)
    assert flat["values"] == [pytest.approx(2.0)] and parse_kind("window_8w") == (False, 8)


def test_a_window_with_no_observation_cannot_be_fitted() -> None:
    y = np.concatenate([np.ones(100), np.full(60, np.nan)])
    with pytest.raises(ValueError, match="no observed value in the last 56 days"):
        window_state("window_8w", y, END.isoformat(), 7, "mae", 0.9)


@pytest.fixture
def forecast_settings(tmp_path: Path) -> ForecastSettings:
    return ForecastSettings(horizon=21, growth="linear", seasonality_mode="additive", interval_width=0.8,
                            uncertainty_samples=20, holidays_country="", season_length=7, seed=3,
                            scratch_dir=str(tmp_path / "scratch"))


def _frame(values: np.ndarray, item: str = "1") -> pd.DataFrame:
    return pd.DataFrame({"store_id": "s", "item_id": item, "date": pd.date_range(end=END, periods=len(values)).date,
                         "units_sold": values})


@pytest.mark.parametrize("kind", WINDOWS)
def test_every_window_model_is_served_by_the_pyfunc_as_the_job_forecasts_it(kind: str, tmp_path: Path,
                                                                             forecast_settings) -> None:
    rng = np.random.default_rng(4)
    values = rng.poisson(0.7, 400).astype(float)
    row = forecast_one_series(_frame(values), ["store_id", "item_id"], forecast_settings, kind).iloc[0]
    assert row["model"] == kind and row["error"] is None and len(row["yhat"]) == 21
    series, meta = tmp_path / "series.jsonl", tmp_path / "meta.json"
    series.write_text(json.dumps({"key": ["s", "1"], "model": row["model"], "state": row["model_state"]}) + "\n")
    meta.write_text(json.dumps({"key_columns": ["store_id", "item_id"], "seed": 3, "intervals": True,
                                "nonnegative": True}))
    forecaster = DemandForecaster()
    forecaster.load_context(SimpleNamespace(artifacts={"series_models": str(series), "meta": str(meta)}))
    served = forecaster.predict(None, pd.DataFrame({"store_id": ["s"], "item_id": ["1"], "horizon": [21]}))
    np.testing.assert_allclose(served["yhat"], row["yhat"])
    np.testing.assert_allclose(served["yhat_upper"], row["yhat_upper"])


def test_fit_history_days_limits_what_every_model_sees(forecast_settings) -> None:
    values = np.concatenate([np.full(300, 50.0), np.tile([1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0], 20)])
    history = to_history(_frame(values))
    capped = replace(forecast_settings, fit_history_days=140, selection_metric="rmse")
    state = fit_model("window_26w", history, capped)  # 26 weeks would reach the level-50 days; the cap stops it
    assert state["values"] == [pytest.approx(2.0)]
    full = fit_model("window_26w", history, replace(capped, fit_history_days=0))
    assert full["values"][0] > 2.0
