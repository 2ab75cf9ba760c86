"""Small pandas builders shared by the out_of_stock tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pandas as pd

from usecases.out_of_stock.generate import simulate_series


def prepared_series(store: int, item: int, n_days: int = 150, seed: int = 42) -> tuple[pd.DataFrame, str, pd.Series]:
    """A simulated series with the prepare-step columns (no gaps), its profile and its ground-truth mask."""
    df = simulate_series(seed, store, item, n_days, date(2024, 1, 1))
    prev = df["on_hand_units"].shift(1)
    out = df.drop(columns=["profile", "gt_type"]).assign(
        is_filled=False,
        on_hand_prev=prev,
        start_stock=prev.fillna(df["on_hand_units"] + df["units_sold"] - df["replenishment_units"])
        + df["replenishment_units"],
        balance_gap=prev + df["replenishment_units"] - df["units_sold"] - df["on_hand_units"],
    )
    return out, str(df["profile"].iloc[0]), df["gt_type"].notna()


def find_series(profile: str, n_days: int = 150, limit: int = 200) -> tuple[pd.DataFrame, pd.Series]:
    """The first simulated series (store 0) with the given profile."""
    for item in range(limit):
        pdf, prof, truth = prepared_series(0, item, n_days)
        if prof == profile:
            return pdf, truth
    raise AssertionError(f"no {profile} series in {limit} items")


def series_with_profile(profile: str, n_items: int) -> Iterator[tuple[pd.DataFrame, pd.Series]]:
    """Every simulated series of store 0 among the first ``n_items`` items with the given profile."""
    for item in range(n_items):
        pdf, prof, truth = prepared_series(0, item)
        if prof == profile:
            yield pdf, truth
