"""The compiled SQL and the registered pyfunc equal the tree: probabilities, classes and leaf ids, with missing values
and unseen categories. The pyfunc is checked on its JSON export (the arrays it loads) and, once, as a logged MLflow
model loaded back with ``mlflow.pyfunc.load_model`` from raw transaction columns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F
from sklearn.tree import DecisionTreeClassifier

from usecases.fraud.features import FeatureSpec, add_features, default_spec
from usecases.fraud.tree_model import TreeArrays
from usecases.fraud.tree_to_sql import as_tree, export_tree, tree_to_rules, tree_to_sql

CATEGORIES = ("CASH_IN", "CASH_OUT", "PAYMENT", "TRANSFER")


def _frame(rng: np.random.Generator, rows: int, numeric: tuple[str, ...], categories: tuple[str, ...],
           missing: float) -> pd.DataFrame:
    data = {name: rng.lognormal(8, 2, rows) * rng.choice([-1, 1], rows, p=[0.2, 0.8]) for name in numeric}
    for name in numeric:
        data[name][rng.random(rows) < missing] = np.nan
    pdf = pd.DataFrame(data)
    pdf["type"] = pd.Series(rng.choice(categories, rows), dtype="object")
    pdf.loc[rng.random(rows) < missing, "type"] = None
    pdf.insert(0, "row_id", np.arange(rows))
    return pdf


def _fit(pdf: pd.DataFrame, spec: FeatureSpec, depth: int, seed: int) -> DecisionTreeClassifier:
    x = spec.to_matrix(pdf)
    first = spec.numeric[0]
    signal = np.nan_to_num(pdf[first].to_numpy(), nan=-1.0) > np.nanmedian(pdf[first])
    noise = np.random.default_rng(seed).random(len(pdf)) < 0.2
    y = (signal ^ noise).astype(int)
    return DecisionTreeClassifier(max_depth=depth, random_state=seed).fit(x, y)


def _sql_scores(spark, pdf: pd.DataFrame, model: DecisionTreeClassifier, spec: FeatureSpec) -> pd.DataFrame:
    df = spark.createDataFrame(pdf.astype({"type": "object"}).replace({np.nan: None}))
    out = df.select("row_id", F.expr(tree_to_sql(model, spec)).alias("t")).select("row_id", "t.*")
    return out.toPandas().sort_values("row_id").reset_index(drop=True)


def _assert_same(sql: pd.DataFrame, model: DecisionTreeClassifier, spec: FeatureSpec, pdf: pd.DataFrame) -> None:
    """SQL == sklearn == the pyfunc's numpy tree rebuilt from the JSON text it is logged as, bit for bit."""
    x = spec.to_matrix(pdf)
    proba = model.predict_proba(x)[:, list(model.classes_).index(1)]
    assert np.array_equal(sql["probability"].to_numpy(), proba)  # exact, not approximate
    assert np.array_equal(sql["prediction"].to_numpy(), model.predict(x))
    assert np.array_equal(sql["rule_id"].to_numpy(), model.apply(x))
    served = TreeArrays(json.loads(json.dumps(export_tree(model)))).predict(x)
    assert np.array_equal(served["probability"].to_numpy(), proba)
    assert np.array_equal(served["prediction"].to_numpy(), model.predict(x))
    assert np.array_equal(served["rule_id"].to_numpy(), model.apply(x))


def test_sql_equals_tree_on_10k_rows_with_missing_values_and_unseen_categories(spark) -> None:
    rng = np.random.default_rng(7)
    numeric = ("amount", "old_balance_orig", "new_balance_orig")
    spec = FeatureSpec(numeric, "type", CATEGORIES)
    model = _fit(_frame(rng, 4000, numeric, CATEGORIES, missing=0.05), spec, depth=8, seed=7)
    scored = _frame(rng, 12_000, numeric, (*CATEGORIES, "DEBIT", "NEVER_SEEN"), missing=0.08)
    assert scored["type"].isin(["DEBIT", "NEVER_SEEN"]).sum() > 1000 and scored["amount"].isna().sum() > 500
    _assert_same(_sql_scores(spark, scored, model, spec), model, spec, scored)


def test_missing_values_follow_the_default_side_when_training_had_none(spark) -> None:
    rng = np.random.default_rng(3)
    numeric = ("a", "b")
    spec = FeatureSpec(numeric, "type", CATEGORIES)
    model = _fit(_frame(rng, 2000, numeric, CATEGORIES, missing=0.0), spec, depth=5, seed=3)
    scored = _frame(rng, 3000, numeric, CATEGORIES, missing=0.3)
    _assert_same(_sql_scores(spark, scored, model, spec), model, spec, scored)


def test_hostile_column_names_and_category_values_stay_inert(spark) -> None:
    rng = np.random.default_rng(11)
    numeric = ("amount`) OR 1=1 --", "a b'c")
    hostile = ("x' OR '1'='1", "back\\slash`tick", "TRANSFER")
    spec = FeatureSpec(numeric, "ty`pe; DROP TABLE t", hostile)
    pdf = _frame(rng, 3000, numeric, hostile, missing=0.05).rename(columns={"type": spec.categorical})
    y = (pdf[spec.categorical] == hostile[0]).to_numpy() | (pdf[numeric[1]].fillna(0).to_numpy() > 3000)
    model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(spec.to_matrix(pdf), y.astype(int))
    assert set(model.tree_.feature[model.tree_.feature >= 0]) & {2, 3}, "the tree must split on a hostile category"
    df = spark.createDataFrame(pdf.replace({np.nan: None}))
    sql = df.select("row_id", F.expr(tree_to_sql(model, spec)).alias("t")).select("row_id", "t.*")
    _assert_same(sql.toPandas().sort_values("row_id").reset_index(drop=True), model, spec, pdf)
    rules = " OR ".join(f"coalesce({r.condition}, FALSE)" for r in tree_to_rules(model, spec))
    flagged = df.filter(F.expr(rules)).select("row_id").toPandas()["row_id"]
    assert set(flagged) == set(np.flatnonzero(model.predict(spec.to_matrix(pdf)) == 1))


def test_rule_set_covers_exactly_the_fraud_predictions(spark) -> None:
    rng = np.random.default_rng(5)
    numeric = ("amount", "old_balance_orig")
    spec = FeatureSpec(numeric, "type", CATEGORIES)
    pdf = _frame(rng, 5000, numeric, (*CATEGORIES, "UNSEEN"), missing=0.1)
    model = _fit(pdf.iloc[:2500], spec, depth=6, seed=5)
    rules = tree_to_rules(model, spec)
    assert rules and all(r.support > 0 and 0.5 <= r.precision <= 1 for r in rules)
    any_rule = " OR ".join(f"coalesce({r.condition}, FALSE)" for r in rules)
    df = spark.createDataFrame(pdf.replace({np.nan: None}))
    flagged = df.filter(F.expr(any_rule)).select("row_id").toPandas()["row_id"]
    assert set(flagged) == set(np.flatnonzero(model.predict(spec.to_matrix(pdf)) == 1))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), depth=st.integers(1, 12), missing=st.sampled_from([0.0, 0.1, 0.4]),
       n_numeric=st.integers(1, 4))
def test_property_random_trees_on_random_data(spark, seed: int, depth: int, missing: float, n_numeric: int) -> None:
    rng = np.random.default_rng(seed)
    numeric = tuple(f"f{i}" for i in range(n_numeric))
    spec = FeatureSpec(numeric, "type", CATEGORIES[: 1 + seed % 4])
    train = _frame(rng, 400, numeric, spec.categories, missing)
    x = spec.to_matrix(train)
    y = rng.integers(0, 2, len(train)) if seed % 3 == 0 else (np.nan_to_num(x[:, 0]) > 0).astype(int)
    y[:2] = [0, 1]
    model = DecisionTreeClassifier(max_depth=depth, random_state=seed, min_samples_leaf=1 + seed % 5).fit(x, y)
    scored = _frame(rng, 300, numeric, (*spec.categories, "ZZZ"), missing=0.2)
    _assert_same(_sql_scores(spark, scored, model, spec), model, spec, scored)


def _transactions(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    """Raw transaction columns with missing balances, unseen and missing types, and values at float32's edges."""
    balances = {c: np.round(rng.lognormal(9, 2.5, rows), 2) for c in
                ("old_balance_orig", "new_balance_orig", "old_balance_dest", "new_balance_dest")}
    types = rng.choice(["TRANSFER", "CASH_OUT", "PAYMENT", "CASH_IN", "DEBIT"], rows).astype(object)
    pdf = pd.DataFrame({"transaction_id": np.arange(rows), "step": rng.integers(0, 800, rows), "type": types,
                        "amount": np.round(rng.lognormal(10, 2.5, rows), 2), **balances})
    for column in ("old_balance_dest", "new_balance_dest", "old_balance_orig"):
        pdf.loc[rng.random(rows) < 0.05, column] = np.nan
    pdf.loc[rng.random(rows) < 0.03, "type"] = None
    pdf.loc[rng.random(rows) < 0.03, "type"] = "NEVER_SEEN"
    pdf.loc[:3, "amount"] = [3.4e38, 1e-45, 0.0, 16777217.0]  # float32 max, denormal, zero, 2**24 + 1
    return pdf


def test_logged_pyfunc_equals_sql_and_sklearn_from_raw_columns(spark, mlflow_store: str) -> None:
    """Loaded with mlflow.pyfunc from its own artifacts, the model scores raw columns exactly like the compiled SQL
    evaluated by Spark on features computed by Spark, and like sklearn on the training matrix."""
    import mlflow

    from shared.tracking import ensure_experiment
    from usecases.fraud import serving

    rng = np.random.default_rng(21)
    train = add_features(spark.createDataFrame(_transactions(rng, 3000).replace({np.nan: None}))).toPandas()
    spec = default_spec(["CASH_IN", "CASH_OUT", "PAYMENT", "TRANSFER"])
    x = spec.to_matrix(train)
    y = ((np.nan_to_num(train["orig_diff"].to_numpy()) < -1000) ^ (rng.random(len(train)) < 0.1)).astype(int)
    model = DecisionTreeClassifier(max_depth=9, random_state=0).fit(x, y)
    scored = _transactions(rng, 6000)
    df = spark.createDataFrame(scored.replace({np.nan: None}))
    sql = (add_features(df).select("transaction_id", F.expr(tree_to_sql(model, spec)).alias("t"))
           .select("transaction_id", "t.*").toPandas().sort_values("transaction_id").reset_index(drop=True))
    with mlflow.start_run(experiment_id=ensure_experiment("/tests/fraud-pyfunc")):  # artifacts in the temp home
        info = serving.log_model(as_tree(model), spec, scored.head(5), tree_to_sql(model, spec))
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    served = loaded.predict(scored[spec.input_columns])
    spark_features = add_features(df).toPandas().sort_values("transaction_id").reset_index(drop=True)
    x_spark = spec.to_matrix(spark_features)
    for out in (sql, served):
        assert np.array_equal(out["probability"].to_numpy(), model.predict_proba(x_spark)[:, 1])
        assert np.array_equal(out["prediction"].to_numpy(), model.predict(x_spark))
        assert np.array_equal(out["rule_id"].to_numpy(), model.apply(x_spark))
    assert list(loaded.metadata.get_input_schema().input_names()) == spec.input_columns
