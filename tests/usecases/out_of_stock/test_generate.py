"""Generator: seeded, per-series independent, planted truth where the profile says, valid inventory."""

from __future__ import annotations

from datetime import date

import pandas as pd

from usecases.out_of_stock.generate import simulate_series


def test_same_seed_same_series_and_independent_of_other_series() -> None:
    a = simulate_series(7, 1, 3, 120, date(2024, 1, 1))
    b = simulate_series(7, 1, 3, 120, date(2024, 1, 1))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(simulate_series(8, 1, 3, 120, date(2024, 1, 1)))


def test_planted_episodes_match_profiles_and_stock_is_never_negative() -> None:
    frames = [simulate_series(42, 0, i, 150, date(2024, 1, 1)) for i in range(60)]
    for df in frames:
        profile = df["profile"].iloc[0]
        assert (df[["units_sold", "on_hand_units", "replenishment_units", "on_order_units"]] >= 0).all().all()
        planted = df["gt_type"].dropna().unique().tolist()
        if profile in ("slow", "normal"):
            assert planted == []
        else:
            assert planted == [profile]
    profiles = {df["profile"].iloc[0] for df in frames}
    assert {"slow", "normal", "phantom_inventory", "late_replenishment", "shelf_problem"} <= profiles


def test_phantom_episode_ends_with_a_balance_correction() -> None:
    for i in range(60):
        df = simulate_series(42, 0, i, 150, date(2024, 1, 1))
        if df["profile"].iloc[0] != "phantom_inventory":
            continue
        days = df.index[df["gt_type"].notna()]
        assert (df.loc[days[:-1], "units_sold"] == 0).all()
        assert (df.loc[days[:-1], "on_hand_units"] > 0).all()
        audit = days[-1]
        gap = df.loc[audit - 1, "on_hand_units"] + df.loc[audit, "replenishment_units"] - \
            df.loc[audit, "units_sold"] - df.loc[audit, "on_hand_units"]
        assert gap == df.loc[audit - 1, "on_hand_units"] > 0
        return
    raise AssertionError("no phantom series found")
