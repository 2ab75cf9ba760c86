"""Compile a fitted decision tree into one Spark SQL expression and a readable fraud rule set.

The tree is the plain-array export (``export_tree``) that the registered pyfunc also evaluates, so the SQL, the
served model and scikit-learn are three readings of the same numbers; a fitted scikit-learn tree is accepted too.

Exactness: sklearn casts inputs to float32 and compares ``x <= threshold`` (threshold float64), sending NaN
the way ``missing_go_to_left`` says. The SQL does the same: each feature is cast to FLOAT, compared with the
threshold as an exact DOUBLE literal, and a NULL comparison (missing value) is resolved by ``coalesce`` to the
learned side. Every identifier is quoted and every category value escaped, so names cannot inject SQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.tree import DecisionTreeClassifier

from shared.identifiers import quote_identifier, sql_literal, sql_string_literal
from usecases.fraud.features import FeatureSpec
from usecases.fraud.tree_model import TREE_LEAF, TreeArrays

RESULT_FIELDS = ("rule_id", "probability", "prediction", "support")


def feature_sql(spec: FeatureSpec) -> list[str]:
    """One FLOAT SQL expression per tree feature (NULL = missing), in ``spec.feature_names`` order."""
    exprs = [f"CAST(nanvl(CAST({quote_identifier(c)} AS DOUBLE), CAST(NULL AS DOUBLE)) AS FLOAT)" for c in spec.numeric]
    column = quote_identifier(spec.categorical)
    for value in spec.categories:
        exprs.append(
            f"CAST(CASE WHEN {column} IS NULL THEN NULL WHEN {column} = {sql_string_literal(value)} "
            "THEN 1.0 ELSE 0.0 END AS FLOAT)"
        )
    return exprs


@dataclass(frozen=True)
class LeafOutcome:
    """What a leaf predicts: P(fraud) exactly as ``predict_proba`` computes it, the class, training support."""

    node: int
    probability: float
    prediction: int
    support: int


def export_tree(model: DecisionTreeClassifier) -> dict[str, object]:
    """A fitted scikit-learn tree as JSON-ready arrays (what ``TreeArrays`` reads); floats survive JSON exactly."""
    tree = model.tree_
    flags = getattr(tree, "missing_go_to_left", None)
    missing_left = np.zeros(tree.node_count, dtype=bool) if flags is None else np.asarray(flags, dtype=bool)
    return {
        "children_left": tree.children_left.tolist(),
        "children_right": tree.children_right.tolist(),
        "feature": tree.feature.tolist(),
        "threshold": [float(t) for t in tree.threshold],
        "missing_go_to_left": [bool(f) for f in missing_left],
        "value": tree.value[:, 0, :].astype("float64").tolist(),
        "n_node_samples": tree.n_node_samples.tolist(),
        "classes": [int(c) for c in model.classes_],
        "n_features": int(tree.n_features),
    }


def as_tree(tree: TreeArrays | DecisionTreeClassifier) -> TreeArrays:
    """The plain-array tree of an export or of a fitted scikit-learn tree."""
    return tree if isinstance(tree, TreeArrays) else TreeArrays(export_tree(tree))


def leaf_outcomes(tree: TreeArrays | DecisionTreeClassifier) -> dict[int, LeafOutcome]:
    """Per leaf node id: probability of the positive class, predicted class, training samples."""
    tree = as_tree(tree)
    proba = tree.leaf_proba()  # the same arithmetic as DecisionTreeClassifier.predict_proba
    classes = [int(c) for c in tree.classes]
    positive = classes.index(1) if 1 in classes else None
    out: dict[int, LeafOutcome] = {}
    for node in np.flatnonzero(tree.children_left == TREE_LEAF):
        p = float(proba[node, positive]) if positive is not None else 0.0
        predicted = classes[int(np.argmax(proba[node]))]
        out[int(node)] = LeafOutcome(int(node), p, int(predicted), int(tree.n_node_samples[node]))
    return out


def threshold_sql(threshold: float) -> str:
    """An exact DOUBLE literal; sklearn uses +inf for a "missing versus everything else" split."""
    if math.isinf(threshold):
        return "CAST('Infinity' AS DOUBLE)" if threshold > 0 else "CAST('-Infinity' AS DOUBLE)"
    return sql_literal(float(threshold))


def split_sql(value: str, threshold: float, missing_left: bool) -> str:
    """A never-NULL "go left" condition: ``value <= threshold``, a missing value going the learned way."""
    return f"coalesce({value} <= {threshold_sql(threshold)}, {'TRUE' if missing_left else 'FALSE'})"


def _leaf_sql(leaf: LeafOutcome) -> str:
    return (
        f"named_struct('rule_id', {leaf.node}, 'probability', {sql_literal(leaf.probability)}, "
        f"'prediction', {leaf.prediction}, 'support', {leaf.support})"
    )


def tree_to_sql(model: TreeArrays | DecisionTreeClassifier, spec: FeatureSpec) -> str:
    """One SQL expression returning ``struct<rule_id, probability, prediction, support>`` for a row.

    A nested CASE, one level per tree level: a row evaluates only the splits on its own path (depth many),
    so cost grows with depth, not with the number of nodes. ``rule_id`` is sklearn's leaf id (``tree.apply``).
    """
    tree, features = as_tree(model), feature_sql(spec)
    if tree.n_features != len(features):
        raise ValueError(f"tree has {tree.n_features} features, spec has {len(features)}")
    leaves, missing_left = leaf_outcomes(tree), tree.missing_go_to_left

    def node_sql(node: int) -> str:
        if tree.children_left[node] == TREE_LEAF:
            return _leaf_sql(leaves[node])
        condition = split_sql(features[tree.feature[node]], tree.threshold[node], bool(missing_left[node]))
        return (
            f"CASE WHEN {condition} THEN {node_sql(int(tree.children_left[node]))} "
            f"ELSE {node_sql(int(tree.children_right[node]))} END"
        )

    return node_sql(0)


@dataclass(frozen=True)
class FraudRule:
    """One fraud leaf as a readable SQL condition (AND of its path's splits) with support and precision."""

    rule_id: int
    condition: str
    support: int
    precision: float


def _readable_split(spec: FeatureSpec, feature: int, threshold: float, left: bool, missing_left: bool) -> str:
    names = spec.feature_names
    if feature >= len(spec.numeric):  # one-hot column: thresholds sit between 0 and 1
        column = quote_identifier(spec.categorical)
        value = sql_string_literal(spec.categories[feature - len(spec.numeric)])
        test = f"{column} <> {value}" if left else f"{column} = {value}"
        missing_here = left == missing_left
        return f"({test} OR {column} IS NULL)" if missing_here else f"({test} AND {column} IS NOT NULL)"
    column = quote_identifier(names[feature])
    limit = threshold_sql(threshold)
    test = f"CAST({column} AS FLOAT) {'<=' if left else '>'} {limit}"
    if left == missing_left:
        return f"({test} OR {column} IS NULL OR isnan({column}))"
    return f"({test} AND NOT isnan({column}))"


def tree_to_rules(model: TreeArrays | DecisionTreeClassifier, spec: FeatureSpec) -> list[FraudRule]:
    """One rule per leaf predicting fraud; OR-ing every condition gives exactly ``prediction = 1``."""
    tree = as_tree(model)
    leaves, missing_left = leaf_outcomes(tree), tree.missing_go_to_left
    rules: list[FraudRule] = []

    def walk(node: int, path: list[str]) -> None:
        if tree.children_left[node] == TREE_LEAF:
            leaf = leaves[node]
            if leaf.prediction == 1:
                rules.append(FraudRule(node, " AND ".join(path) or "TRUE", leaf.support, leaf.probability))
            return
        args = (spec, int(tree.feature[node]), float(tree.threshold[node]))
        walk(int(tree.children_left[node]), [*path, _readable_split(*args, True, bool(missing_left[node]))])
        walk(int(tree.children_right[node]), [*path, _readable_split(*args, False, bool(missing_left[node]))])

    walk(0, [])
    return rules


def rules_to_sql_file(rules: list[FraudRule], header: str) -> str:
    """The rule set as a ``.sql`` artifact: a comment per rule (support, precision) and its condition."""
    lines = [f"-- {line}" for line in header.splitlines()]
    for rule in rules:
        lines += ["", f"-- rule {rule.rule_id}: support {rule.support}, precision {rule.precision:.4f}",
                  f"{rule.condition};"]
    return "\n".join(lines) + "\n"
