"""The review queue's rank: the order of one global row_number, computed per leaf group."""

from __future__ import annotations

import pandas as pd
from chispa import assert_df_equality
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usecases.fraud.scoring import review_queue

SCORES = "transaction_id bigint, probability double, support bigint, needs_review boolean"


def expected_queue(rows: list[tuple]) -> pd.DataFrame:
    """The queue by its definition: review rows sorted by uncertainty (desc), support, id, numbered from 1."""
    frame = pd.DataFrame(rows, columns=["transaction_id", "probability", "support", "needs_review"])
    frame = frame[frame["needs_review"]].copy()
    frame["uncertainty"] = 1 - (2 * frame["probability"] - 1).abs()
    frame = frame.sort_values(["uncertainty", "support", "transaction_id"], ascending=[False, True, True])
    return frame.assign(review_rank=range(1, len(frame) + 1))[["transaction_id", "review_rank"]]


def actual_queue(spark, rows: list[tuple]) -> pd.DataFrame:
    queue = review_queue(spark.createDataFrame(rows, SCORES))
    return queue.select("transaction_id", "review_rank").toPandas()


def test_rank_follows_uncertainty_then_support_then_id(spark) -> None:
    rows = [(7, 0.5, 40, True), (3, 0.5, 40, True), (9, 0.5, 10, True),  # most uncertain; least support first
            (1, 0.9, 5, True), (2, 0.1, 5, True),  # the same uncertainty (0.2) either side of 0.5: one group
            (4, 0.6, 100, True), (5, 0.99, 1, False)]  # not for review
    queue = review_queue(spark.createDataFrame(rows, SCORES))
    assert queue.schema["review_rank"].dataType.simpleString() == "int"
    assert set(queue.columns) == {"transaction_id", "probability", "support", "needs_review", "uncertainty",
                                  "review_rank"}
    ranked = queue.orderBy("review_rank").toPandas()
    assert ranked["transaction_id"].tolist() == [9, 3, 7, 4, 1, 2]
    assert ranked["review_rank"].tolist() == [1, 2, 3, 4, 5, 6]


def test_a_null_support_is_a_group_of_its_own_and_loses_no_row(spark) -> None:
    rows = [(1, 0.5, None, True), (2, 0.5, 3, True), (3, 0.5, None, True), (4, 0.7, None, True)]
    ranked = review_queue(spark.createDataFrame(rows, SCORES)).orderBy("review_rank").toPandas()
    # Spark sorts nulls first in ascending order: the null-support rows of a leaf come before its supported ones
    assert ranked["transaction_id"].tolist() == [1, 3, 2, 4]
    assert ranked["review_rank"].tolist() == [1, 2, 3, 4]


def test_empty_queue(spark) -> None:
    assert review_queue(spark.createDataFrame([(1, 0.99, 5, False)], SCORES)).count() == 0


leaf = st.tuples(st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0]), st.integers(1, 4))  # a few tree leaves


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(leaf, st.booleans()), min_size=1, max_size=60),
       st.permutations(list(range(60))))
def test_rank_equals_one_global_row_number(spark, rows, ids) -> None:
    """Property: whatever the leaves and which rows need review, the ranks are 1..n in the queue's order."""
    scores = [(ids[i] * 13 + 1, p, s, review) for i, ((p, s), review) in enumerate(rows)]
    expected = expected_queue(scores)
    assert_df_equality(spark.createDataFrame(actual_queue(spark, scores).sort_values("review_rank")
                                             .reset_index(drop=True), "transaction_id bigint, review_rank int"),
                       spark.createDataFrame(expected.reset_index(drop=True), "transaction_id bigint, review_rank int"))
