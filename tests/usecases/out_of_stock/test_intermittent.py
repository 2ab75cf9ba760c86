"""Intermittent-demand models: the gap model is honest on geometric gaps and heavy-tailed on bursty ones; the
lead-time demand distribution is the exact compound sum."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from usecases.out_of_stock.intermittent import (
    _gap_states,
    _gap_states_by_event,
    gap_history,
    gap_log_survival,
    lead_time_demand,
)


def _compound_pmf(size_pmf: np.ndarray, p: float, lead: int) -> np.ndarray:
    """Reference: pmf of the sum over ``lead`` days of (a sale with probability p) x (a size from size_pmf)."""
    daily = size_pmf * p
    daily[0] += 1.0 - p
    n = (daily.size - 1) * lead + 1
    size = 1 << int(np.ceil(np.log2(max(n, 2))))
    pmf = np.clip(np.fft.irfft(np.fft.rfft(daily, size) ** lead, size)[:n], 0.0, None)
    return pmf / pmf.sum()


def _lead_time_demand_day_by_day(sold, evidence, position, lead, window, service_level):  # type: ignore[no-untyped-def]
    """Reference: the distribution built afresh for every day from its window (the batched version's spec)."""
    days = len(sold)
    out = {name: np.full(days, np.nan) for name in ("p_stockout", "expected", "quantile", "shortfall")}
    ev_idx = np.flatnonzero(evidence)
    ev_sold = sold[ev_idx].astype(np.int64)
    for t in range(days):
        done = int(np.searchsorted(ev_idx, t, side="left"))
        if done == 0 or not np.isfinite(lead[t]) or lead[t] < 1:
            continue
        recent = ev_sold[max(0, done - window):done]
        sizes = np.sort(recent[recent > 0])
        if sizes.size == 0:
            cdf, expected, quantile = np.ones(1), 0.0, 0.0
        else:
            p = sizes.size / recent.size
            cdf = np.cumsum(_compound_pmf(np.bincount(sizes).astype(float) / sizes.size, p, int(lead[t])))
            expected = int(lead[t]) * p * float(sizes.mean())
            quantile = float(np.searchsorted(cdf, service_level - 1e-12))
        pos = int(max(position[t], 0)) if np.isfinite(position[t]) else 0
        out["p_stockout"][t] = float(max(0.0, 1.0 - cdf[pos])) if pos < cdf.size else 0.0
        out["expected"][t], out["quantile"][t] = expected, quantile
        out["shortfall"][t] = float((1.0 - cdf[pos:]).clip(min=0.0).sum()) if pos < cdf.size else 0.0
    return out


def test_gap_model_matches_the_geometric_tail_on_stationary_daily_sales() -> None:
    rng = np.random.default_rng(3)
    p = 0.3
    sale = rng.random(3000) < p
    hist = gap_history(sale, np.ones_like(sale), half_life=10_000)
    last = {k: v[-1:] for k, v in hist.items()}
    for k in (5, 10, 20):
        model = np.exp(gap_log_survival(np.array([float(k)]), last))[0]
        assert 0.5 < model / (1 - p) ** k < 2.0, k


def _survival_at_end(sale: np.ndarray, k: float, half_life: float = 60) -> float:
    hist = {n: v[-1:] for n, v in gap_history(sale, np.ones_like(sale), half_life).items()}
    return float(np.exp(gap_log_survival(np.array([k]), hist))[0])


def test_bursty_gaps_give_a_heavy_tail_and_recent_gaps_weigh_more() -> None:
    bursty = np.array(([True] * 3 + [False] * 25) * 12)
    even = np.array(([True] + [False] * 6) * 48)  # a similar sale-day share, no bursts
    assert _survival_at_end(bursty, 26) > 0.05  # its usual gap is ordinary
    assert _survival_at_end(even, 26) < _survival_at_end(bursty, 26) / 5
    fading = np.array(([True] + [False] * 2) * 60 + ([True] + [False] * 12) * 8)  # gaps grew lately
    steady = np.array(([True] + [False] * 12) * 8 + ([True] + [False] * 2) * 60)  # long gaps long ago
    assert _survival_at_end(fading, 20) > 5 * _survival_at_end(steady, 20)


def test_gap_history_uses_only_days_before() -> None:
    sale = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 1], dtype=bool)
    hist = gap_history(sale, np.ones_like(sale), 60)
    assert hist["count"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    assert hist["longest"][-1] == 3.0


@settings(max_examples=25, deadline=None)
@given(p=st.floats(0.05, 1.0), lead=st.integers(1, 8), sizes=st.lists(st.integers(1, 6), min_size=1, max_size=6))
def test_compound_pmf_equals_brute_force(p: float, lead: int, sizes: list[int]) -> None:
    size_pmf = np.bincount(sizes).astype(float) / len(sizes)
    daily = size_pmf * p
    daily[0] += 1 - p
    brute = np.array([1.0])
    for _ in range(lead):
        brute = np.convolve(brute, daily)
    np.testing.assert_allclose(_compound_pmf(size_pmf, p, lead), brute, atol=1e-9)


def test_lead_time_demand_of_unit_sales_is_binomial_and_uses_past_days_only() -> None:
    days = 120
    sold = np.tile([1, 0, 0, 0], days // 4)  # p = 0.25, size 1
    out = lead_time_demand(sold, np.ones(days, dtype=bool), np.full(days, 2.0), np.full(days, 5.0), 80, 0.95)
    assert np.isnan(out["p_stockout"][0])  # no history before the first day
    expected = 1 - stats.binom.cdf(2, 5, 0.25)
    assert abs(out["p_stockout"][-1] - expected) < 1e-9
    assert abs(out["expected"][-1] - 1.25) < 1e-9
    assert out["quantile"][-1] == stats.binom.ppf(0.95, 5, 0.25)
    head = lead_time_demand(sold[:60], np.ones(60, dtype=bool), np.full(60, 2.0), np.full(60, 5.0), 80, 0.95)
    np.testing.assert_array_equal(head["p_stockout"], out["p_stockout"][:60])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), days=st.integers(2, 400), share=st.floats(0.05, 1.0),
       half_life=st.sampled_from([5.0, 60.0, 10_000.0]))
def test_gap_states_at_once_equal_the_event_by_event_loop(seed: int, days: int, share: float, half_life: float) -> None:
    rng = np.random.default_rng(seed)
    positions = np.flatnonzero(rng.random(days) < share).astype(float)
    if positions.size < 2:
        positions = np.array([0.0, float(days)])
    at_once, by_event = _gap_states(positions, half_life), _gap_states_by_event(positions, half_life)
    np.testing.assert_allclose(at_once, by_event, rtol=1e-9, atol=1e-12)


def test_gap_states_fall_back_to_the_loop_when_weights_would_leave_float_range() -> None:
    positions = np.arange(0.0, 2000.0, 3.0)  # 2,000 evidence days at a half-life of 1 day: 2 ** -2000 underflows
    np.testing.assert_array_equal(_gap_states(positions, 1.0), _gap_states_by_event(positions, 1.0))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), days=st.integers(1, 300), window=st.integers(1, 100),
       big_basket=st.booleans(), service_level=st.sampled_from([0.5, 0.9, 0.95, 0.99]))
def test_lead_time_demand_equals_the_day_by_day_distribution(seed: int, days: int, window: int, big_basket: bool,
                                                             service_level: float) -> None:
    rng = np.random.default_rng(seed)
    sold = np.where(rng.random(days) < 0.4, rng.integers(1, 4, days), 0)
    sold[rng.random(days) < 0.05] = -1  # a return: no sale
    if big_basket:
        sold[rng.integers(0, days)] = 60
    evidence = rng.random(days) < 0.85
    position = np.where(rng.random(days) < 0.1, np.nan, rng.integers(-2, 25, days).astype(float))
    lead = np.where(rng.random(days) < 0.1, np.nan, rng.integers(0, 9, days).astype(float))
    batched = lead_time_demand(sold, evidence, position, lead, window, service_level)
    reference = _lead_time_demand_day_by_day(sold, evidence, position, lead, window, service_level)
    for name, values in reference.items():
        np.testing.assert_allclose(batched[name], values, rtol=1e-9, atol=1e-12, err_msg=name)
