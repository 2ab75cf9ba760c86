"""Intermittent-demand models: the gap model is honest on geometric gaps and heavy-tailed on bursty ones; the
lead-time demand distribution is the exact compound sum."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from usecases.out_of_stock.intermittent import _compound_pmf, gap_history, gap_log_survival, lead_time_demand


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
