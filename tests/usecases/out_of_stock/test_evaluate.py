"""Episode building and matching: the documented rule, on hand-made alerts and truth."""

from __future__ import annotations

from datetime import date, timedelta

from usecases.out_of_stock.evaluate import alert_day_precision_recall, alert_episodes, precision_recall

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


def test_alert_day_precision_uses_the_tolerance_and_day_recall_the_plain_truth(spark) -> None:
    alerts = spark.createDataFrame(
        [(d(n), "S1", "I1", "phantom_inventory") for n in (0, 1, 2, 9, 20)]      # truth [3..6]: 0..2, 9 within 3
        + [(d(n), "S1", "I1", "safety_stock") for n in (4, 5)],                   # no late truth: 0 precision
        "date date, store_id string, item_id string, alert_type string")
    truth = spark.createDataFrame([("S1", "I1", "phantom_inventory", d(3), d(6))], "store_id string, item_id string, "
                                  "episode_type string, start_date date, end_date date")
    rows = {r["alert_type"]: r for r in alert_day_precision_recall(alerts, truth, tolerance=3)}
    assert rows["phantom_inventory"]["alert_days"] == 5
    assert rows["phantom_inventory"]["day_precision"] == 4 / 5            # day 20 is outside [0..9]
    assert rows["phantom_inventory"]["day_recall"] == 0.0                 # no alert on days 3..6 themselves
    assert rows["safety_stock"]["day_precision"] == 0.0 and rows["safety_stock"]["day_recall"] is None


def test_episode_gaps_count_open_days_so_a_closure_does_not_split_an_episode(spark) -> None:
    days = spark.createDataFrame(
        [(d(0), "S1", "I1", "phantom_inventory", 0.9, "a", 1), (d(5), "S1", "I1", "phantom_inventory", 0.99, "b", 2),
         (d(6), "S1", "I1", "phantom_inventory", 0.95, "c", 3)],                # days 1..4 closed: open_day 1 -> 2
        "date date, store_id string, item_id string, alert_type string, score double, reason string, open_day int")
    episodes = alert_episodes(days).collect()
    assert len(episodes) == 1
    ep = episodes[0]
    assert (ep.start_date, ep.end_date, ep.days) == (d(0), d(6), 3)
    assert (ep.score, ep.reason, ep.first_reason) == (0.99, "b", "a")
    by_calendar = alert_episodes(days.drop("open_day")).count()
    assert by_calendar == 2
