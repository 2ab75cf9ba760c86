"""Model registration under ``catalog.schema.model`` with a ``champion`` alias that only moves forward."""

from __future__ import annotations

import math
from dataclasses import dataclass

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from shared.identifiers import validate_name

CHAMPION = "champion"


@dataclass(frozen=True)
class Registration:
    """Outcome of registering one model version."""

    name: str
    version: str
    metric: str
    value: float
    previous_champion_value: float | None
    promoted: bool


def model_name(catalog: str, schema: str, model: str) -> str:
    """The three-part Unity Catalog model name, each part validated."""
    return ".".join(validate_name(p, "model name part") for p in (catalog, schema, model))


def beats(candidate: float, incumbent: float | None, higher_is_better: bool) -> bool:
    """Whether a candidate metric beats the incumbent's (any finite value beats no incumbent)."""
    if candidate is None or math.isnan(candidate):
        return False
    if incumbent is None or math.isnan(incumbent):
        return True
    return candidate > incumbent if higher_is_better else candidate < incumbent


def champion_metric(client: MlflowClient, name: str, metric: str) -> float | None:
    """The key metric recorded on the current champion version, or None when there is no champion."""
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    value = version.tags.get(f"metric.{metric}")
    return float(value) if value is not None else None


def register_model(
    model_uri: str, name: str, metric: str, value: float, higher_is_better: bool = True
) -> Registration:
    """Register ``model_uri`` as a new version of ``name``; alias it ``champion`` only if it beats the current one.

    The key metric is stored as a version tag so the next candidate compares against exactly what was
    promoted, even if the champion's run is deleted.
    """
    client = MlflowClient()
    incumbent = champion_metric(client, name, metric)
    version = mlflow.register_model(model_uri, name)
    client.set_model_version_tag(name, version.version, f"metric.{metric}", repr(float(value)))
    promoted = beats(value, incumbent, higher_is_better)
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    return Registration(name, version.version, metric, float(value), incumbent, promoted)
