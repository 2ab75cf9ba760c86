"""The model-choice rule: demand classes, eligibility, ties, and the fallbacks for constant and short series."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from usecases.forecasting.config import CANDIDATE_MODELS
from usecases.forecasting.forecaster_model import MODEL_KINDS
from usecases.forecasting.selection import average_demand_interval, candidate_pool, choose_model

ALL = list(CANDIDATE_MODELS)


def test_config_names_the_same_models_the_pyfunc_forecasts() -> None:
    assert set(CANDIDATE_MODELS) == set(MODEL_KINDS)


def test_demand_class_splits_the_candidates_by_average_demand_interval() -> None:
    assert average_demand_interval(np.array([0, 2, 0, 0, 3, np.nan])) == 2.5  # 5 observed days, 2 with demand
    assert math.isinf(average_demand_interval(np.zeros(10)))
    windows = ["window_13w", "window_8w", "window_26w", "seasonal_window_13w"]
    assert candidate_pool(ALL, 2.5, 1.32) == ("intermittent",
                                              [*windows, "seasonal_naive", "croston_optimized", "adida", "imapa",
                                               "tsb"])
    assert candidate_pool(ALL, 1.1, 1.32) == ("smooth", [*windows, "seasonal_naive", "auto_ets", "prophet"])
    assert candidate_pool(ALL, 9.0, 0) == ("any", ALL)


def test_lowest_score_wins_and_ties_go_to_the_first_listed() -> None:
    complete = dict.fromkeys(ALL, True)
    choice = choose_model({"seasonal_naive": 90.0, "auto_ets": 70.0, "prophet": 60.0}, complete,
                          ["seasonal_naive", "auto_ets", "prophet"], "smape", 2, False)
    assert (choice.model, choice.reason) == ("prophet", "lowest smape over 2 fold(s)")
    tie = choose_model({"seasonal_naive": 90.0, "auto_ets": 60.0, "prophet": 60.0}, complete,
                       ["seasonal_naive", "auto_ets", "prophet"], "mae", 2, False)
    assert tie.model == "auto_ets" and tie.reason.startswith("tie on mae")


def test_a_rival_must_beat_the_first_listed_by_more_than_the_tolerance() -> None:
    complete = dict.fromkeys(ALL, True)
    order = ["window_13w", "seasonal_naive", "prophet"]
    close = choose_model({"window_13w": 104.0, "seasonal_naive": 100.0, "prophet": 120.0}, complete, order, "smape",
                         4, False, tolerance=0.05)
    assert close.model == "window_13w" and close.reason.startswith("within 5% of the best on smape over 4 fold(s)")
    clear = choose_model({"window_13w": 106.0, "seasonal_naive": 100.0, "prophet": 120.0}, complete, order, "smape",
                         4, False, tolerance=0.05)
    assert (clear.model, clear.reason) == ("seasonal_naive", "lowest smape over 4 fold(s)")


def test_a_model_that_failed_a_fold_or_has_no_score_cannot_win() -> None:
    scores = {"seasonal_naive": 90.0, "auto_ets": math.nan, "prophet": 10.0}
    complete = {"seasonal_naive": True, "auto_ets": True, "prophet": False}
    assert choose_model(scores, complete, list(scores), "smape", 2, False).model == "seasonal_naive"
    nothing = choose_model({"prophet": 1.0}, {"prophet": False}, ["prophet"], "smape", 2, False)
    assert nothing.model == "seasonal_naive" and "no candidate" in nothing.reason


def test_constant_and_too_short_series_get_seasonal_naive_whatever_the_scores() -> None:
    scores, complete = {"prophet": 1.0, "seasonal_naive": 5.0}, {"prophet": True, "seasonal_naive": True}
    constant = choose_model(scores, complete, list(scores), "smape", 2, True)
    assert constant.model == "seasonal_naive" and constant.reason.startswith("constant history")
    short = choose_model(scores, complete, list(scores), "smape", 0, False)
    assert short.model == "seasonal_naive" and short.reason.startswith("no backtest fold")


scores_st = st.dictionaries(st.sampled_from(ALL), st.one_of(st.floats(0, 200), st.just(math.nan)), min_size=1)


@settings(max_examples=100, deadline=None)
@given(scores_st, st.dictionaries(st.sampled_from(ALL), st.booleans()), st.integers(0, 4), st.booleans(),
       st.sampled_from([0.0, 0.05, 0.2]))
def test_the_choice_is_the_first_listed_within_the_tolerance_of_the_best(
        scores: dict[str, float], complete: dict[str, bool], folds: int, constant: bool, tolerance: float) -> None:
    candidates = [c for c in ALL if c in scores]
    choice = choose_model(scores, complete, candidates, "smape", folds, constant, tolerance)
    eligible = [c for c in candidates if complete.get(c, False) and math.isfinite(scores[c])]
    if constant or folds == 0 or not eligible:
        assert choice.model == "seasonal_naive"
    else:
        best = min(scores[c] for c in eligible)
        assert choice.model in eligible
        assert scores[choice.model] <= best * (1 + tolerance) + 1e-9 * max(1.0, best)
        assert all(scores[c] > best * (1 + tolerance) for c in eligible[: eligible.index(choice.model)])
