"""Signals per series: planted phantom and late-replenishment episodes found, slow movers left alone, no leakage."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.usecases.out_of_stock.helpers import find_series, prepared_series
from usecases.out_of_stock.config import OutOfStockConfig
from usecases.out_of_stock.demand import expected_demand_one_series
from usecases.out_of_stock.detect import detect_one_series

CFG = OutOfStockConfig()


def signals(pdf: pd.DataFrame, lead: float | None = 4) -> pd.DataFrame:
    demand = expected_demand_one_series(pdf, CFG.smoothing_alpha)
    if lead is None or "lead_time_days" not in demand:
        demand["lead_time_days"] = lead
    return detect_one_series(demand, CFG)


def test_phantom_episode_is_flagged_with_true_on_hand_zero() -> None:
    pdf, truth = find_series("phantom_inventory")
    out = signals(pdf)
    phantom = out["avail_alert"] == "phantom_inventory"
    assert (phantom & truth).any()
    assert not (phantom & ~truth).any()
    assert (out.loc[phantom, "est_true_on_hand"] == 0).all()
    assert out.loc[phantom, "avail_reason"].str.contains("system shows|balance gap").all()


def test_late_replenishment_raises_safety_stock_alert_with_recommended_reorder_point() -> None:
    pdf, truth = find_series("late_replenishment")
    out = signals(pdf)
    assert (out["ss_alert"] & truth).any()
    flagged = out[out["ss_alert"]]
    assert (flagged["position"] < flagged["reorder_point"]).all()
    assert flagged["ss_reason"].str.contains("recommend reorder point").all()


def test_slow_mover_zero_days_are_rarely_flagged() -> None:
    zero_days = flagged = 0
    for item in range(60):
        pdf, profile, _ = prepared_series(0, item)
        if profile != "slow":
            continue
        out = signals(pdf)
        zero = out["units_sold"] == 0
        zero_days += int(zero.sum())
        flagged += int((zero & (out["avail_alert"].notna() | out["ss_alert"])).sum())
    assert zero_days > 100
    assert flagged / zero_days <= 0.05


def test_missing_lead_time_skips_only_the_safety_stock_signal() -> None:
    pdf, truth = find_series("phantom_inventory")
    out = signals(pdf, lead=None)
    assert not out["ss_alert"].any()
    assert out["reorder_point"].isna().all()
    assert ((out["avail_alert"] == "phantom_inventory") & truth).any()


@settings(max_examples=20, deadline=None)
@given(item=st.integers(0, 59), cut=st.integers(40, 149))
def test_appending_future_days_leaves_past_signals_unchanged(item: int, cut: int) -> None:
    pdf, _, _ = prepared_series(0, item)
    full = signals(pdf)
    head = signals(pdf.iloc[:cut].copy())
    pd.testing.assert_frame_equal(full.iloc[:cut].reset_index(drop=True), head.reset_index(drop=True))
