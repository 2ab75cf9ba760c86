"""Episode building and matching: the documented rule, on hand-made alerts and truth."""

from __future__ import annotations

from datetime import date, timedelta

from usecases.out_of_stock.evaluate import alert_episodes, precision_recall

D0 = date(2024, 3, 1)


def d(n: int) -> date:
    return D0 + timedelta(days=n)


def test_episodes_merge_small_gaps_and_matching_uses_tolerance(spark) -> None:
    alerts = spark.createDataFrame(
        [(d(n), "S1", "I1", "phantom_inventory") for n in (0, 1, 3, 10)]          # episodes [0..3], [10]
        + [(d(n), "S1", "I1", "safety_stock") for n in (20, 21)]                 # matches truth via tolerance
        + [(d(5), "S2", "I1", "phantom_inventory")],                             # no truth for S2: false positive
        "date date, store_id string, item_id string, alert_type string")
    episodes = alert_episodes(alerts)
    assert sorted((r.store_id, r.alert_type, r.days) for r in episodes.collect()) == [
        ("S1", "phantom_inventory", 1), ("S1", "phantom_inventory", 3), ("S1", "safety_stock", 2),
        ("S2", "phantom_inventory", 1)]
    truth = spark.createDataFrame([
        ("S1", "I1", "phantom_inventory", d(2), d(6)), ("S1", "I1", "late_replenishment", d(23), d(30)),
        ("S1", "I1", "phantom_inventory", d(40), d(45)),                       # missed
    ], "store_id string, item_id string, episode_type string, start_date date, end_date date")
    rows = {r["alert_type"]: r for r in precision_recall(episodes, truth, tolerance=3)}
    assert rows["phantom_inventory"]["alert_episodes"] == 3
    assert rows["phantom_inventory"]["precision"] == 1 / 3          # [0..3] matches; [10] and S2 do not
    assert rows["phantom_inventory"]["recall"] == 1 / 2
    assert rows["safety_stock"]["precision"] == 1.0 and rows["safety_stock"]["recall"] == 1.0
    assert rows["osa_gap"]["precision"] is None
