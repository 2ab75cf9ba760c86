"""Signals per series: planted phantom and late-replenishment episodes found, slow movers left alone, no leakage."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.usecases.out_of_stock.helpers import find_series, prepared_series, series_with_profile
from usecases.out_of_stock.config import OutOfStockConfig
from usecases.out_of_stock.demand import expected_demand_one_series
from usecases.out_of_stock.detect import detect_one_series, osa_signal

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
    for pdf, _ in series_with_profile("slow", 60):
        out = signals(pdf)
        zero = out["units_sold"] == 0
        zero_days += int(zero.sum())
        flagged += int((zero & (out["avail_alert"].notna() | out["ss_alert"])).sum())
    assert zero_days > 100
    assert flagged / zero_days <= 0.05


def _steady(sold: list[int], rate: float = 10.0) -> pd.DataFrame:
    """A stocked series with a known demand of ``rate``/day (Poisson) and the given daily sales."""
    return pd.DataFrame({"units_sold": sold, "start_stock": 50, "is_filled": False, "demand_rate": rate,
                         "demand_rate_long": rate, "expected_units": rate, "demand_var": rate})


def test_osa_gap_needs_the_shortfall_on_consecutive_days() -> None:
    cfg = replace(CFG, osa_window_days=5, osa_min_days=2)
    ready = pd.Series(True, index=range(40))
    one_bad_day = _steady([10] * 20 + [0] + [10] * 19)
    assert not osa_signal(one_bad_day, cfg, ready)["osa_gap"].any()  # a dip of one day never persists
    sustained = _steady([10] * 20 + [3] * 10 + [10] * 10)
    out = osa_signal(sustained.copy(), cfg, ready)
    flagged = np.flatnonzero(out["osa_gap"].to_numpy())
    assert flagged.size and flagged.min() > 20 and flagged.max() < 35
    first = flagged.min()
    assert (out["osa_gap_days"].iloc[first] == cfg.osa_min_days) and out["osa_gap_days"].iloc[first - 1] == 1
    single = osa_signal(sustained.copy(), replace(cfg, osa_min_days=1), ready)
    assert single["osa_gap"].iloc[first - 1] and not out["osa_gap"].iloc[first - 1]  # one day earlier with 1


def test_shelf_problems_get_osa_alerts_and_stopped_sales_do_not() -> None:
    """Across the simulated shelf-problem series most OSA alert days fall in (or within 3 days of) the planted
    episode; no OSA alert sits on a day inside a zero-sales run of 2+ days (the zero-run signals' case)."""
    on_truth = alerts = 0
    for pdf, truth in series_with_profile("shelf_problem", 200):
        out = signals(pdf)
        osa = (out["avail_alert"] == "osa_gap").to_numpy()
        near = np.convolve(truth.to_numpy().astype(int), np.ones(7, dtype=int), mode="same") > 0
        alerts += int(osa.sum())
        on_truth += int((osa & near).sum())
        assert not (osa & (out["zero_run_days"] >= 2).to_numpy()).any()
    assert alerts > 0 and on_truth / alerts >= 0.8


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
