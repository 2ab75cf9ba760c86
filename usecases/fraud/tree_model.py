"""The registered ``fraud_tree`` model, logged as MLflow "models from code": this file IS the model.

Why: a cloudpickled model needs the code that defined it (this repository's wheel, which is on no package index)
wherever it is loaded. Logged from code, loading needs only the model's own requirements (mlflow, numpy, pandas,
all on PyPI): a Model Serving endpoint, another workspace or a batch job with another environment can load it.
So this file imports nothing from ``usecases`` or ``shared``, and the tree travels as plain data, not a pickle:

- artifact ``tree``: JSON of the fitted scikit-learn tree's arrays (``children_left``, ``children_right``,
  ``feature``, ``threshold``, ``missing_go_to_left``, ``value``, ``n_node_samples``, ``classes``);
- artifact ``feature_spec``: JSON ``{"numeric": [...], "categorical": "type", "categories": [...]}``.

Prediction repeats scikit-learn's arithmetic exactly (features cast to float32, ``x <= threshold`` in float64, NaN
sent the learned ``missing_go_to_left`` way, leaf value / row sum as the probability), so its output equals
``predict_proba``, ``predict`` and ``apply`` and the compiled Spark SQL bit for bit. The job imports the feature
functions below for training too, so the training matrix and the served matrix come from the same code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import mlflow
import numpy as np
import pandas as pd

TREE_ARTIFACT, SPEC_ARTIFACT = "tree", "feature_spec"
TREE_LEAF = -1
BALANCE_COLUMNS = ("old_balance_orig", "new_balance_orig", "old_balance_dest", "new_balance_dest")
# Features computed from raw transaction columns (the same arithmetic as the Spark features task).
DERIVED_FEATURES: dict[str, tuple[str, ...]] = {
    "orig_diff": ("old_balance_orig", "new_balance_orig"),
    "dest_diff": ("old_balance_dest", "new_balance_dest"),
    "hour_of_day": ("step",),
}
OUTPUT_COLUMNS = ("probability", "prediction", "rule_id")


def raw_columns(spec: Mapping[str, Any]) -> list[str]:
    """The input columns a feature spec reads: derived features' sources, other numeric features, the category."""
    out: list[str] = []
    for name in spec["numeric"]:
        for column in DERIVED_FEATURES.get(name, (name,)):
            if column not in out:
                out.append(column)
    if spec["categorical"] not in out:
        out.append(spec["categorical"])
    return out


def add_features(pdf: pd.DataFrame) -> pd.DataFrame:
    """Add orig_diff, dest_diff (new - old balance) and hour_of_day (step mod 24) as float64; NaN = missing.

    The pandas twin of the Spark features task's ``add_features``: the same IEEE double arithmetic, so a value
    computed here equals the one Spark computed for training and for the compiled SQL.
    """
    out = pdf.copy()
    for name in ("amount", *BALANCE_COLUMNS):
        if name in out.columns:
            out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
    if {"old_balance_orig", "new_balance_orig"} <= set(out.columns):
        out["orig_diff"] = out["new_balance_orig"] - out["old_balance_orig"]
    if {"old_balance_dest", "new_balance_dest"} <= set(out.columns):
        out["dest_diff"] = out["new_balance_dest"] - out["old_balance_dest"]
    if "step" in out.columns:
        out["hour_of_day"] = (pd.to_numeric(out["step"], errors="coerce") % 24).astype("float64")
    return out


def feature_matrix(pdf: pd.DataFrame, numeric: Sequence[str], categorical: str,
                   categories: Sequence[str]) -> np.ndarray:
    """The float64 matrix the tree sees: numeric columns as they are (NaN = missing), then one column per known
    category (1.0 / 0.0; a category never seen in training is 0 everywhere; a missing category is NaN everywhere,
    so the tree's learned missing-value direction applies)."""
    columns = [pd.to_numeric(pdf[c], errors="coerce").to_numpy(dtype="float64") for c in numeric]
    cat = pdf[categorical].astype("object")
    missing = cat.isna().to_numpy()
    for value in categories:
        column = (cat == value).to_numpy(dtype="float64")
        column[missing] = np.nan
        columns.append(column)
    return np.column_stack(columns) if columns else np.empty((len(pdf), 0))


class TreeArrays:
    """A fitted binary-split classification tree as plain arrays, evaluated with numpy like scikit-learn does."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)
        self.children_left = np.asarray(data["children_left"], dtype=np.int64)
        self.children_right = np.asarray(data["children_right"], dtype=np.int64)
        self.feature = np.asarray(data["feature"], dtype=np.int64)
        self.threshold = np.asarray(data["threshold"], dtype=np.float64)
        self.missing_go_to_left = np.asarray(data["missing_go_to_left"], dtype=bool)
        self.value = np.asarray(data["value"], dtype=np.float64)
        self.n_node_samples = np.asarray(data["n_node_samples"], dtype=np.int64)
        self.classes = np.asarray(data["classes"])
        self.n_features = int(data["n_features"])
        sizes = {len(a) for a in (self.children_left, self.children_right, self.feature, self.threshold,
                                  self.missing_go_to_left, self.value, self.n_node_samples)}
        if len(sizes) != 1:
            raise ValueError(f"tree arrays have different lengths: {sorted(sizes)}")

    def apply(self, x: np.ndarray) -> np.ndarray:
        """The leaf id of every row (scikit-learn's ``apply``): float32 features, ``x <= threshold`` in float64."""
        x32 = np.asarray(x, dtype=np.float32)
        if x32.ndim != 2 or x32.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got shape {x32.shape}")
        node = np.zeros(len(x32), dtype=np.int64)
        rows = np.arange(len(x32))
        active = self.children_left[node] != TREE_LEAF
        while active.any():
            r, n = rows[active], node[active]
            values = x32[r, self.feature[n]].astype(np.float64)
            left = np.where(np.isnan(values), self.missing_go_to_left[n], values <= self.threshold[n])
            node[r] = np.where(left, self.children_left[n], self.children_right[n])
            active = self.children_left[node] != TREE_LEAF
        return node

    def leaf_proba(self) -> np.ndarray:
        """Per node, the class probabilities exactly as ``DecisionTreeClassifier.predict_proba`` computes them."""
        normalizer = self.value.sum(axis=1, keepdims=True)
        normalizer[normalizer == 0.0] = 1.0
        return self.value / normalizer

    def predict(self, x: np.ndarray) -> pd.DataFrame:
        """probability (of class 1), prediction (the most probable class) and rule_id (the leaf) per row."""
        leaves = self.apply(x)
        proba = self.leaf_proba()[leaves]
        classes = [int(c) for c in self.classes]
        positive = proba[:, classes.index(1)] if 1 in classes else np.zeros(len(leaves))
        return pd.DataFrame({
            "probability": positive.astype(np.float64),
            "prediction": self.classes[np.argmax(proba, axis=1)].astype(np.int64),
            "rule_id": leaves.astype(np.int64),
        })


def predict_raw(tree: TreeArrays, spec: Mapping[str, Any], raw: pd.DataFrame) -> pd.DataFrame:
    """Score raw transaction columns: features, matrix, tree (columns OUTPUT_COLUMNS, one row per input row)."""
    missing = [c for c in raw_columns(spec) if c not in raw.columns]
    if missing:
        raise ValueError(f"input lacks column(s) {', '.join(missing)} that this model's features need")
    x = feature_matrix(add_features(raw), spec["numeric"], spec["categorical"], spec["categories"])
    return tree.predict(x).set_index(raw.index)


class FraudTree(mlflow.pyfunc.PythonModel):
    """Raw transactions in; probability (P(fraud)), prediction (0/1) and rule_id (leaf, as in fraud_rules) out."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts[TREE_ARTIFACT], encoding="utf-8") as fh:
            self.tree = TreeArrays(json.load(fh))
        with open(context.artifacts[SPEC_ARTIFACT], encoding="utf-8") as fh:
            self.spec = json.load(fh)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return predict_raw(self.tree, self.spec, frame).reset_index(drop=True)


mlflow.models.set_model(FraudTree())
