"""Model features: balance deltas in Spark, the same in pandas, and the feature matrix the tree sees."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from usecases.fraud.generate import TRANSACTION_TYPES

BALANCE_COLUMNS = ("old_balance_orig", "new_balance_orig", "old_balance_dest", "new_balance_dest")
NUMERIC_FEATURES = ("amount", *BALANCE_COLUMNS, "orig_diff", "dest_diff", "hour_of_day")
CATEGORICAL_FEATURE = "type"


def _no_nan(column: Column) -> Column:
    """NaN becomes NULL: sklearn treats NaN as missing, Spark orders NaN above every number."""
    return F.nanvl(column.cast("double"), F.lit(None).cast("double"))


def add_features(df: DataFrame) -> DataFrame:
    """Add the numeric feature columns (double, NULL = missing): orig_diff, dest_diff, hour_of_day.

    ``orig_diff`` = new_balance_orig - old_balance_orig and ``dest_diff`` = new_balance_dest - old_balance_dest
    (the original accelerator's orgDiff/destDiff); ``hour_of_day`` = step mod 24. Other columns are kept.
    """
    out = df
    for name in ("amount", *BALANCE_COLUMNS):
        out = out.withColumn(name, _no_nan(F.col(name)))
    return (
        out.withColumn("orig_diff", F.col("new_balance_orig") - F.col("old_balance_orig"))
        .withColumn("dest_diff", F.col("new_balance_dest") - F.col("old_balance_dest"))
        .withColumn("hour_of_day", (F.col("step") % 24).cast("double"))
    )


def add_features_pandas(pdf: pd.DataFrame) -> pd.DataFrame:
    """The pandas twin of ``add_features`` (used by the registered pyfunc model); same IEEE arithmetic."""
    out = pdf.copy()
    for name in ("amount", *BALANCE_COLUMNS):
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
    out["orig_diff"] = out["new_balance_orig"] - out["old_balance_orig"]
    out["dest_diff"] = out["new_balance_dest"] - out["old_balance_dest"]
    out["hour_of_day"] = (pd.to_numeric(out["step"], errors="coerce") % 24).astype("float64")
    return out


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

    def to_matrix(self, pdf: pd.DataFrame) -> np.ndarray:
        """The float64 matrix (rows x feature_names) for sklearn, from a frame holding the feature columns."""
        numeric = [pd.to_numeric(pdf[c], errors="coerce").to_numpy(dtype="float64") for c in self.numeric]
        cat = pdf[self.categorical].astype("object")
        missing = cat.isna().to_numpy()
        onehot = []
        for value in self.categories:
            column = (cat == value).to_numpy(dtype="float64")
            column[missing] = np.nan
            onehot.append(column)
        return np.column_stack([*numeric, *onehot]) if numeric or onehot else np.empty((len(pdf), 0))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> FeatureSpec:
        data = json.loads(text)
        return FeatureSpec(tuple(data["numeric"]), data["categorical"], tuple(data["categories"]))


def default_spec(observed_categories: list[str] | None = None) -> FeatureSpec:
    """The fraud model's features; categories are those seen in training (sorted), else the PaySim five."""
    categories = tuple(sorted(observed_categories)) if observed_categories else TRANSACTION_TYPES
    return FeatureSpec(NUMERIC_FEATURES, CATEGORICAL_FEATURE, categories)
