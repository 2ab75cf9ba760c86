"""The seeded sales generator: determinism, kinds, zero days left out, holiday uplift."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from usecases.forecasting.generate import holiday_dates, series_specs, simulate_series

END = dt.date(2024, 12, 31)


def test_specs_are_seeded_and_a_bigger_run_contains_the_smaller_one() -> None:
    small = series_specs(7, 2, 3, 1095, 0.2, 0.2)
    big = series_specs(7, 3, 3, 1095, 0.2, 0.2)
    pd.testing.assert_frame_equal(small, big.iloc[: len(small)].reset_index(drop=True))
    assert not small.equals(series_specs(8, 2, 3, 1095, 0.2, 0.2))


def test_kinds_follow_the_shares() -> None:
    specs = series_specs(1, 10, 50, 1095, 0.1, 0.05)
    shares = specs["kind"].value_counts(normalize=True)
    assert abs(shares["intermittent"] - 0.1) < 0.04 and abs(shares["short"] - 0.05) < 0.03
    short = specs[specs["kind"] == "short"]
    assert short["start_offset"].between(20, 200).all()


def test_series_have_no_zero_rows_and_more_sales_on_holidays_and_weekends() -> None:
    holidays = holiday_dates("US", END - dt.timedelta(days=1094), END)
    assert dt.date(2024, 12, 25) in holidays
    spec = pd.Series({"store": 1, "item": 1, "kind": "regular", "level": 40.0, "growth": 0.0,
                      "yearly_amplitude": 0.0, "yearly_phase": 0.0, "holiday_uplift": 0.5, "start_offset": 1095})
    frame = simulate_series(spec, 3, END, holidays)
    assert (frame["units_sold"] > 0).all() and frame["date"].max() == END
    is_holiday = frame["date"].isin(holidays)
    assert frame.loc[is_holiday, "units_sold"].mean() > 1.3 * frame.loc[~is_holiday, "units_sold"].mean()
    weekday = pd.to_datetime(frame["date"]).dt.dayofweek
    assert frame.loc[weekday == 5, "units_sold"].mean() > frame.loc[weekday == 0, "units_sold"].mean()
    np.testing.assert_array_equal(frame["units_sold"], simulate_series(spec, 3, END, holidays)["units_sold"])
