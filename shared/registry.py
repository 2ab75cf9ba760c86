"""Model registration under ``catalog.schema.model`` with a fair champion/challenger gate.

The ``champion`` alias moves to a new version only when it beats the current champion *on the same data*: the
challenger's held-out test split. The use case passes a function that scores any registered model on that data;
the gate calls it for the current champion, logs both figures and compares them. A champion that cannot score the
data at all (other classes, another feature spec, another input schema) raises ``IncompatibleModelError``: the
challenger is promoted, the reason logged, and the old version tagged with why it was superseded.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from shared.identifiers import validate_name

log = logging.getLogger(__name__)
CHAMPION = "champion"
SUPERSEDED_TAG = "superseded_reason"
MAX_TAG_CHARS = 5000  # MLflow's limit on a tag value


class IncompatibleModelError(ValueError):
    """A model that cannot score some data: other classes, another feature spec, another input schema."""


@dataclass(frozen=True)
class Registration:
    """Outcome of registering one model version."""

    name: str
    version: str
    metric: str
    value: float
    previous_champion_value: float | None
    promoted: bool
    reason: str = ""
    previous_champion_version: str | None = None


def model_name(catalog: str, schema: str, model: str) -> str:
    """The three-part Unity Catalog model name, each part validated."""
    return ".".join(validate_name(p, "model name part") for p in (catalog, schema, model))


def beats(candidate: float, incumbent: float | None, higher_is_better: bool) -> bool:
    """Whether a candidate metric beats the incumbent's (any finite value beats no incumbent)."""
    if candidate is None or math.isnan(candidate) or math.isinf(candidate):
        return False
    if incumbent is None or math.isnan(incumbent):
        return True
    return candidate > incumbent if higher_is_better else candidate < incumbent


def champion_version(client: MlflowClient, name: str) -> str | None:
    """The version the ``champion`` alias points at, or None."""
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


@contextlib.contextmanager
def _quiet_mlflow_prints() -> Iterator[None]:
    """MLflow prints 'Successfully registered model' / 'Created version' lines itself; the gate logs its own
    decision instead, so those prints are kept out of the run's output (warnings still go through logging)."""
    from mlflow.utils import logging_utils

    stream = logging_utils.MLFLOW_LOGGING_STREAM
    enabled = stream.enabled
    stream.enabled = False
    try:
        yield
    finally:
        stream.enabled = enabled


def _tag(value: object) -> str:
    return str(value)[:MAX_TAG_CHARS]


def register_model(
    model_uri: str,
    name: str,
    metric: str,
    value: float,
    higher_is_better: bool = True,
    score_model: Callable[[str], float] | None = None,
    tags: Mapping[str, object] | None = None,
) -> Registration:
    """Register ``model_uri`` as a new version of ``name``; alias it ``champion`` when it beats the current one.

    ``value`` is the challenger's ``metric`` on its own held-out test split; ``score_model(uri)`` must compute the
    same metric for any model URI on that same split, and is called for the current champion. Without a
    ``score_model`` there is no fair comparison, so the first model becomes champion and later ones only when
    there is none. ``tags`` (lineage: input tables and versions, config, commit, training run) go on the version.
    Both figures are logged to the active run as ``challenger_<metric>`` and ``champion_<metric>_same_data``.
    """
    client = MlflowClient()
    incumbent = champion_version(client, name)
    incumbent_value: float | None = None
    incompatible = ""
    if incumbent is not None and score_model is not None:
        try:
            incumbent_value = float(score_model(f"models:/{name}/{incumbent}"))
        except IncompatibleModelError as exc:
            incompatible = str(exc)
    with _quiet_mlflow_prints():
        registered = mlflow.register_model(model_uri, name)
    version = str(registered.version)
    if incumbent is None:
        promoted, reason = beats(value, None, higher_is_better), "no champion yet"
    elif incompatible:
        promoted = not math.isnan(value)
        reason = f"champion v{incumbent} cannot score this model's test data: {incompatible}"
        client.set_model_version_tag(name, incumbent, SUPERSEDED_TAG, _tag(f"by v{version}: {incompatible}"))
    elif score_model is None:
        promoted, reason = False, f"champion v{incumbent} kept: no scorer to compare both on the same data"
    else:
        promoted = beats(value, incumbent_value, higher_is_better)
        verdict = "beats" if promoted else "does not beat"
        reason = (f"{metric} {value:.6g} {verdict} champion v{incumbent}'s {incumbent_value:.6g} on the same "
                  "held-out data")
    version_tags = {f"metric.{metric}": repr(float(value)), "promotion_reason": reason,
                    **({f"champion_{metric}_same_data": repr(incumbent_value)} if incumbent_value is not None else {}),
                    **(tags or {})}
    for key, tag_value in version_tags.items():
        client.set_model_version_tag(name, version, key, _tag(tag_value))
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
    log.info("%s v%s: %s", name, version, reason)
    if mlflow.active_run() is not None:
        figures = {f"challenger_{metric}": float(value), "promoted": float(promoted)}
        if incumbent_value is not None and not math.isnan(incumbent_value):
            figures[f"champion_{metric}_same_data"] = incumbent_value
        mlflow.log_metrics(figures)
        mlflow.set_tag("promotion_reason", _tag(reason))
    return Registration(name, version, metric, float(value), incumbent_value, promoted, reason, incumbent)
