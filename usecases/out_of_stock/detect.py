"""Four out-of-stock signals per store-item-day, each from data up to that day only.

- zero-sales run: probability of the current run of zero-sales days given the demand rate frozen at the
  run's start (Poisson; negative binomial when the past variance exceeds the mean; never below the past
  share of zero days, so intermittent slow movers are judged by their own history). Abnormal when below
  ``zero_run_max_probability`` and at least ``min_zero_run_days`` long.
- phantom inventory: an abnormal zero run while the system reported stock on every day of it, or a balance
  gap above ``max(balance_gap_factor x rate, balance_gap_min_units)`` (an inventory correction). The estimated
  true on-hand is 0 on phantom days (sales stopped: the shelf is empty), else the reported on-hand.
- safety stock: safety stock = z(service level) x demand std x sqrt(lead time); reorder point = rate x lead
  time + safety stock. A violation is an inventory position (on hand + on order + in transit) below the
  reorder point: an order placed now arrives after the projected stock-out. The reorder point is the
  recommendation.
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

OSA_MAX_ZERO_RUN_DAYS = 1

SIGNALS_SCHEMA = (
    "date date, store_id string, item_id string, units_sold int, on_hand_units int, is_filled boolean, "
    "lead_time_days int, demand_rate double, expected_units double, balance_gap int, "
    "zero_run_days int, zero_run_prob double, est_true_on_hand int, position int, safety_stock double, "
    "reorder_point double, projected_stockout_days double, osa_pct double, osa_window_prob double, "
    "est_lost_units double, avail_alert string, avail_score double, avail_reason string, "
    "ss_alert boolean, ss_score double, ss_reason string"
)


def zero_run_signal(out: pd.DataFrame, cfg: OutOfStockConfig, ready: pd.Series) -> pd.DataFrame:
    """Add ``zero_run_days``, ``zero_run_prob`` and ``run_in_stock`` (stock reported on every run day)."""
    zero = (out["units_sold"] == 0) & ~out["is_filled"]
    run_id = (~zero).cumsum()
    # The lower of the fast and slow levels: a run right after a few good days is not judged by them alone.
    cautious = np.minimum(out["expected_units"], out["demand_rate_long"] * out["expected_units"]
                          / out["demand_rate"].where(out["demand_rate"] > 0))
    rate = cautious.fillna(out["expected_units"]).where(zero).groupby(run_id).transform("first")
    var = out["demand_var"].where(zero).groupby(run_id).transform("first")
    r = np.where(var > rate * 1.05, rate**2 / (var - rate).clip(lower=1e-9), np.inf)
    log_p0 = np.where(np.isfinite(r), -r * np.log1p(rate / np.where(np.isfinite(r), r, 1.0)), -rate)
    # Intermittent items: a zero day is at least as likely as it has been (past share of zero days).
    empirical = np.log(out["zero_share"].where(zero).groupby(run_id).transform("first").clip(lower=1e-12))
    log_p0 = pd.Series(np.where(zero, np.maximum(log_p0, empirical.fillna(-np.inf)), 0.0), index=out.index).fillna(0.0)
    out["zero_run_days"] = zero.astype(int).groupby(run_id).cumsum().where(zero, 0)
    out["zero_run_prob"] = np.exp(log_p0.groupby(run_id).cumsum()).where(zero & ready, 1.0)
    stocked = (out["on_hand_prev"].fillna(out["start_stock"]) > 0) & zero
    out["run_in_stock"] = (stocked | ~zero).astype(int).groupby(run_id).cummin().astype(bool) & zero
    return out


def osa_signal(out: pd.DataFrame, cfg: OutOfStockConfig, ready: pd.Series) -> pd.DataFrame:
    """Add ``osa_pct`` (window actual / expected, capped at 1; 0 with no stock) and ``osa_gap`` with its probability."""
    w = cfg.osa_window_days
    in_stock = (out["start_stock"] > 0) & ~out["is_filled"]
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
    """Add ``position``, ``safety_stock``, ``reorder_point``, ``projected_stockout_days`` and ``ss_alert``."""
    z = float(stats.norm.ppf(cfg.service_level))
    lead = out["lead_time_days"].astype(float)
    std = np.sqrt(np.maximum(out["demand_var"], out["demand_rate"]))  # at least Poisson noise
    out["position"] = (out["on_hand_units"] + out["on_order_units"].fillna(0)
                       + out["in_transit_units"].fillna(0)).astype(int)
    out["safety_stock"] = z * std * np.sqrt(lead)
    out["reorder_point"] = out["demand_rate"] * lead + out["safety_stock"]
    out["projected_stockout_days"] = out["on_hand_units"] / out["demand_rate"].clip(lower=1e-6)
    out["ss_alert"] = (ready & lead.notna() & ~out["is_filled"] & (out["position"] < out["reorder_point"])).astype(bool)
    return out


def detect_one_series(pdf: pd.DataFrame, cfg: OutOfStockConfig) -> pd.DataFrame:
    """All signals and alerts for one store-item's days (input: DEMAND_SCHEMA columns + ``lead_time_days``)."""
    out = pdf.sort_values("date").reset_index(drop=True)
    ready = (out["history_days"] >= cfg.min_history_days) & out["demand_rate"].notna() & ~out["is_filled"]
    out = zero_run_signal(out, cfg, ready)
    out = osa_signal(out, cfg, ready)
    out = safety_stock_signal(out, cfg, ready)
    abnormal = (out["zero_run_prob"] < cfg.zero_run_max_probability) & (out["zero_run_days"] >= cfg.min_zero_run_days)
    gap_limit = np.maximum(cfg.balance_gap_factor * out["demand_rate"], cfg.balance_gap_min_units)
    correction = ready & (out["balance_gap"].abs() > gap_limit)
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
    out["avail_reason"] = np.select(
        [abnormal & out["run_in_stock"], correction, stockout, osa_gap],
        [
            out["zero_run_days"].astype(str) + " zero-sales days at rate " + out["demand_rate"].round(2).astype(str)
            + "/day (p=" + out["zero_run_prob"].map("{:.1e}".format) + ") while system shows "
            + out["on_hand_units"].astype(str) + " units",
            "inventory correction: balance gap " + out["balance_gap"].astype("string").fillna("") + " units",
            "stock-out: " + out["zero_run_days"].astype(str) + " zero-sales days with no stock",
            "sales " + (out["osa_pct"] * 100).round(0).astype(str) + "% of expected over "
            + str(cfg.osa_window_days) + " days with stock present",
        ],
        None,
    )
    alerted = out["avail_alert"].notna()
    out["est_true_on_hand"] = np.where(phantom, 0, out["on_hand_units"]).astype(int)
    out["est_lost_units"] = np.where(alerted, (out["expected_units"] - out["units_sold"]).clip(lower=0), 0.0)
    out["ss_score"] = np.where(out["ss_alert"], (1 - out["position"] / out["reorder_point"]).clip(0, 1), np.nan)
    out["ss_reason"] = np.where(
        out["ss_alert"],
        "position " + out["position"].astype(str) + " < reorder point " + out["reorder_point"].round(1).astype(str)
        + " (lead time " + out["lead_time_days"].astype("string").fillna("?") + " d, safety stock "
        + out["safety_stock"].round(1).astype(str) + "); stock-out projected in "
        + out["projected_stockout_days"].round(1).astype(str) + " d; recommend reorder point "
        + np.ceil(out["reorder_point"].fillna(0)).astype(int).astype(str),
        None,
    )
    return out[[c.split()[0] for c in SIGNALS_SCHEMA.split(", ")]]
