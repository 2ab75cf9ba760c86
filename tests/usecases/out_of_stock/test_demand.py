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
