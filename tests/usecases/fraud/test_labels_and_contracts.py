"""SME rule labels, review overrides, bad input handling and config validation."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Row

from shared.config import ConfigError, parse_config
from shared.contracts import ContractError, apply_contract
from usecases.fraud.config import FraudConfig
from usecases.fraud.contracts import TRANSACTIONS
from usecases.fraud.labels import load_rules, parse_rules, resolve_labels

COLUMNS = ("transaction_id", "step", "type", "amount", "name_orig", "old_balance_orig", "new_balance_orig",
           "name_dest", "old_balance_dest", "new_balance_dest")


def _tx(spark, rows: list[tuple]):
    schema = ("transaction_id bigint, step int, type string, amount double, name_orig string, "
              "old_balance_orig double, new_balance_orig double, name_dest string, old_balance_dest double, "
              "new_balance_dest double")
    return spark.createDataFrame(rows, schema)


def test_default_rules_file_is_packaged_and_versioned() -> None:
    rules = load_rules()
    assert [r.name for r in rules.rules] == ["small_origin_transfer_to_empty_dest", "large_origin_emptied",
                                            "large_origin_very_large_amount"]
    assert len(rules.sha256) == 16


def test_bad_rules_file_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="does not end"):
        parse_rules("-- rule: a\namount > 1\n", "x.sql")
    with pytest.raises(ConfigError, match="no rules"):
        parse_rules("-- nothing here\n", "x.sql")


def test_rules_label_and_reviews_override(spark) -> None:
    df = _tx(spark, [
        (1, 1, "TRANSFER", 100.0, "C1", 1000.0, 900.0, "C2", 0.0, 0.0),          # rule 1
        (2, 1, "CASH_OUT", 90000.0, "C1", 90000.0, 0.0, "C2", 5.0, 90005.0),    # rule 2
        (3, 1, "PAYMENT", 10.0, "C1", 1000.0, 990.0, "M2", 0.0, 0.0),           # no rule
        (4, 1, "TRANSFER", 10.0, "C1", 1000.0, 990.0, "C2", None, None),        # rule 1 on NULL: false
    ])
    reviews = spark.createDataFrame([
        Row(transaction_id=1, label=0, reviewer="ann", reviewed_at=dt.datetime(2024, 1, 1)),
        Row(transaction_id=3, label=0, reviewer="bob", reviewed_at=dt.datetime(2024, 1, 1)),
        Row(transaction_id=3, label=1, reviewer="cat", reviewed_at=dt.datetime(2024, 2, 1)),  # latest wins
    ])
    out = {r.transaction_id: r for r in resolve_labels(df, load_rules(), reviews).collect()}
    assert (out[1].rule_label, out[1].label, out[1].label_source) == (1, 0, "review")
    assert (out[2].label, out[2].rule_hit, out[2].label_source) == (1, "large_origin_emptied", "rules")
    assert (out[3].rule_label, out[3].label) == (0, 1)
    assert out[4].label == 0


def test_bad_rows_are_quarantined_with_a_reason(spark) -> None:
    df = _tx(spark, [
        (1, 1, "TRANSFER", 100.0, "C1", 1000.0, 900.0, "C2", 0.0, 0.0),
        (2, 1, "TRANSFER", None, "C1", 1000.0, 900.0, "C2", 0.0, 0.0),
        (3, 1, "TRANSFER", -5.0, "C1", 1000.0, 900.0, "C2", 0.0, 0.0),
        (4, 1, "BITCOIN", 5.0, "C1", 1000.0, 900.0, "C2", 0.0, 0.0),
    ])
    result = apply_contract(df, TRANSACTIONS)
    assert (result.rows_in, result.rows_valid, result.rows_quarantined) == (4, 1, 3)
    reasons = {r.transaction_id: r.quarantine_reason for r in result.quarantined.collect()}
    assert "amount is null" in reasons["2"]
    assert "amount must be >= 0" in reasons["3"]
    assert "type must be one of" in reasons["4"]


def test_missing_column_is_a_clear_error(spark) -> None:
    df = _tx(spark, [(1, 1, "TRANSFER", 100.0, "C1", 1000.0, 900.0, "C2", 0.0, 0.0)]).drop("amount")
    with pytest.raises(ContractError, match="missing required column 'amount'"):
        apply_contract(df, TRANSACTIONS)


@pytest.mark.parametrize("arg", ["--test_fraction=1.5", "--depth_grid=", "--cv_folds=1",
                                 "--review_band_low=0.9", "--n_transactions=0"])
def test_bad_parameters_are_rejected(arg: str) -> None:
    with pytest.raises(ConfigError):
        parse_config(FraudConfig, [arg])


def test_text_ids_split_and_join_like_numeric_ids(spark) -> None:
    """The split hash and the review join read the id as text: ``T-0001`` ids work, and the same id read as a
    number or as text lands on the same side of the split."""
    from pyspark.sql import functions as F

    from usecases.fraud.sampling import with_test_flag

    numeric = spark.range(0, 2000).withColumnRenamed("id", "transaction_id")
    as_text = numeric.select(F.col("transaction_id").cast("string").alias("transaction_id"))
    flags = [{r.transaction_id: r.is_test for r in with_test_flag(df, 0.3, 7).collect()} for df in (numeric, as_text)]
    assert {str(k): v for k, v in flags[0].items()} == flags[1]
    assert 0.25 < sum(flags[1].values()) / 2000 < 0.35
    text_ids = spark.createDataFrame([(f"T-{i:04d}",) for i in range(2000)], "transaction_id string")
    assert 0.25 < with_test_flag(text_ids, 0.3, 7).filter("is_test").count() / 2000 < 0.35
    rows = [(f"T-{i:04d}", 1, "TRANSFER", 100.0, "C1", 1000.0, 900.0, "C2", 0.0, 0.0) for i in (1, 2)]
    tx = spark.createDataFrame(rows, "transaction_id string, step int, type string, amount double, name_orig string, "
                                     "old_balance_orig double, new_balance_orig double, name_dest string, "
                                     "old_balance_dest double, new_balance_dest double")
    reviews = spark.createDataFrame([Row(transaction_id="T-0002", label=0, reviewer="ann",
                                         reviewed_at=dt.datetime(2024, 1, 1))])
    out = {r.transaction_id: (r.label, r.label_source) for r in resolve_labels(tx, load_rules(), reviews).collect()}
    assert out == {"T-0001": (1, "rules"), "T-0002": (0, "review")}


def test_infinite_and_float32_overflowing_values_are_quarantined(spark) -> None:
    inf = float("inf")
    df = _tx(spark, [
        (1, 1, "TRANSFER", 100.0, "C1", 1000.0, 900.0, "C2", 0.0, 0.0),
        (2, 1, "TRANSFER", inf, "C1", 1000.0, 900.0, "C2", 0.0, 0.0),
        (3, 1, "TRANSFER", 5.0, "C1", -inf, 900.0, "C2", 0.0, 0.0),
        (4, 1, "TRANSFER", 5.0, "C1", 1000.0, 900.0, "C2", float("nan"), 0.0),
        (5, 1, "TRANSFER", 5.0, "C1", -3e38, 3e38, "C2", 0.0, 0.0),  # each fits float32, the change does not
        (6, 1, "TRANSFER", 3.4e38, "C1", 1000.0, 900.0, "C2", None, None),  # float32's largest: fine
    ])
    result = apply_contract(df, TRANSACTIONS)
    assert (result.rows_valid, result.rows_quarantined) == (2, 4)
    reasons = {r.transaction_id: r.quarantine_reason for r in result.quarantined.collect()}
    assert "amount is not a finite number: Infinity" in reasons["2"]
    assert "old_balance_orig is not a finite number: -Infinity" in reasons["3"]
    assert "old_balance_dest is not a finite number: NaN" in reasons["4"]
    assert "new_balance_orig - old_balance_orig must be within float32 range" in reasons["5"]


def test_extra_features_must_not_shadow_built_in_columns() -> None:
    assert parse_config(FraudConfig, ["--extra_features=risk,device_age"]).extra_features == ("risk", "device_age")
    for bad in ("amount", "orig_diff", "label", "risk,risk", "_x"):
        with pytest.raises(ConfigError, match="extra_features"):
            parse_config(FraudConfig, [f"--extra_features={bad}"])
