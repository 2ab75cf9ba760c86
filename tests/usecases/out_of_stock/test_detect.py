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
    # A projected breach: position - expected lead-time demand < safety stock (= position < reorder point),
    # i.e. a stock-out before an order placed today arrives is more likely than the service level allows.
    assert (flagged["projected_position"] < flagged["safety_stock"]).all()
    assert (flagged["position"] < flagged["reorder_point"]).all()
    assert (flagged["stockout_prob"] > 1 - CFG.service_level).all()
    assert flagged["ss_reason"].str.contains("recommend reorder point").all()


def test_safety_stock_alerts_fall_on_planted_late_replenishments() -> None:
    """Across simulated series, safety-stock alert days sit in (or within 3 days of) a planted episode."""
    on_truth = alerts = 0
    for profile in ("late_replenishment", "normal", "slow", "phantom_inventory"):
        for pdf, truth in series_with_profile(profile, 60):
            out = signals(pdf)
            ss = out["ss_alert"].to_numpy()
            near = np.convolve(truth.to_numpy().astype(int), np.ones(7, dtype=int), mode="same") > 0
            alerts += int(ss.sum())
            on_truth += int((ss & near & (profile == "late_replenishment")).sum())
    assert alerts > 0 and on_truth / alerts >= 0.9


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
    return pd.DataFrame({"units_sold": sold, "start_stock": 50, "is_filled": False, "store_closed": False,
                         "demand_rate": rate, "demand_rate_long": rate, "expected_units": rate, "demand_var": rate})


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


def _intermittent(pattern: list[int], repeats: int, tail: list[int], closed: set[int] | None = None) -> pd.DataFrame:
    """A stocked series repeating ``pattern`` then ``tail``; days in ``closed`` are store closures."""
    sold = pattern * repeats + tail
    n = len(sold)
    return pd.DataFrame({
        "date": pd.date_range("2024-01-01", periods=n).date, "store_id": "S1", "item_id": "I1",
        "units_sold": sold, "on_hand_units": 40,
        "replenishment_units": 0, "on_order_units": 0, "in_transit_units": 0, "promo": False,
        "shelf_capacity": 60, "is_filled": False, "on_hand_prev": 40, "start_stock": 40, "balance_gap": 0,
        "store_closed": [i in (closed or set()) for i in range(n)], "lead_time_days": 3,
    })


def _detect(pdf: pd.DataFrame) -> pd.DataFrame:
    demand = expected_demand_one_series(pdf.drop(columns=["lead_time_days"]), CFG.smoothing_alpha)
    demand["lead_time_days"] = 3
    return detect_one_series(demand, CFG)


def test_a_gap_like_the_items_own_past_gaps_is_not_phantom() -> None:
    """Bursty item: a few sales, then 20 quiet days, again and again. A 20-day gap is its normal rhythm (the
    old day-by-day model, at a rate of ~0.5/day, called 20 zero days p ~ 5e-5 per day run)."""
    out = _detect(_intermittent([2, 1, 3, 1, 2] + [0] * 20, 8, [2, 1] + [0] * 21))
    assert out["avail_alert"].isna().all()
    last = out.iloc[-1]
    assert last["zero_run_prob_gap"] > CFG.zero_run_max_probability
    assert last["zero_run_prob"] == max(last["zero_run_prob_gap"], last["zero_run_prob_daily"])


def test_a_gap_far_beyond_the_items_past_gaps_is_flagged_with_consistent_reason() -> None:
    out = _detect(_intermittent([1, 0, 2, 0, 0, 1, 0], 20, [1] + [0] * 45))
    flagged = out[out["avail_alert"] == "phantom_inventory"]
    assert len(flagged) > 0
    first = flagged.iloc[0]
    assert first["zero_run_prob"] < CFG.zero_run_max_probability
    reason = first["avail_reason"]
    # The text states the probability actually used and the model it came from, with significant digits.
    assert f"p={first['zero_run_prob']:.2g} from the " in reason
    assert "gap history:" in reason and "daily demand " in reason
    assert "rate 0.0/day" not in reason and "0.0/day" not in reason
    assert str(int(first["zero_run_days"])) + " zero-sales days" in reason


def test_closure_days_neither_extend_a_zero_run_nor_count_as_demand() -> None:
    """The same run with 5 closure days inserted: same zero-run days and probability, no alert on them,
    and the demand model does not see them (same demand rate on every open day)."""
    pattern, tail = [1, 0, 2, 0, 0, 1, 0], [1] + [0] * 30
    plain = _detect(_intermittent(pattern, 20, tail))
    n_plain = len(plain)
    closed_at = set(range(n_plain - 20, n_plain - 15))
    with_closure = _detect(_intermittent(pattern, 20, tail[:-20] + [0] * 5 + tail[-20:], closed_at))
    assert with_closure.loc[list(closed_at), "store_closed"].all()
    assert with_closure.loc[list(closed_at), "avail_alert"].isna().all()
    open_rows = with_closure[~with_closure["store_closed"]].reset_index(drop=True)
    for column in ("zero_run_days", "zero_run_prob", "demand_rate", "expected_units", "avail_alert"):
        pd.testing.assert_series_equal(open_rows[column], plain[column], check_names=False)


def test_one_big_basket_does_not_keep_safety_stock_alerts_up_for_weeks() -> None:
    """A lumpy item (1 unit every few days) and one basket of 24: with 30 units in position and a 3-day lead
    time, one basket in 90 days is a ~1% chance per lead time, not a standing safety-stock breach."""
    sold = ([1, 0, 0] * 30) + [24] + ([1, 0, 0] * 20)
    pdf = _intermittent(sold, 1, [])
    pdf["on_hand_units"] = 30
    out = _detect(pdf)
    assert int(out["ss_alert"].sum()) == 0
    assert (out["stockout_prob"].dropna() < 0.05).all()


def test_only_stock_that_vanished_is_a_correction_and_unreported_days_have_no_osa() -> None:
    """A count far below the books (positive gap) is an inventory correction; a count far above them (found
    stock) is no alert. An unreported or closed day gets no OSA figure (null), not 0%."""
    base = _intermittent([2, 1, 3, 1, 2, 2, 1], 20, [2, 1, 2], closed={100})
    day = len(base) - 2
    shrink, found = base.copy(), base.copy()
    shrink.loc[day, "balance_gap"], found.loc[day, "balance_gap"] = 200, -200
    assert _detect(shrink).loc[day, "avail_alert"] == "phantom_inventory"
    assert pd.isna(_detect(found).loc[day, "avail_alert"])
    unreported = base.copy()
    unreported.loc[90, ["is_filled", "units_sold"]] = [True, 0]
    out = _detect(unreported)
    assert np.isnan(out.loc[90, "osa_pct"]) and np.isnan(out.loc[100, "osa_pct"])
    assert out.drop(index=[90, 100])["osa_pct"].notna().all()
