"""Seeded synthetic store-item-day inventory data with planted out-of-stock ground truth.

Each store-item is simulated on its own from ``seed`` and its (store, item) index, so a bigger run contains
the smaller one unchanged and the work spreads over Spark tasks (``mapInPandas`` over series ids).
Profiles: ``slow`` movers (rate 0.1-1/day, nothing planted: their zero days are ordinary), ``normal``,
and three planted episode kinds, one per series:

- ``phantom_inventory``: the shelf empties (loss) while the system keeps its count; sales stop until an
  audit corrects the count to zero and an emergency delivery arrives (episode = loss day .. audit day);
- ``late_replenishment``: from the episode start ordering is frozen until the shelf has been empty 2-5 days,
  then an order arrives one lead time later (episode = first day the inventory position is below lead-time
  demand at a 95% service level .. the day before the delivery, or the data's end);
- ``shelf_problem``: stock is present but only 30-50% of demand sells for 7-14 days (episode = those days).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, timedelta

import numpy as np
import pandas as pd

SIM_SCHEMA = (
    "date date, store_id string, item_id string, units_sold int, on_hand_units int, replenishment_units int, "
    "on_order_units int, in_transit_units int, promo boolean, shelf_capacity int, lead_time_days int, "
    "profile string, gt_type string"
)
DAILY_COLUMNS = ("date", "store_id", "item_id", "units_sold", "on_hand_units", "replenishment_units",
                 "on_order_units", "in_transit_units", "promo", "shelf_capacity")
DOW_FACTORS = np.array([0.9, 0.9, 0.95, 1.0, 1.1, 1.2, 0.95])
PROMO_LIFT = 1.5
WARM_UP_DAYS = 45
Z_95 = 1.645


def series_rng(seed: int, store: int, item: int) -> np.random.Generator:
    return np.random.default_rng([seed, store, item])


def pick_profile(rng: np.random.Generator) -> tuple[str, float]:
    """The series' profile and base daily demand rate."""
    u = rng.random()
    if u < 0.2:
        return "slow", float(rng.uniform(0.1, 1.0))
    if u < 0.35:
        return "phantom_inventory", float(rng.uniform(2.0, 15.0))
    if u < 0.5:
        return "late_replenishment", float(rng.uniform(1.0, 15.0))
    if u < 0.6:
        return "shelf_problem", float(rng.uniform(6.0, 15.0))
    return "normal", float(rng.uniform(1.0, 15.0))


def simulate_series(seed: int, store: int, item: int, n_days: int, start: date) -> pd.DataFrame:
    """One store-item's days (columns of SIM_SCHEMA); ``gt_type`` marks the planted episode's days."""
    rng = series_rng(seed, store, item)
    profile, lam = pick_profile(rng)
    lead = int(rng.integers(2, 8))
    promo = rng.random(n_days) < 0.05
    mean = lam * DOW_FACTORS[np.arange(n_days) % 7] * np.where(promo, PROMO_LIFT, 1.0)
    if rng.random() < 0.3:  # over-dispersed demand: gamma-Poisson (negative binomial, shape 3)
        mean = rng.gamma(3.0, mean / 3.0)
    demand = rng.poisson(mean)
    return simulate_inventory(rng, demand, profile, lam, lead, promo, start, f"S{store:03d}", f"I{item:04d}")


def simulate_inventory(rng: np.random.Generator, demand: np.ndarray, profile: str, lam: float, lead: int,
                       promo: np.ndarray, start: date, store_id: str, item_id: str,
                       dispersion: float = 1.0) -> pd.DataFrame:
    """Run the replenishment policy over a given daily ``demand`` and plant ``profile``'s episode.

    The same policy serves generated demand (``simulate_series``) and real demand (the real-data benchmark):
    an (s, S) policy sized from the base rate ``lam`` and the lead time, whose safety term is scaled by
    ``dispersion`` (variance / mean of daily demand: 1 for Poisson; real lumpy demand is higher, and a
    retailer stocking it by a Poisson rule would run out every few weeks). Sales are demand capped by the
    true shelf stock. Output: SIM_SCHEMA columns; ``gt_type`` marks the planted episode's days.
    """
    n_days = len(demand)
    peak = lam * PROMO_LIFT * 1.2
    reorder = math.ceil(peak * (lead + 2) + 3 * math.sqrt(dispersion * peak * (lead + 2))) + 2
    order_up_to = reorder + max(math.ceil(peak * 14), 6)
    ep_start = int(rng.integers(WARM_UP_DAYS, n_days - 30))
    ep_len = int(rng.integers(10, 22)) if profile == "phantom_inventory" else int(rng.integers(7, 15))
    shelf_frac = float(rng.uniform(0.3, 0.5))
    stockout_wait = int(rng.integers(2, 6))

    true_oh = system = order_up_to
    pipeline: dict[int, int] = {}
    rows = np.zeros((n_days, 6), dtype=np.int64)  # sold, on_hand, repl, on_order, in_transit, position
    gt = np.zeros(n_days, dtype=bool)
    phantom_day = audit_day = -1
    frozen = profile == "late_replenishment"
    empty_days, arrival = 0, -1
    for t in range(n_days):
        repl = pipeline.pop(t, 0)
        if t == audit_day:  # audit: the count is set to the truth (0), an emergency delivery refills
            system = true_oh = 0
            repl += order_up_to
        true_oh += repl
        system += repl
        if profile == "phantom_inventory" and phantom_day < 0 and t >= ep_start and system > reorder + 2 * peak:
            phantom_day, audit_day, true_oh = t, t + ep_len, 0
        in_shelf_problem = profile == "shelf_problem" and ep_start <= t < ep_start + ep_len
        want = rng.binomial(demand[t], shelf_frac) if in_shelf_problem else demand[t]
        sold = min(int(want), true_oh)
        if sold > 0 and true_oh - sold > 0 and rng.random() < 0.01:  # recorded shrink of one unit
            true_oh -= 1
            system -= 1
        true_oh -= sold
        system -= sold
        position = system + sum(pipeline.values())
        if frozen and t >= ep_start:  # the planted episode: no order until the shelf has been empty a while
            empty_days = empty_days + 1 if true_oh == 0 else 0
            if empty_days >= stockout_wait:
                frozen, arrival = False, t + lead
                pipeline[arrival] = order_up_to - position
        elif (not frozen or t < ep_start) and position <= reorder and t + lead not in pipeline:
            pipeline[t + lead] = order_up_to - position
        in_transit = sum(q for d, q in pipeline.items() if d - t <= (lead + 1) // 2)
        rows[t] = (sold, system, repl, sum(pipeline.values()) - in_transit, in_transit, position)
    if profile == "phantom_inventory" and phantom_day >= 0:
        gt[phantom_day : min(audit_day, n_days - 1) + 1] = True
    elif profile == "late_replenishment":
        # From the first frozen day the position is below lead-time demand at a 95% service level to the day
        # before the late delivery (or the data's end when the freeze outlasts it).
        need = lam * lead + Z_95 * math.sqrt(dispersion * lam * lead)
        low = np.flatnonzero((np.arange(n_days) >= ep_start) & (rows[:, 5] < need))
        end = arrival if arrival >= 0 else n_days
        if low.size and low[0] < end:
            gt[low[0] : min(end, n_days)] = True
    elif profile == "shelf_problem":
        gt[ep_start : ep_start + ep_len] = True
    dates = [start + timedelta(days=int(d)) for d in range(n_days)]
    return pd.DataFrame({
        "date": dates, "store_id": store_id, "item_id": item_id,
        "units_sold": rows[:, 0], "on_hand_units": rows[:, 1], "replenishment_units": rows[:, 2],
        "on_order_units": rows[:, 3], "in_transit_units": rows[:, 4], "promo": promo,
        "shelf_capacity": order_up_to + 10, "lead_time_days": lead, "profile": profile,
        "gt_type": np.where(gt, profile, None),
    })


def simulate_batches(seed: int, n_items: int, n_days: int, start: date):  # mapInPandas function
    """A ``mapInPandas`` function: series ids (column ``id``) in, their simulated days out."""

    def simulate(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for series_id in batch["id"].tolist():
                store, item = divmod(int(series_id), n_items)
                yield simulate_series(seed, store, item, n_days, start)

    return simulate
