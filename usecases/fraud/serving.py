"""The registered MLflow pyfunc: raw transaction columns in, probability / prediction / rule id out."""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from usecases.fraud.features import FeatureSpec, add_features_pandas

INPUT_COLUMNS = ("transaction_id", "step", "type", "amount", "old_balance_orig", "new_balance_orig",
                 "old_balance_dest", "new_balance_dest")


def predict_frame(model: DecisionTreeClassifier, spec: FeatureSpec, raw: pd.DataFrame) -> pd.DataFrame:
    """Score raw transactions in pandas exactly as the compiled SQL does in Spark.

    Output columns: probability (P(fraud)), prediction (0/1), rule_id (leaf id, as in ``fraud_rules``).
    """
    x = spec.to_matrix(add_features_pandas(raw))
    proba = model.predict_proba(x)
    return pd.DataFrame({
        "probability": proba[:, list(model.classes_).index(1)],
        "prediction": model.classes_[proba.argmax(axis=1)].astype("int64"),
        "rule_id": model.apply(x).astype("int64"),
    })


class FraudTreeModel(mlflow.pyfunc.PythonModel):
    """The tree and its feature spec; the compiled SQL travels beside it as the artifact ``scoring_sql``."""

    def __init__(self, model: DecisionTreeClassifier, spec: FeatureSpec) -> None:
        self.model, self.spec = model, spec

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: ANN001
        return predict_frame(self.model, self.spec, model_input)
