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
GAP_STATS = ("n", "median", "tail_n", "tail_excess", "rate", "count", "longest")
MAX_FFT_CELLS = 1 << 21  # rows x FFT length per batch of lead-time distributions (bounds memory on huge baskets)
MAX_GAP_CELLS = 1 << 22  # sale events x longest gap for the vectorised gap history


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
    out = {name: np.zeros(days) for name in GAP_STATS}
    ev_pos = np.cumsum(evidence) - 1  # evidence-day index of each day
    sale_days = np.flatnonzero(sale & evidence)
    if sale_days.size < 2:
        return out
    positions = ev_pos[sale_days].astype(float)
    state = _gap_states(positions, half_life)  # stats right after each sale event
    # Day t sees the stats after the last sale event strictly before it.
    event = np.searchsorted(sale_days, np.arange(days), side="left") - 1
    known = event >= 0
    for i, name in enumerate(GAP_STATS):
        out[name][known] = state[event[known], i]
    return out


def _gap_states(positions: np.ndarray, half_life: float) -> np.ndarray:
    """The ``GAP_STATS`` right after each sale event (row e: the intervals completed by event e), all events at once.

    Intervals are whole evidence days, so the weighted intervals at each event are a histogram over interval
    lengths: a cumulative sum over events of one-hot rows. Every weight at event e is 0.5 ** ((position_e -
    position of the interval's end) / half_life) = v_i x scale_e with v_i fixed per interval, so the histogram of
    v is cumulative and the median (a ratio) needs no rescaling; sums are scaled by scale_e at the end. Falls back
    to ``_gap_states_by_event`` where the weights would leave float range or the histogram would be too large.
    """
    intervals = np.diff(positions).astype(np.int64)  # interval i is completed at event i + 1
    span = (positions[-1] - positions[1]) / half_life
    longest = int(intervals.max())
    if span > 900 or intervals.size * (longest + 1) > MAX_GAP_CELLS:
        return _gap_states_by_event(positions, half_life)
    events = intervals.size
    weight = np.exp2((positions[1:] - positions[-1]) / half_life)  # v_i, relative to the last event
    hist = np.zeros((events, longest + 1))
    hist[np.arange(events), intervals] = weight
    hist = np.cumsum(hist, axis=0)  # row j: intervals 0..j, i.e. the state at event j + 1
    lengths = np.arange(longest + 1, dtype=float)
    below = np.cumsum(hist, axis=1)
    total = below[:, -1]
    median = np.argmax(below >= total[:, None] / 2.0, axis=1)  # first length whose cumulative weight reaches half
    tail = lengths[None, :] > median[:, None]
    scale = np.exp2((positions[-1] - positions[1:]) / half_life)  # v -> the weights as of event j + 1
    state = np.zeros((events + 1, len(GAP_STATS)))
    state[1:, 0] = total * scale
    state[1:, 1] = median
    state[1:, 2] = (hist * tail).sum(axis=1) * scale
    state[1:, 3] = (hist * np.clip(lengths[None, :] - median[:, None] - 1.0, 0.0, None)).sum(axis=1) * scale
    state[1:, 4] = total / (hist @ lengths)
    state[1:, 5] = np.arange(1, events + 1)
    state[1:, 6] = np.maximum.accumulate(intervals)
    return state


def _gap_states_by_event(positions: np.ndarray, half_life: float) -> np.ndarray:
    """``_gap_states`` one event at a time (any half-life and gap length; quadratic in the number of sales)."""
    intervals = np.diff(positions)
    state = np.zeros((positions.size, len(GAP_STATS)))
    for e in range(1, positions.size):
        q = intervals[:e]
        w = 0.5 ** ((positions[e] - positions[1:e + 1]) / half_life)
        order = np.argsort(q, kind="stable")
        cum = np.cumsum(w[order])
        u = q[order][np.searchsorted(cum, cum[-1] / 2.0)]
        tail = q > u
        n = cum[-1]
        state[e] = (n, u, w[tail].sum(), (w[tail] * (q[tail] - u - 1)).sum(), n / (w * q).sum(), e, q.max())
    return state



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

    A day's distribution depends only on its window: the lead time, the evidence days and how often each sale
    size occurs in them. So there is one distribution per distinct window (windows change on sale days at
    most), computed in batches of equal FFT length, and every day is a lookup into its window's cdf.
    """
    days = len(sold)
    out = {name: np.full(days, np.nan) for name in ("p_stockout", "expected", "quantile", "shortfall")}
    ev_idx = np.flatnonzero(evidence)
    done = np.searchsorted(ev_idx, np.arange(days), side="left")  # evidence days strictly before each day
    with np.errstate(invalid="ignore"):
        rows = np.flatnonzero((done > 0) & np.isfinite(lead) & (lead >= 1))
    if rows.size == 0:
        return out
    ev_sold = np.clip(np.asarray(sold)[ev_idx].astype(np.int64), 0, None)  # a negative sale is no sale
    sizes, code = np.unique(ev_sold, return_inverse=True)
    counts = np.zeros((ev_sold.size + 1, sizes.size), dtype=np.int64)
    counts[np.arange(1, ev_sold.size + 1), code.reshape(-1)] = 1
    counts = np.cumsum(counts, axis=0)  # row d: how often each size sold on the first d evidence days
    top = done[rows]
    bottom = np.maximum(top - window, 0)
    windows = np.column_stack([lead[rows].astype(np.int64), top - bottom, counts[top] - counts[bottom]])
    keys, which = np.unique(windows, axis=0, return_inverse=True)
    position_now = position[rows]
    pos = np.where(np.isfinite(position_now), np.maximum(position_now, 0), 0).astype(np.int64)
    p_stockout, shortfall, expected, quantile = _window_lookups(keys, which.reshape(-1), pos, sizes, service_level)
    out["p_stockout"][rows], out["shortfall"][rows] = p_stockout, shortfall
    out["expected"][rows], out["quantile"][rows] = expected, quantile
    return out


def _window_lookups(keys: np.ndarray, which: np.ndarray, pos: np.ndarray, sizes: np.ndarray,
                    service_level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per day (window ``which``, position ``pos``): P(D > pos), E[(D - pos)+], E[D] and the quantile of D.

    ``keys`` rows are (lead, evidence days, count of each of ``sizes``). A window's daily pmf is the share of its
    days with each sale size (size 0 for no sale); lead-time demand is its ``lead``-fold convolution (an FFT
    power), over the support 0 .. biggest size x lead.
    """
    leads, days_in_window, size_counts = keys[:, 0], keys[:, 1], keys[:, 2:]
    biggest = np.where(size_counts > 0, sizes[None, :], 0).max(axis=1)
    length = biggest * leads + 1
    fft_size = 1 << np.ceil(np.log2(np.maximum(length, 2))).astype(np.int64)
    expected = (leads * (size_counts @ sizes) / days_in_window)[which]
    quantile = np.empty(len(keys))
    p_stockout, shortfall = np.zeros(which.size), np.zeros(which.size)
    for n_fft in np.unique(fft_size):
        group = np.flatnonzero(fft_size == n_fft)
        for chunk in np.array_split(group, int(np.ceil(group.size * n_fft / MAX_FFT_CELLS))):
            width = int(length[chunk].max())
            support = sizes <= biggest[chunk].max()
            daily = np.zeros((chunk.size, int(biggest[chunk].max()) + 1))
            daily[:, sizes[support]] = size_counts[chunk][:, support] / days_in_window[chunk, None]
            pmf = np.fft.irfft(np.fft.rfft(daily, int(n_fft), axis=1) ** leads[chunk, None], int(n_fft), axis=1)
            valid = np.arange(width)[None, :] < length[chunk, None]
            pmf = np.where(valid, np.clip(pmf[:, :width], 0.0, None), 0.0)
            cdf = np.cumsum(pmf / pmf.sum(axis=1, keepdims=True), axis=1)
            tail = np.cumsum(np.where(valid, np.clip(1.0 - cdf, 0.0, None), 0.0)[:, ::-1], axis=1)[:, ::-1]
            quantile[chunk] = ((cdf < service_level - 1e-12) & valid).sum(axis=1)
            local = np.full(len(keys), -1)
            local[chunk] = np.arange(chunk.size)
            days = np.flatnonzero(local[which] >= 0)
            row, at = local[which[days]], pos[days]
            inside = at < length[which[days]]
            at = np.minimum(at, width - 1)
            p_stockout[days] = np.where(inside, np.maximum(0.0, 1.0 - cdf[row, at]), 0.0)
            shortfall[days] = np.where(inside, tail[row, at], 0.0)  # E[(D - pos)+] = sum over d >= pos of P(D > d)
    return p_stockout, shortfall, expected, quantile[which]
