"""Model features: balance deltas in Spark, the same in pandas, and the feature matrix the tree sees."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from usecases.fraud import tree_model
from usecases.fraud.generate import TRANSACTION_TYPES
from usecases.fraud.tree_model import BALANCE_COLUMNS, DERIVED_FEATURES

NUMERIC_FEATURES = ("amount", *BALANCE_COLUMNS, *DERIVED_FEATURES)
CATEGORICAL_FEATURE = "type"


def _no_nan(column: Column) -> Column:
    """NaN becomes NULL: sklearn treats NaN as missing, Spark orders NaN above every number."""
    return F.nanvl(column.cast("double"), F.lit(None).cast("double"))


def add_features(df: DataFrame, extra_features: tuple[str, ...] = ()) -> DataFrame:
    """Add the numeric feature columns (double, NULL = missing): orig_diff, dest_diff, hour_of_day.

    ``orig_diff`` = new_balance_orig - old_balance_orig and ``dest_diff`` = new_balance_dest - old_balance_dest
    (the original accelerator's orgDiff/destDiff); ``hour_of_day`` = step mod 24. ``extra_features`` (the user's
    own numeric columns) become double too. Other columns are kept.
    """
    out = df
    for name in ("amount", *BALANCE_COLUMNS, *extra_features):
        out = out.withColumn(name, _no_nan(F.col(name)))
    return (
        out.withColumn("orig_diff", F.col("new_balance_orig") - F.col("old_balance_orig"))
        .withColumn("dest_diff", F.col("new_balance_dest") - F.col("old_balance_dest"))
        .withColumn("hour_of_day", (F.col("step") % 24).cast("double"))
    )


def add_features_pandas(pdf: pd.DataFrame) -> pd.DataFrame:
    """The pandas twin of ``add_features``: the registered model's own function (same IEEE arithmetic)."""
    return tree_model.add_features(pdf)


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns feed the tree and how: numeric as-is (NaN = missing), one categorical column one-hot.

    A category not seen in training gets all one-hot columns 0 (it is "none of the known categories"); a NULL
    category is missing in every one-hot column, so the tree's learned missing-value direction applies.
    """

    numeric: tuple[str, ...]
    categorical: str
    categories: tuple[str, ...]

    @property
    def feature_names(self) -> list[str]:
        return [*self.numeric, *(f"{self.categorical}={c}" for c in self.categories)]

    @property
    def input_columns(self) -> list[str]:
        """The raw transaction columns these features are computed from (what a scoring input must have)."""
        return tree_model.raw_columns(asdict(self))

    def to_matrix(self, pdf: pd.DataFrame) -> np.ndarray:
        """The float64 matrix (rows x feature_names) for sklearn: the registered model's own function."""
        return tree_model.feature_matrix(pdf, self.numeric, self.categorical, self.categories)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> FeatureSpec:
        data = json.loads(text)
        return FeatureSpec(tuple(data["numeric"]), data["categorical"], tuple(data["categories"]))


def default_spec(observed_categories: list[str] | None = None, extra_features: tuple[str, ...] = ()) -> FeatureSpec:
    """The fraud model's features (the built-in numeric ones, then ``extra_features``); categories are those seen in
    training (sorted), else the PaySim five."""
    categories = tuple(sorted(observed_categories)) if observed_categories else TRANSACTION_TYPES
    return FeatureSpec((*NUMERIC_FEATURES, *extra_features), CATEGORICAL_FEATURE, categories)
