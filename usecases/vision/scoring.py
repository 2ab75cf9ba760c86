"""Batch scoring of image files with a registered model in Spark, and the check of its accuracy on labelled folders.

The pandas UDF loads the model through ``mlflow.pyfunc`` once per Python worker (cached by URI), exactly as a
Model Serving endpoint would load it, and feeds it the files' bytes; each worker reads its own files.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
from pyspark.sql import Column
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from usecases.vision.images import max_file_bytes, read_image_file
from usecases.vision.portable import INPUT_COLUMN

PREDICTION_SCHEMA = StructType([
    StructField("label", StringType(), True),
    StructField("probability", DoubleType(), True),
    StructField("reason", StringType(), True),
])
# Two-sided 95% normal quantile for the Wilson interval of the accuracy on labelled folders.
WILSON_Z = 1.96


@functools.lru_cache(maxsize=2)
def load_pyfunc(model_uri: str, tracking_uri: str, registry_uri: str):  # mlflow.pyfunc.PyFuncModel
    """The model behind ``model_uri``, loaded once per Python worker process (cached by URI)."""
    import mlflow
    import torch

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(registry_uri)
    torch.set_num_threads(1)  # one Spark task per core already
    return mlflow.pyfunc.load_model(model_uri)


def predict_files(paths: pd.Series, model, max_pixels: int) -> pd.DataFrame:  # PyFuncModel
    """Files -> (label, probability, reason) through the model; a file too large or unreadable keeps its reason."""
    read = [read_image_file(p, max_file_bytes(max_pixels)) for p in paths]
    out = model.predict(pd.DataFrame({INPUT_COLUMN: pd.Series([c for c, _ in read], dtype=object)}))
    out = out.reset_index(drop=True)
    read_reasons = pd.Series([r for _, r in read], dtype=object)
    out["reason"] = read_reasons.where(read_reasons.notna(), out["reason"])
    return out[["label", "probability", "reason"]]


def prediction_column(path: Column, model_uri: str, tracking_uri: str, registry_uri: str, max_pixels: int) -> Column:
    """A struct column (label, probability, reason) for a column of image file paths."""

    @pandas_udf(PREDICTION_SCHEMA)  # type: ignore[call-overload]
    def predict(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        model = load_pyfunc(model_uri, tracking_uri, registry_uri)
        for paths in batches:
            yield predict_files(paths, model, max_pixels)

    return predict(path)


@dataclass(frozen=True)
class AccuracyCheck:
    """Accuracy on score images whose folder names their class, against the model's test accuracy.

    ``warn`` is set when even the upper end of the accuracy's 95% Wilson interval lies more than ``max_drop``
    below the test accuracy: the drop is larger than allowed and not explainable by the sample's size. So 7 of 8
    right (0.875) against a test accuracy of 1.0 does not warn; 0 of 1,000 always does.
    """

    labelled: int
    accuracy: float
    upper_bound: float
    expected: float
    max_drop: float

    @property
    def drop(self) -> float:
        return self.expected - self.accuracy

    @property
    def warn(self) -> bool:
        return self.labelled > 0 and not math.isnan(self.expected) and self.upper_bound < self.expected - self.max_drop

    def message(self) -> str:
        return (f"accuracy on {self.labelled:,} images in class-named score folders is {self.accuracy:.3f} "
                f"(95% upper bound {self.upper_bound:.3f}), more than {self.max_drop:g} below the model's test "
                f"accuracy {self.expected:.3f}: the new images differ from the training data, or their folders "
                "are not their classes")


def wilson_upper(correct: int, total: int, z: float = WILSON_Z) -> float:
    """Upper end of the Wilson score interval for a proportion (1.0 for an empty sample)."""
    if total <= 0:
        return 1.0
    p = correct / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return min(1.0, (centre + spread) / (1 + z * z / total))


def accuracy_check(correct: int, total: int, expected: float, max_drop: float) -> AccuracyCheck:
    """Compare ``correct`` of ``total`` labelled score images with the model's test accuracy ``expected``."""
    accuracy = correct / total if total else float("nan")
    return AccuracyCheck(total, accuracy, wilson_upper(correct, total), expected, max_drop)
