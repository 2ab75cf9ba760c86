"""Batch scoring of image files with a registered model, loaded once per Python worker in a pandas UDF."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
from pyspark.sql import Column
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from usecases.vision.images import decode_image

PREDICTION_SCHEMA = StructType([
    StructField("label", StringType(), True),
    StructField("probability", DoubleType(), True),
    StructField("reason", StringType(), True),
])


@functools.lru_cache(maxsize=2)
def load_network(model_uri: str, tracking_uri: str, registry_uri: str):  # noqa: ANN201 - torch.nn.Module
    """The model behind ``model_uri``, loaded once per Python worker process (cached by URI)."""
    import mlflow
    import torch

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(registry_uri)
    torch.set_num_threads(1)  # one Spark task per core already
    return mlflow.pytorch.load_model(model_uri, map_location="cpu").eval()


def predict_contents(contents: pd.Series, net, classes: Sequence[str], size: int, mode: str) -> pd.DataFrame:  # noqa: ANN001
    """Image bytes -> (label, probability, reason): the top class and its softmax probability, or a reason."""
    import torch

    decoded = [decode_image(None if c is None else bytes(c), size, mode) for c in contents]
    channels = 1 if mode == "L" else 3
    ok = [i for i, (pixels, _, _) in enumerate(decoded) if pixels is not None]
    labels: list[str | None] = [None] * len(decoded)
    probabilities: list[float | None] = [None] * len(decoded)
    if ok:
        raw = b"".join(decoded[i][0] for i in ok)
        array = np.frombuffer(raw, dtype=np.uint8).reshape(len(ok), size, size, channels).transpose(0, 3, 1, 2)
        with torch.no_grad():
            probs = torch.softmax(net(torch.from_numpy(array.astype(np.float32) / 255.0)), dim=1).numpy()
        for row, i in enumerate(ok):
            labels[i], probabilities[i] = classes[int(probs[row].argmax())], float(probs[row].max())
    return pd.DataFrame({"label": labels, "probability": probabilities, "reason": [d[2] for d in decoded]})


def prediction_column(content: Column, model_uri: str, tracking_uri: str, registry_uri: str,
                      classes: Sequence[str], size: int, mode: str) -> Column:
    """A struct column (label, probability, reason) for a column of image bytes."""
    classes = tuple(classes)

    @pandas_udf(PREDICTION_SCHEMA)  # type: ignore[call-overload]
    def predict(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        net = load_network(model_uri, tracking_uri, registry_uri)
        for contents in batches:
            yield predict_contents(contents, net, classes, size, mode)

    return predict(content)
