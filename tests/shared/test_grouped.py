"""map_sorted_groups: the same rows as applyInPandas, with groups cut by Arrow batch boundaries put back whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from chispa import assert_df_equality
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.grouped import apply_to_sorted_batches, group_starts, map_sorted_groups
from shared.spark import ARROW_BATCH_ROWS_CONF, session_conf

SCHEMA = "store string, item string, day int, value double, running double, group_rows int"


def _running(pdf: pd.DataFrame) -> pd.DataFrame:
    """Depends on the day order and on seeing the whole group: a cut group would show fewer rows."""
    out = pdf.sort_values("day").reset_index(drop=True)
    out["running"] = out["value"].cumsum()
    out["group_rows"] = np.int32(len(out))
    return out[["store", "item", "day", "value", "running", "group_rows"]]


def _rows(n_groups: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 40, n_groups)
    frames = [pd.DataFrame({"store": f"s{g % 3}", "item": f"i{g}", "day": rng.permutation(n).astype("int32"),
                            "value": rng.normal(size=n)}) for g, n in enumerate(sizes)]
    return pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=seed)


@pytest.mark.parametrize("batch_rows", ["7", "10000"])
def test_same_rows_as_apply_in_pandas_also_when_batches_cut_groups(spark, batch_rows) -> None:
    df = spark.createDataFrame(_rows(60, seed=3), "store string, item string, day int, value double")
    with session_conf(spark, {ARROW_BATCH_ROWS_CONF: batch_rows}):
        expected = df.groupBy("store", "item").applyInPandas(_running, SCHEMA).toPandas()
        actual = map_sorted_groups(df, ["store", "item"], ["day"], _running, SCHEMA).toPandas()
    order = ["store", "item", "day"]
    assert_df_equality(spark.createDataFrame(actual.sort_values(order).reset_index(drop=True), SCHEMA),
                       spark.createDataFrame(expected.sort_values(order).reset_index(drop=True), SCHEMA))
    assert len(actual) == df.count()


def test_a_group_function_sees_its_rows_in_order(spark) -> None:
    df = spark.createDataFrame(_rows(20, seed=5), "store string, item string, day int, value double")

    def check(pdf: pd.DataFrame) -> pd.DataFrame:
        assert pdf["day"].is_monotonic_increasing and list(pdf.index) == list(range(len(pdf)))
        return _running(pdf)

    with session_conf(spark, {ARROW_BATCH_ROWS_CONF: "5"}):
        assert map_sorted_groups(df, ["store", "item"], ["day"], check, SCHEMA).count() == df.count()


def test_no_rows_gives_no_rows(spark) -> None:
    df = spark.createDataFrame([], "store string, item string, day int, value double")
    assert map_sorted_groups(df, ["store", "item"], ["day"], _running, SCHEMA).count() == 0


def test_nulls_form_one_key_as_in_group_by() -> None:
    frame = pd.DataFrame({"k": [None, None, "a", "a", np.nan, "b"], "n": [1.0, 1.0, np.nan, np.nan, 2.0, 2.0]})
    # k: None None | a a | nan(null) | b ; n splits None/None from a/a by its own change (1.0 -> nan)
    assert group_starts(frame, ["k", "n"]).tolist() == [0, 2, 4, 5]
    assert group_starts(frame.iloc[:0], ["k"]).tolist() == []


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 25), min_size=0, max_size=12), cuts=st.lists(st.integers(0, 300), max_size=8))
def test_any_batch_cuts_give_every_group_whole_once(sizes, cuts) -> None:
    """Property: for groups of any size and batch boundaries anywhere, every group reaches ``fn`` exactly once,
    whole and in order."""
    rows = pd.DataFrame({"g": np.repeat(np.arange(len(sizes)), sizes).astype(str),
                         "day": np.concatenate([np.arange(n) for n in sizes]) if sizes else np.zeros(0, int)})
    bounds = sorted({0, len(rows), *[c for c in cuts if c < len(rows)]})
    batches = [rows.iloc[a:b].reset_index(drop=True) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    seen: list[tuple[str, int]] = []

    def record(pdf: pd.DataFrame) -> pd.DataFrame:
        assert pdf["day"].tolist() == list(range(len(pdf)))
        seen.append((pdf["g"].iat[0], len(pdf)))
        return pdf.head(1)

    out = list(apply_to_sorted_batches(iter(batches), ["g"], record))
    assert seen == [(str(g), n) for g, n in enumerate(sizes)]
    assert sum(len(o) for o in out) == len(sizes)


def test_key_names_with_spaces_work(spark) -> None:
    """Keys are quoted for the shuffle and the sort. (A name with a dot or a backtick fails in PySpark's own
    pandas UDFs, which resolve their input and output columns unquoted, so no grouped map can take one.)"""
    rows = _rows(10, seed=9).rename(columns={"store": "store id", "item": "item name"})
    df = spark.createDataFrame(rows, "`store id` string, `item name` string, day int, value double")

    def count(pdf: pd.DataFrame) -> pd.DataFrame:
        assert pdf["day"].is_monotonic_increasing
        return pd.DataFrame({"store": [pdf["store id"].iat[0]], "item": [pdf["item name"].iat[0]], "n": [len(pdf)]})

    out = map_sorted_groups(df, ["store id", "item name"], ["day"], count, "store string, item string, n long")
    expected = rows.groupby(["store id", "item name"]).size().sort_index()
    actual = out.toPandas().set_index(["store", "item"])["n"].sort_index()
    assert actual.tolist() == expected.tolist() and list(actual.index) == list(expected.index)
