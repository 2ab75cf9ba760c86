"""Intermittent-demand models for one store-item, from its own past only (pure numpy, called per series).

Real demand of most store-items is lumpy and intermittent: nothing sells on most days, then a shopper buys
six. A day-by-day Poisson model (or a geometric one built on the share of zero days) makes long quiet
spells look impossible, and a moving average jumps after every big basket. So two Croston-style models
separate WHEN demand occurs from HOW MUCH:

- ``gap_survival``: the probability of a gap this long between sales, given the item's own history of
  completed gaps (demand intervals). Intervals longer than the item's median are modelled as a
  geometric excess whose rate is uncertain (a beta posterior whose prior is centred on the item's overall
  rate): bursty items that have had long gaps before get a heavy tail, items that sell every day a light one.
- ``lead_time_demand``: the distribution of demand over a lead time as a compound Bernoulli: a sale occurs
  on a day with the item's recent sale-day frequency, and its size is drawn from the item's recent sale
  sizes (empirical, so one big basket is one basket, not a permanently inflated variance).
"""

from __future__ import annotations

import numpy as np
from scipy import special

PRIOR_WEIGHT = 2.0  # pseudo-intervals of the beta prior on the tail rate (centred on the item's overall rate)


def gap_history(sale: np.ndarray, evidence: np.ndarray, half_life: float) -> dict[str, np.ndarray]:
    """Per day, the item's completed demand intervals BEFORE that day, summarised for ``gap_log_survival``.

    ``evidence``: the day is evidence about demand (open, in stock, reported); ``sale``: something sold.
    An interval is the number of evidence days from one sale day to the next (1 = sold on consecutive
    evidence days). Older intervals count less: weight 0.5 ** (age in evidence days / ``half_life``), so an
    item whose demand is fading is judged by its recent, longer gaps. Returns arrays (one value per day) of
    weighted sums: ``n`` intervals, ``median`` u, ``tail_n`` intervals longer than u, ``tail_excess``
    sum of (interval - u - 1) over those, ``rate`` n / sum of intervals; and ``count``, ``longest`` (unweighted).
    """
    days = len(sale)
    names = ("n", "median", "tail_n", "tail_excess", "rate", "count", "longest")
    out = {name: np.zeros(days) for name in names}
    ev_pos = np.cumsum(evidence) - 1  # evidence-day index of each day
    sale_days = np.flatnonzero(sale & evidence)
    if sale_days.size < 2:
        return out
    positions = ev_pos[sale_days].astype(float)
    intervals = np.diff(positions)  # completed at sale_days[1:]
    state = np.zeros((sale_days.size, len(names)))  # stats right after each sale event
    for e in range(1, sale_days.size):
        q = intervals[:e]
        w = 0.5 ** ((positions[e] - positions[1:e + 1]) / half_life)
        order = np.argsort(q, kind="stable")
        cum = np.cumsum(w[order])
        u = q[order][np.searchsorted(cum, cum[-1] / 2.0)]
        tail = q > u
        n = cum[-1]
        state[e] = (n, u, w[tail].sum(), (w[tail] * (q[tail] - u - 1)).sum(), n / (w * q).sum(), e, q.max())
    # Day t sees the stats after the last sale event strictly before it.
    event = np.searchsorted(sale_days, np.arange(days), side="left") - 1
    known = event >= 0
    for i, name in enumerate(names):
        out[name][known] = state[event[known], i]
    return out


def gap_log_survival(k: np.ndarray, hist: dict[str, np.ndarray]) -> np.ndarray:
    """log P(interval > k) for a current run of ``k`` zero days, under the model in the module docstring.

    For k <= u (the median interval) the run is ordinary: log P = 0. Beyond, P = P(q > u) x P(excess >= k - u)
    with P(q > u) = (tail_n + 0.5) / (n + 1) and the excess geometric with a Beta(a, b) rate,
    a = tail_n + 2 rate, b = tail_excess + 2 (1 - rate): P(excess >= j) = B(a, b + j) / B(a, b).
    """
    n, u = hist["n"], hist["median"]
    rate = np.clip(hist["rate"], 0.02, 0.98)
    a = hist["tail_n"] + PRIOR_WEIGHT * rate
    b = hist["tail_excess"] + PRIOR_WEIGHT * (1.0 - rate)
    j = np.maximum(k - u, 0.0)
    log_tail = np.log((hist["tail_n"] + 0.5) / (n + 1.0)) + special.betaln(a, b + j) - special.betaln(a, b)
    return np.where(k > u, log_tail, 0.0)


def lead_time_demand(sold: np.ndarray, evidence: np.ndarray, position: np.ndarray, lead: np.ndarray,
                     window: int, service_level: float) -> dict[str, np.ndarray]:
    """Per day, lead-time demand from the last ``window`` evidence days before it (compound Bernoulli).

    Returns ``p_stockout`` = P(demand over the lead time > position), ``expected`` lead-time demand,
    ``quantile`` (its ``service_level`` quantile: the reorder point) and ``shortfall`` = E[(demand -
    position)+] (units an order placed today would arrive too late for). NaN where the lead time is
    unknown or no evidence day precedes the day.
    """
    days = len(sold)
    out = {name: np.full(days, np.nan) for name in ("p_stockout", "expected", "quantile", "shortfall")}
    ev_idx = np.flatnonzero(evidence)
    ev_sold = sold[ev_idx].astype(np.int64)
    cache: dict[tuple[int, int, bytes], tuple[np.ndarray, float, float]] = {}  # the window changes on sale days
    done = 0  # evidence days strictly before t
    for t in range(days):
        while done < len(ev_idx) and ev_idx[done] < t:
            done += 1
        if done == 0 or not np.isfinite(lead[t]) or lead[t] < 1:
            continue
        recent = ev_sold[max(0, done - window):done]
        sizes = np.sort(recent[recent > 0])
        key = (int(lead[t]), recent.size, sizes.tobytes())
        if key not in cache:
            cache[key] = _lead_time_cdf(sizes, recent.size, int(lead[t]), service_level)
        cdf, expected, quantile = cache[key]
        pos = int(max(position[t], 0)) if np.isfinite(position[t]) else 0
        out["p_stockout"][t] = float(max(0.0, 1.0 - cdf[pos])) if pos < cdf.size else 0.0
        out["expected"][t], out["quantile"][t] = expected, quantile
        # E[(D - pos)+] = sum over d >= pos of P(D > d)
        out["shortfall"][t] = float((1.0 - cdf[pos:]).clip(min=0.0).sum()) if pos < cdf.size else 0.0
    return out


def _lead_time_cdf(sizes: np.ndarray, window: int, lead: int, service_level: float) -> tuple[np.ndarray, float, float]:
    """cdf, mean and ``service_level`` quantile of lead-time demand for one window of sale sizes."""
    if sizes.size == 0:
        return np.ones(1), 0.0, 0.0
    p = sizes.size / window
    pmf = _compound_pmf(np.bincount(sizes).astype(float) / sizes.size, p, lead)
    cdf = np.cumsum(pmf)
    return cdf, lead * p * float(sizes.mean()), float(np.searchsorted(cdf, service_level - 1e-12))


def _compound_pmf(size_pmf: np.ndarray, p: float, lead: int) -> np.ndarray:
    """pmf of the sum over ``lead`` days of (a sale with probability p) x (a size drawn from size_pmf)."""
    daily = size_pmf * p
    daily[0] += 1.0 - p
    n = (daily.size - 1) * lead + 1
    size = 1 << int(np.ceil(np.log2(max(n, 2))))
    pmf = np.fft.irfft(np.fft.rfft(daily, size) ** lead, size)[:n]
    pmf = np.clip(pmf, 0.0, None)
    return pmf / pmf.sum()
