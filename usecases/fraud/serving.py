"""The registered fraud model: logged from code, checked against inputs, scored fairly.

``tree_model.py`` is the model (models from code); this module is the job's side of it: log the exported tree
with a serving-ready signature, an input example and PyPI-only requirements, tell whether a model version
accepts some input, and score any registered version on one held-out frame for the champion gate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types import ColSpec, Schema
from sklearn.metrics import average_precision_score

from shared.registry import IncompatibleModelError
from shared.tracking import scratch_dir
from usecases.fraud import tree_model
from usecases.fraud.features import FeatureSpec
from usecases.fraud.tree_model import TreeArrays

INTEGER_INPUTS = ("step",)
# Spark types a raw input column may have for each signature type: the contract casts strings (CSV input).
_INTEGRAL = {"tinyint", "smallint", "int", "bigint"}
_NUMERIC = _INTEGRAL | {"float", "double", "decimal"}
ACCEPTED_SPARK_TYPES = {"long": _INTEGRAL | {"decimal", "string"}, "double": _NUMERIC | {"string"},
                        "string": {"string"}}


def input_type(column: str, spec: FeatureSpec) -> str:
    """The MLflow type of one raw input column: string for the category, long for step, else double."""
    if column == spec.categorical:
        return "string"
    return "long" if column in INTEGER_INPUTS else "double"


def signature(spec: FeatureSpec) -> ModelSignature:
    """Named, typed columns in (what a serving request sends); probability, prediction and rule_id out."""
    inputs = Schema([ColSpec(input_type(c, spec), c) for c in spec.input_columns])
    outputs = Schema([ColSpec("double", "probability"), ColSpec("long", "prediction"), ColSpec("long", "rule_id")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def requirements() -> list[str]:
    """What loading the model needs, pinned to this environment's versions: all on PyPI, never this project."""
    return [f"mlflow=={mlflow.__version__}", f"numpy=={np.__version__}", f"pandas=={pd.__version__}"]


def log_model(tree: TreeArrays, spec: FeatureSpec, example: pd.DataFrame, scoring_sql: str) -> ModelInfo:
    """Log the tree as the ``tree_model.py`` pyfunc (models from code) with its JSON artifacts and compiled SQL."""
    with scratch_dir("fraud-model-") as tmp:
        paths = {tree_model.TREE_ARTIFACT: Path(tmp) / "tree.json", tree_model.SPEC_ARTIFACT: Path(tmp) / "spec.json",
                 "scoring_sql": Path(tmp) / "scoring.sql"}
        paths[tree_model.TREE_ARTIFACT].write_text(json.dumps(tree.data))
        paths[tree_model.SPEC_ARTIFACT].write_text(spec.to_json())
        paths["scoring_sql"].write_text(scoring_sql)
        return mlflow.pyfunc.log_model(
            name="model", python_model=tree_model.__file__, artifacts={k: str(p) for k, p in paths.items()},
            signature=signature(spec), input_example=example[spec.input_columns], pip_requirements=requirements(),
            metadata={"feature_spec": json.loads(spec.to_json())},
        )


def spark_input_problems(spec: FeatureSpec, model_signature: ModelSignature | None,
                         columns: Mapping[str, str]) -> list[str]:
    """Why a model cannot score a frame with ``columns`` (name -> Spark type); empty when it can.

    Both descriptions of the model must accept the input: the feature spec its compiled SQL evaluates, and the
    registered version's input signature; and they must describe the same columns.
    """
    problems = []
    needed = spec.input_columns
    if model_signature is None:
        problems.append("the registered version has no input signature")
    else:
        signed = model_signature.inputs.input_names()
        if set(signed) != set(needed):
            problems.append(f"its signature ({', '.join(signed)}) and compiled feature spec ({', '.join(needed)}) "
                            "name different columns")
    missing = [c for c in needed if c not in columns]
    if missing:
        problems.append(f"input lacks column(s) {', '.join(missing)}")
    for column in needed:
        if column not in columns:
            continue
        wanted = input_type(column, spec)
        if columns[column].split("(")[0] not in ACCEPTED_SPARK_TYPES[wanted]:  # decimal(10,2) -> decimal
            problems.append(f"column {column} is {columns[column]}, not usable as {wanted}")
    return problems


def predict_registered(uri: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Load a registered model with ``mlflow.pyfunc`` and score ``frame``; IncompatibleModelError when it cannot."""
    info = mlflow.models.get_model_info(uri)
    if info.signature is None:
        raise IncompatibleModelError(f"{uri} has no input signature, so nothing says what it accepts")
    names = info.signature.inputs.input_names()
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise IncompatibleModelError(f"{uri} needs input column(s) {', '.join(missing)} that the data lacks")
    try:
        model = mlflow.pyfunc.load_model(uri)
    except (ImportError, AttributeError) as exc:  # e.g. a pickled model whose defining code is gone
        raise IncompatibleModelError(f"{uri} cannot be loaded here: {exc}") from exc
    try:
        out = model.predict(frame[names])
    except MlflowException as exc:  # the signature's types refuse this data
        raise IncompatibleModelError(f"{uri} refuses the data: {str(exc).splitlines()[0]}") from exc
    if not isinstance(out, pd.DataFrame) or "probability" not in out.columns or len(out) != len(frame):
        raise IncompatibleModelError(f"{uri} does not return one probability per row")
    return out


def pr_auc_scorer(frame: pd.DataFrame, labels: np.ndarray) -> Callable[[str], float]:
    """``score_model`` for the champion gate: PR-AUC of any registered fraud model on this held-out frame."""
    if len(np.unique(labels)) < 2:
        raise ValueError("the held-out frame needs both classes for a PR-AUC")

    def score(uri: str) -> float:
        probability = predict_registered(uri, frame)["probability"].to_numpy(dtype="float64")
        return float(average_precision_score(labels, probability))

    return score
