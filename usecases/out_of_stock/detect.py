"""Four out-of-stock signals per store-item-day, each from data up to that day only.

Neutral days, a store closure (``store_closed``, closures.py) or a filled-in calendar day, are no evidence:
they break no run, add nothing to it and carry no alert (an inventory correction excepted).

- zero-sales run: the larger of two probabilities of the current run of zero-sales days: day by day at the
  demand rate frozen at the run's start (Poisson; negative binomial when the past variance exceeds the
  mean) and, for intermittent items (mean demand interval >= 1.32 days), of a gap this long given the item's
  own past gaps (intermittent.py). Abnormal when below ``zero_run_max_probability`` and at least
  ``min_zero_run_days`` long; needs ``gap_min_intervals`` past gaps.
- phantom inventory: an abnormal zero run while the system reported stock on every day of it, or a balance
  gap above ``max(balance_gap_factor x rate, balance_gap_min_units)`` (an inventory correction). The estimated
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
from scipy import stats

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
    neutral = out["is_filled"].astype(bool) | out["store_closed"].astype(bool)
    sale = (out["units_sold"] > 0) & ~neutral
    zero = (out["units_sold"] == 0) & ~neutral
    run_id = sale.cumsum()
    # The lower of the fast and slow levels: a run right after a few good days is not judged by them alone.
    cautious = np.minimum(out["expected_units"], out["demand_rate_long"] * out["expected_units"]
                          / out["demand_rate"].where(out["demand_rate"] > 0))
    rate = cautious.fillna(out["expected_units"]).where(zero).groupby(run_id).transform("first")
    var = out["demand_var"].where(zero).groupby(run_id).transform("first")
    r = np.where(var > rate * 1.05, rate**2 / (var - rate).clip(lower=1e-9), np.inf)
    log_p0 = np.where(np.isfinite(r), -r * np.log1p(rate / np.where(np.isfinite(r), r, 1.0)), -rate)
    log_p0 = pd.Series(np.where(zero, log_p0, 0.0), index=out.index).fillna(0.0)
    days = zero.astype(int).groupby(run_id).cumsum()
    evidence = ~neutral & (out["start_stock"].fillna(0) > 0)
    hist = gap_history(sale.to_numpy(), evidence.to_numpy(), cfg.gap_half_life_days)
    log_gap = gap_log_survival(days.to_numpy().astype(float), hist)
    log_daily = log_p0.groupby(run_id).cumsum()
    enough = hist["count"] >= cfg.gap_min_intervals
    # Syntetos-Boylan: an item whose mean demand interval is 1.32 days or more is intermittent, and its
    # gaps are judged by the gap model too; a smooth item's by the daily model alone.
    intermittent = hist["rate"] < 1.0 / ADI_INTERMITTENT
    log_p = np.where(enough, np.where(intermittent, np.maximum(log_daily, log_gap), log_daily), 0.0)
    in_run = zero.groupby(run_id).cummax() & (days > 0) & ~sale
    out["zero_run_days"] = days.where(in_run, 0).astype(int)
    out["zero_run_prob"] = pd.Series(np.exp(log_p), index=out.index).where(in_run & ready, 1.0)
    out["zero_run_prob_daily"] = np.exp(log_daily).where(in_run, 1.0)
    out["zero_run_prob_gap"] = pd.Series(np.exp(log_gap), index=out.index).where(in_run & enough & intermittent, 1.0)
    out["run_rate"] = rate.groupby(run_id).transform("first").where(in_run)
    for name in ("count", "median", "longest"):
        out[f"gap_{name}"] = hist[name]
    stocked = (out["on_hand_prev"].fillna(out["start_stock"]) > 0) | neutral | sale
    out["run_in_stock"] = stocked.astype(int).groupby(run_id).cummin().astype(bool) & in_run
    return out


def osa_signal(out: pd.DataFrame, cfg: OutOfStockConfig, ready: pd.Series) -> pd.DataFrame:
    """Add ``osa_pct`` (window actual / expected, capped at 1; 0 with no stock) and ``osa_gap`` with its probability."""
    w = cfg.osa_window_days
    in_stock = (out["start_stock"] > 0) & ~out["is_filled"] & ~out["store_closed"]
    actual = out["units_sold"].astype(float).rolling(w, min_periods=w).sum()
    # Judge the window against the slow level: the fast one already follows a sustained gap down.
    slow = (out["demand_rate_long"] * out["expected_units"] / out["demand_rate"].where(out["demand_rate"] > 0))
    expected = slow.fillna(out["expected_units"]).rolling(w, min_periods=w).sum()
    all_stocked = in_stock.astype(int).rolling(w, min_periods=w).min() == 1
    mean = expected.fillna(0).clip(lower=1e-9)
    var = out["demand_var"].rolling(w, min_periods=w).sum().fillna(0)
    # Negative binomial where the window's variance exceeds its mean (over-dispersed items), else Poisson.
    size = np.where(var > mean * 1.05, mean**2 / (var - mean).clip(lower=1e-9), np.inf)
    nb = stats.nbinom.cdf(actual.fillna(0), np.where(np.isfinite(size), size, 1.0),
                          np.where(np.isfinite(size), size / (size + mean), 0.5))
    prob = pd.Series(np.where(np.isfinite(size), nb, stats.poisson.cdf(actual.fillna(0), mean)), index=out.index)
    out["osa_window_prob"] = prob.where(ready & all_stocked, 1.0)
    ratio = (actual / expected.where(expected > 0)).clip(upper=1.0)
    out["osa_pct"] = np.where(in_stock, ratio.fillna(1.0), 0.0)
    gap = (ready & all_stocked & (actual < (1 - cfg.osa_gap_threshold) * expected)
           & (out["osa_window_prob"] < cfg.osa_max_probability))
    # Sustained: the window has been short on ``osa_min_days`` consecutive days, so one slow day sliding
    # through the window is not an alert (past days only: a run length ending today).
    out["osa_gap_days"] = gap.astype(int).groupby((~gap).cumsum()).cumsum()
    out["osa_gap"] = out["osa_gap_days"] >= cfg.osa_min_days
    return out


def safety_stock_signal(out: pd.DataFrame, cfg: OutOfStockConfig, ready: pd.Series) -> pd.DataFrame:
    """Add ``position``, lead-time demand (``lead_time_demand``, ``safety_stock``, ``reorder_point``,
    ``stockout_prob``, ``expected_shortfall``), ``projected_position``, ``projected_stockout_days`` and ``ss_alert``.

    The position (on hand + on order + in transit) is projected over the lead time against the item's
    lead-time demand (compound Bernoulli from its last ``ss_window_days`` evidence days). The alert is a
    projected breach of the safety stock: position - expected lead-time demand < safety stock, i.e. the
    probability of a stock-out before an order placed today arrives exceeds 1 - ``service_level``.
    """
    lead = out["lead_time_days"].astype(float)
    out["position"] = (out["on_hand_units"] + out["on_order_units"].fillna(0)
                       + out["in_transit_units"].fillna(0)).astype(int)
    neutral = out["is_filled"].astype(bool) | out["store_closed"].astype(bool)
    evidence = ~neutral & (out["start_stock"].fillna(0) > 0)
    ltd = lead_time_demand(out["units_sold"].to_numpy(), evidence.to_numpy(), out["position"].to_numpy(float),
                           lead.to_numpy(), cfg.ss_window_days, cfg.service_level)
    out["lead_time_demand"] = ltd["expected"]
    out["reorder_point"] = ltd["quantile"]
    out["safety_stock"] = ltd["quantile"] - ltd["expected"]
    out["stockout_prob"] = ltd["p_stockout"]
    out["expected_shortfall"] = ltd["shortfall"]
    out["projected_position"] = out["position"] - out["lead_time_demand"]
    daily = out["lead_time_demand"] / lead
    out["projected_stockout_days"] = out["position"] / daily.where(daily > 0)
    breach = out["stockout_prob"] > 1.0 - cfg.service_level
    out["ss_alert"] = (ready & lead.notna() & breach.fillna(False)).astype(bool)
    return out


def detect_one_series(pdf: pd.DataFrame, cfg: OutOfStockConfig) -> pd.DataFrame:
    """All signals and alerts for one store-item's days (input: DEMAND_SCHEMA columns + ``lead_time_days``;
    ``store_closed`` is optional: false when absent)."""
    out = pdf.sort_values("date").reset_index(drop=True)
    closed = out["store_closed"] if "store_closed" in out else pd.Series(False, index=out.index)
    out["store_closed"] = closed.fillna(False).astype(bool)
    ready = ((out["history_days"] >= cfg.min_history_days) & out["demand_rate"].notna() & ~out["is_filled"]
             & ~out["store_closed"])
    out = zero_run_signal(out, cfg, ready)
    out = osa_signal(out, cfg, ready)
    out = safety_stock_signal(out, cfg, ready)
    abnormal = (out["zero_run_prob"] < cfg.zero_run_max_probability) & (out["zero_run_days"] >= cfg.min_zero_run_days)
    gap_limit = np.maximum(cfg.balance_gap_factor * out["demand_rate"], cfg.balance_gap_min_units)
    # Bookkeeping, not demand: a correction counts on a closed day too (stock-takes happen then).
    books = (out["history_days"] >= cfg.min_history_days) & out["demand_rate"].notna() & ~out["is_filled"]
    correction = books & (out["balance_gap"].abs() > gap_limit)
    phantom = (abnormal & out["run_in_stock"]) | correction
    stockout = abnormal & ~phantom
    # Sales stopped outright (a zero run of 2+ days) is the zero-run signals' case: a stock-out or phantom
    # inventory in the making, which OSA would otherwise report first under the wrong name.
    osa_gap = out["osa_gap"] & ~phantom & ~stockout & (out["zero_run_days"] <= OSA_MAX_ZERO_RUN_DAYS)
    out["avail_alert"] = np.select([phantom, stockout, osa_gap], ["phantom_inventory", "zero_sales", "osa_gap"], None)
    out["avail_score"] = np.select(
        [abnormal, correction, osa_gap],
        [1 - out["zero_run_prob"], (out["balance_gap"].abs() / gap_limit / 2).clip(upper=1.0),
         1 - out["osa_window_prob"]],
        np.nan,
    )
    kind = np.select([abnormal & out["run_in_stock"], correction, stockout, osa_gap],
                     ["phantom_run", "correction", "stockout", "osa"], "")
    out["avail_reason"] = _reasons(out, kind, lambda r, k: _avail_reason(r, k, cfg))
    alerted = out["avail_alert"].notna()
    out["est_true_on_hand"] = np.where(phantom, 0, out["on_hand_units"]).astype(int)
    out["est_lost_units"] = np.where(alerted, (out["expected_units"] - out["units_sold"]).clip(lower=0), 0.0)
    out["ss_score"] = np.where(out["ss_alert"], out["stockout_prob"].clip(0, 1), np.nan)
    out["ss_reason"] = _reasons(out, np.where(out["ss_alert"], "ss", ""), lambda r, k: _ss_reason(r, cfg))
    return out[[c.split()[0] for c in SIGNALS_SCHEMA.split(", ")]]


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
