"""Four out-of-stock signals per store-item-day, each from data up to that day only.

Neutral days, a store closure (``store_closed``, closures.py) or a filled-in calendar day, are no evidence:
they break no run, add nothing to it and carry no alert (an inventory correction excepted).

- zero-sales run: the larger of two probabilities of the current run of zero-sales days: day by day at the
  demand rate frozen at the run's start (Poisson; negative binomial when the past variance exceeds the
  mean) and, for intermittent items (mean demand interval >= 1.32 days), of a gap this long given the item's
  own past gaps (intermittent.py). Abnormal when below ``zero_run_max_probability`` and at least
  ``min_zero_run_days`` long; needs ``gap_min_intervals`` past gaps.
- phantom inventory: an abnormal zero run while the system reported stock on every day of it, or a balance
  gap (stock that vanished; found stock is no alert) above ``max(balance_gap_factor x rate,
  balance_gap_min_units)`` (an inventory correction; never judged across an unreported day). The estimated
  true on-hand is 0 on phantom days (sales stopped: the shelf is empty), else the reported on-hand.
- safety stock: lead-time demand from the item's recent sale frequency and sale sizes (intermittent.py);
  safety stock = its ``service_level`` quantile - its mean. A violation is a projected breach: position
  (on hand + on order + in transit) - expected lead-time demand < safety stock, i.e. a stock-out before an
  order placed today arrives is likelier than 1 - ``service_level``. The quantile is the recommended
  reorder point.
- on-shelf availability: over the last ``osa_window_days`` with stock present on every day, actual sales
  below ``(1 - osa_gap_threshold)`` x expected and improbable (Poisson or negative-binomial cdf below
  ``osa_max_probability``), on ``osa_min_days`` consecutive days, and not while sales have stopped outright
  (a zero run of 2+ days belongs to the zero-run signals).
Alerts on a day: one availability alert (phantom_inventory > zero_sales > osa_gap) and, separately, safety_stock.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from usecases.out_of_stock.arrays import flags, floats, with_columns
from usecases.out_of_stock.config import OutOfStockConfig
from usecases.out_of_stock.intermittent import gap_history, gap_log_survival, lead_time_demand

OSA_MAX_ZERO_RUN_DAYS = 1
ADI_INTERMITTENT = 1.32  # mean demand interval (days) from which demand counts as intermittent (Syntetos-Boylan)

SIGNALS_SCHEMA = (
    "date date, store_id string, item_id string, units_sold int, on_hand_units int, is_filled boolean, "
    "store_closed boolean, lead_time_days int, demand_rate double, expected_units double, balance_gap int, "
    "zero_run_days int, zero_run_prob double, zero_run_prob_daily double, zero_run_prob_gap double, "
    "est_true_on_hand int, position int, lead_time_demand double, safety_stock double, reorder_point double, "
    "projected_position double, stockout_prob double, expected_shortfall double, projected_stockout_days double, "
    "osa_pct double, osa_window_prob double, est_lost_units double, avail_alert string, avail_score double, "
    "avail_reason string, ss_alert boolean, ss_score double, ss_reason string"
)


def zero_run_signal(out: pd.DataFrame, cfg: OutOfStockConfig, ready: pd.Series) -> pd.DataFrame:
    """Add ``zero_run_days``, ``zero_run_prob`` (with ``zero_run_prob_daily``, ``zero_run_prob_gap`` and the gap
    history behind it) and ``run_in_stock`` (stock reported on every day of the run).

    Neutral days (store closed, day filled in) neither break a run nor count in it. The run's probability
    is the larger of the daily model's and the gap model's: a run is abnormal only when it is improbable
    both day by day and against the item's own history of gaps.
    """
    units = floats(out, "units_sold")
    neutral = flags(out, "is_filled") | flags(out, "store_closed")
    sale = (units > 0) & ~neutral
    zero = (units == 0) & ~neutral
    runs = _Segments(np.cumsum(sale))  # a run starts on a sale day and holds the zero days after it
    expected, level, level_long = floats(out, "expected_units"), floats(out, "demand_rate"), \
        floats(out, "demand_rate_long")
    with np.errstate(invalid="ignore", divide="ignore"):
        # The lower of the fast and slow levels: a run right after a few good days is not judged by them alone.
        cautious = np.minimum(expected, level_long * expected / np.where(level > 0, level, np.nan))
        cautious = np.where(np.isnan(cautious), expected, cautious)
        rate = runs.first(np.where(zero, cautious, np.nan))
        var = runs.first(np.where(zero, floats(out, "demand_var"), np.nan))
        r = np.where(var > rate * 1.05, rate**2 / np.clip(var - rate, 1e-9, None), np.inf)
        log_p0 = np.where(np.isfinite(r), -r * np.log1p(rate / np.where(np.isfinite(r), r, 1.0)), -rate)
    log_p0 = np.nan_to_num(np.where(zero, log_p0, 0.0), nan=0.0)
    days = runs.cumsum(zero.astype(np.int64))
    start_stock = floats(out, "start_stock")
    hist = gap_history(sale, ~neutral & (np.nan_to_num(start_stock, nan=0.0) > 0), cfg.gap_half_life_days)
    log_gap = gap_log_survival(days.astype(float), hist)
    log_daily = runs.cumsum(log_p0)
    enough = hist["count"] >= cfg.gap_min_intervals
    # Syntetos-Boylan: an item whose mean demand interval is 1.32 days or more is intermittent, and its
    # gaps are judged by the gap model too; a smooth item's by the daily model alone.
    intermittent = hist["rate"] < 1.0 / ADI_INTERMITTENT
    log_p = np.where(enough, np.where(intermittent, np.maximum(log_daily, log_gap), log_daily), 0.0)
    in_run = (days > 0) & ~sale  # a zero day so far in this run, and not its opening sale day
    on_hand_prev = floats(out, "on_hand_prev")
    with np.errstate(invalid="ignore"):
        stocked = (np.where(np.isnan(on_hand_prev), start_stock, on_hand_prev) > 0) | neutral | sale
    return with_columns(out, {
        "zero_run_days": np.where(in_run, days, 0).astype(np.int32),
        "zero_run_prob": np.where(in_run & np.asarray(ready, dtype=bool), np.exp(log_p), 1.0),
        "zero_run_prob_daily": np.where(in_run, np.exp(log_daily), 1.0),
        "zero_run_prob_gap": np.where(in_run & enough & intermittent, np.exp(log_gap), 1.0),
        "run_rate": np.where(in_run, rate, np.nan),
        **{f"gap_{name}": hist[name] for name in ("count", "median", "longest")},
        "run_in_stock": (runs.cumsum((~stocked).astype(np.int64)) == 0) & in_run,
    })


def osa_signal(out: pd.DataFrame, cfg: OutOfStockConfig, ready: pd.Series) -> pd.DataFrame:
    """Add ``osa_pct`` (window actual / expected, capped at 1; 0 with no stock; null on an unreported or closed
    day) and ``osa_gap`` with its probability."""
    w = cfg.osa_window_days
    in_stock = (np.nan_to_num(floats(out, "start_stock"), nan=0.0) > 0) & ~flags(out, "is_filled") \
        & ~flags(out, "store_closed")
    actual = _rolling_sum(floats(out, "units_sold"), w)
    expected_units, level = floats(out, "expected_units"), floats(out, "demand_rate")
    with np.errstate(invalid="ignore", divide="ignore"):
        # Judge the window against the slow level: the fast one already follows a sustained gap down.
        slow = floats(out, "demand_rate_long") * expected_units / np.where(level > 0, level, np.nan)
        expected = _rolling_sum(np.where(np.isnan(slow), expected_units, slow), w)
        all_stocked = _rolling_sum(in_stock.astype(float), w) == w
        mean = np.clip(np.nan_to_num(expected, nan=0.0), 1e-9, None)
        var = np.nan_to_num(_rolling_sum(floats(out, "demand_var"), w), nan=0.0)
        # Negative binomial where the window's variance exceeds its mean (over-dispersed items), else Poisson
        # (the cdfs scipy.stats' nbinom and poisson evaluate, without their per-call overhead).
        size = np.where(var > mean * 1.05, mean**2 / np.clip(var - mean, 1e-9, None), np.inf)
        k = np.floor(np.nan_to_num(actual, nan=0.0))
        nb = special.betainc(np.where(np.isfinite(size), size, 1.0), k + 1,
                             np.where(np.isfinite(size), size / (size + mean), 0.5))
        prob = np.where(np.isfinite(size), nb, special.pdtr(k, mean))
        window_prob = np.where(np.asarray(ready, dtype=bool) & all_stocked, prob, 1.0)
        ratio = np.clip(actual / np.where(expected > 0, expected, np.nan), None, 1.0)
        gap = (np.asarray(ready, dtype=bool) & all_stocked & (actual < (1 - cfg.osa_gap_threshold) * expected)
               & (window_prob < cfg.osa_max_probability))
    # Sustained: the window has been short on ``osa_min_days`` consecutive days, so one slow day sliding
    # through the window is not an alert (past days only: a run length ending today).
    gap_days = _Segments(np.cumsum(~gap)).cumsum(gap.astype(np.int64))
    return with_columns(out, {
        "osa_window_prob": window_prob,
        # no figure for a day that is no evidence (unreported or store closed), 0 for an open day without stock
        "osa_pct": np.where(flags(out, "is_filled") | flags(out, "store_closed"), np.nan,
                            np.where(in_stock, np.where(np.isnan(ratio), 1.0, ratio), 0.0)),
        "osa_gap_days": gap_days,
        "osa_gap": gap_days >= cfg.osa_min_days,
    })


def safety_stock_signal(out: pd.DataFrame, cfg: OutOfStockConfig, ready: pd.Series) -> pd.DataFrame:
    """Add ``position``, lead-time demand (``lead_time_demand``, ``safety_stock``, ``reorder_point``,
    ``stockout_prob``, ``expected_shortfall``), ``projected_position``, ``projected_stockout_days`` and ``ss_alert``.

    The position (on hand + on order + in transit) is projected over the lead time against the item's
    lead-time demand (compound Bernoulli from its last ``ss_window_days`` evidence days). The alert is a
    projected breach of the safety stock: position - expected lead-time demand < safety stock, i.e. the
    probability of a stock-out before an order placed today arrives exceeds 1 - ``service_level``.
    """
    lead = floats(out, "lead_time_days")
    position = (floats(out, "on_hand_units") + np.nan_to_num(floats(out, "on_order_units"), nan=0.0)
                + np.nan_to_num(floats(out, "in_transit_units"), nan=0.0)).astype(np.int32)
    neutral = flags(out, "is_filled") | flags(out, "store_closed")
    evidence = ~neutral & (np.nan_to_num(floats(out, "start_stock"), nan=0.0) > 0)
    ltd = lead_time_demand(out["units_sold"].to_numpy(), evidence, position.astype(float), lead,
                           cfg.ss_window_days, cfg.service_level)
    with np.errstate(invalid="ignore", divide="ignore"):
        daily = ltd["expected"] / lead
        stockout_days = position / np.where(daily > 0, daily, np.nan)
        breach = ltd["p_stockout"] > 1.0 - cfg.service_level
    return with_columns(out, {
        "position": position,
        "lead_time_demand": ltd["expected"],
        "reorder_point": ltd["quantile"],
        "safety_stock": ltd["quantile"] - ltd["expected"],
        "stockout_prob": ltd["p_stockout"],
        "expected_shortfall": ltd["shortfall"],
        "projected_position": position - ltd["expected"],
        "projected_stockout_days": stockout_days,
        "ss_alert": np.asarray(ready, dtype=bool) & ~np.isnan(lead) & breach,
    })


def detect_one_series(pdf: pd.DataFrame, cfg: OutOfStockConfig) -> pd.DataFrame:
    """All signals and alerts for one store-item's days (input: DEMAND_SCHEMA columns + ``lead_time_days``;
    ``store_closed`` is optional: false when absent)."""
    out = pdf.sort_values("date").reset_index(drop=True)
    closed = out["store_closed"] if "store_closed" in out else pd.Series(False, index=out.index)
    out["store_closed"] = closed.fillna(False).astype(bool)
    history, rate = floats(out, "history_days"), floats(out, "demand_rate")
    books = (history >= cfg.min_history_days) & ~np.isnan(rate) & ~flags(out, "is_filled")
    ready = books & ~out["store_closed"].to_numpy()
    out = zero_run_signal(out, cfg, ready)
    out = osa_signal(out, cfg, ready)
    out = safety_stock_signal(out, cfg, ready)
    run_days, run_prob = out["zero_run_days"].to_numpy(), out["zero_run_prob"].to_numpy()
    abnormal = (run_prob < cfg.zero_run_max_probability) & (run_days >= cfg.min_zero_run_days)
    gap_limit = np.maximum(cfg.balance_gap_factor * rate, cfg.balance_gap_min_units)
    # Bookkeeping, not demand: a correction counts on a closed day too (stock-takes happen then). Only stock
    # that vanished (a positive gap: the count fell below what the books allow) is phantom inventory; stock
    # that appeared is found stock, not an availability problem.
    balance_gap = np.clip(floats(out, "balance_gap"), 0.0, None)
    with np.errstate(invalid="ignore"):
        correction = books & (balance_gap > gap_limit)
    in_stock_run = abnormal & out["run_in_stock"].to_numpy()
    phantom = in_stock_run | correction
    stockout = abnormal & ~phantom
    # Sales stopped outright (a zero run of 2+ days) is the zero-run signals' case: a stock-out or phantom
    # inventory in the making, which OSA would otherwise report first under the wrong name.
    osa_gap = out["osa_gap"].to_numpy() & ~phantom & ~stockout & (run_days <= OSA_MAX_ZERO_RUN_DAYS)
    window_prob = out["osa_window_prob"].to_numpy()
    alert = np.select([phantom, stockout, osa_gap], ["phantom_inventory", "zero_sales", "osa_gap"], None)
    with np.errstate(invalid="ignore", divide="ignore"):
        avail_score = np.select([abnormal, correction, osa_gap],
                                [1 - run_prob, np.clip(balance_gap / gap_limit / 2, None, 1.0), 1 - window_prob],
                                np.nan)
    kind = np.select([in_stock_run, correction, stockout, osa_gap], ["phantom_run", "correction", "stockout", "osa"],
                     "")
    on_hand = out["on_hand_units"].to_numpy()
    expected, sold = floats(out, "expected_units"), floats(out, "units_sold")
    ss_alert = out["ss_alert"].to_numpy()
    out = with_columns(out, {
        "avail_alert": alert,
        "avail_score": avail_score,
        "est_true_on_hand": np.where(phantom, 0, on_hand).astype(np.int32),
        "est_lost_units": np.where(alert != None, np.clip(expected - sold, 0, None), 0.0),  # noqa: E711
        "ss_score": np.where(ss_alert, np.clip(out["stockout_prob"].to_numpy(), 0, 1), np.nan),
    })
    out["avail_reason"] = _reasons(out, kind, lambda r, k: _avail_reason(r, k, cfg))
    out["ss_reason"] = _reasons(out, np.where(ss_alert, "ss", ""), lambda r, k: _ss_reason(r, cfg))
    return out[[c.split()[0] for c in SIGNALS_SCHEMA.split(", ")]]


class _Segments:
    """Contiguous segments of a non-decreasing label array (runs of days between events): per-segment cumulative
    sums and first valid values with numpy, in place of a pandas groupby per operation."""

    def __init__(self, labels: np.ndarray) -> None:
        labels = np.asarray(labels)
        opens = np.r_[True, labels[1:] != labels[:-1]] if labels.size else np.zeros(0, dtype=bool)
        self.starts = np.flatnonzero(opens)
        self.number = np.cumsum(opens) - 1  # each row's segment
        self.start_of = self.starts[self.number]  # each row's segment's first row

    def cumsum(self, values: np.ndarray) -> np.ndarray:
        """The running sum within each segment (groupby(...).cumsum())."""
        total = np.cumsum(values)
        return total - (total[self.start_of] - values[self.start_of])

    def first(self, values: np.ndarray) -> np.ndarray:
        """Each segment's first non-NaN value on all its rows, NaN where it has none (groupby().transform('first'))."""
        n = values.size
        if n == 0:
            return values.astype(float)
        index = np.where(np.isnan(values), n, np.arange(n))
        first = np.minimum.reduceat(index, self.starts)
        return np.append(values, np.nan)[first[self.number]]






def _rolling_sum(values: np.ndarray, window: int) -> np.ndarray:
    """Sum of the last ``window`` values (this one included); NaN until ``window`` values exist or where one is NaN."""
    out = np.full(values.size, np.nan)
    if values.size < window:
        return out
    missing = np.isnan(values)
    total = np.cumsum(np.r_[0.0, np.where(missing, 0.0, values)])
    gaps = np.cumsum(np.r_[0, missing.astype(np.int64)])
    sums = total[window:] - total[:-window]
    out[window - 1:] = np.where(gaps[window:] - gaps[:-window] > 0, np.nan, sums)
    return out




def _reasons(out: pd.DataFrame, kind: np.ndarray, build) -> pd.Series:  # (row, kind) -> str
    """One reason text per flagged row (``kind`` not empty), None elsewhere; only flagged rows are formatted."""
    reasons = pd.Series(None, index=out.index, dtype=object)
    for i in np.flatnonzero(kind != ""):
        reasons.iat[i] = build(out.iloc[i], kind[i])
    return reasons


def _g(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (never a rate of 0.0 that is really 0.004)."""
    return "?" if pd.isna(value) else f"{value:.{digits}g}"


def _avail_reason(r: pd.Series, kind: str, cfg: OutOfStockConfig) -> str:
    if kind == "correction":
        limit = max(cfg.balance_gap_factor * r["demand_rate"], cfg.balance_gap_min_units)
        return (f"inventory correction: balance gap {int(r['balance_gap'])} units (limit {_g(limit)} = "
                f"max({cfg.balance_gap_factor:g} x rate {_g(r['demand_rate'])}/day, {cfg.balance_gap_min_units}))")
    if kind == "osa":
        return (f"sales {r['osa_pct'] * 100:.0f}% of expected over {cfg.osa_window_days} days with stock present "
                f"(p={_g(r['osa_window_prob'], 2)} of selling this little)")
    head = (f"{int(r['zero_run_days'])} zero-sales days with the store open while the system shows "
            f"{int(r['on_hand_units'])} units" if kind == "phantom_run"
            else f"stock-out: {int(r['zero_run_days'])} zero-sales days with no stock")
    return f"{head}: {zero_run_evidence(r)}"


def zero_run_evidence(r: pd.Series) -> str:
    """The quantity the run's probability came from, with the other model's figure beside it."""
    daily = (f"daily demand {_g(r['run_rate'])}/day, P(no sale on {int(r['zero_run_days'])} days)="
             f"{_g(r['zero_run_prob_daily'], 2)}")
    if r["gap_count"] < 1 or r["zero_run_prob_gap"] >= 1.0 and r["zero_run_prob_daily"] < 1.0:
        return f"p={_g(r['zero_run_prob'], 2)} from the {daily}"
    gap = (f"gap history: {int(r['gap_count'])} past gaps, median {int(r['gap_median'])} d, longest "
           f"{int(r['gap_longest'])} d, P(gap this long)={_g(r['zero_run_prob_gap'], 2)}")
    first, second = (gap, daily) if r["zero_run_prob_gap"] >= r["zero_run_prob_daily"] else (daily, gap)
    return f"p={_g(r['zero_run_prob'], 2)} from the {first} ({second})"


def _ss_reason(r: pd.Series, cfg: OutOfStockConfig) -> str:
    lead = "?" if pd.isna(r["lead_time_days"]) else str(int(r["lead_time_days"]))
    return (f"projected stock-out within the lead time: position {int(r['position'])} - expected {lead}-day demand "
            f"{_g(r['lead_time_demand'])} = {_g(r['projected_position'])} < safety stock {_g(r['safety_stock'])} "
            f"(P(stock-out before an order placed today arrives) = {_g(r['stockout_prob'], 2)} > "
            f"{_g(1 - cfg.service_level, 2)}); stock lasts about {_g(r['projected_stockout_days'], 2)} d; "
            f"recommend reorder point {int(np.ceil(r['reorder_point']))}")
