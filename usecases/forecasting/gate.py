"""The demand_forecaster's champion/challenger gate: any two versions scored on the same held-out days.

The held-out window is this run's last backtest fold: the last ``backtest_horizon`` days up to the training date,
every series that has that fold. Forecasting models are refitted every run, so what a registered version brings
is its *recipe* per series (the model kind it uses and its fit settings), not parameters fitted on data that
has moved on. Both versions are therefore scored the same way: each series' model kind, fitted with the version's
settings on this run's history before the window, forecasting the window's days (same lead times), scored by
sMAPE (mean over days, then over series). No version is scored on days it was fitted on: a champion trained on a
later date, or on this very training date, has seen the window, so its fitted parameters are never used here.

The challenger's scores need no new fit: the backtest's last fold did exactly this for every candidate of every
series (``forecast_metrics.last_fold_smape``). A champion with the same fit settings reuses those scores for each
series' kind; only a series whose kind the backtest did not try, or a champion with other settings, is refitted.
A champion whose key columns differ, that lacks some of this run's series, that records no fit settings (versions
from before the gate) or that uses a model kind this code does not know raises ``IncompatibleModelError``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from shared.grouped import map_groups_in_partitions
from shared.registry import IncompatibleModelError
from usecases.forecasting.columns import key_columns, key_schema
from usecases.forecasting.forecaster_model import MODEL_KINDS, SEASONAL_NAIVE
from usecases.forecasting.metrics import accuracy
from usecases.forecasting.model import ForecastSettings, fit_settings, point_forecast, to_history
from usecases.forecasting.partitioning import BUCKET, balance_series

log = logging.getLogger(__name__)
GATE_METRIC = "gate_smape"  # registry key metric: mean over series of the last-fold sMAPE (percent, lower is better)
SCORE = "last_fold_smape"
EXAMPLES = 3


def gate_series(results: DataFrame, metrics: DataFrame, keys: Sequence[str]) -> DataFrame:
    """(keys, score): each series' last-fold sMAPE of the model this run registers for it (the chosen model, or
    the fallback that replaced it), for every series that has a last fold and a registered model."""
    used = results.filter(F.col("model_state").isNotNull()).select(*key_columns(keys), "model")
    scored = metrics.select(*key_columns(keys), "model", SCORE)
    return (used.join(scored, on=[*keys, "model"]).filter(F.col(SCORE).isNotNull())
            .select(*key_columns(keys), F.col(SCORE).alias("score")))


def mean_score(frame: DataFrame) -> tuple[float, int]:
    """Mean of ``score`` and how many series it covers (NaN over none).

    Summed as decimals, so the figure does not depend on row order: the champion's scores arrive in another
    order than the challenger's, and a double sum would make equal models differ in the last bit (and the
    rerun of the same models win the gate)."""
    exact = F.col("score").cast("decimal(38,18)")  # scores are percents <= 200: 18 decimals exact to 1e-18
    row = frame.agg(F.avg(exact).alias("mean"), F.count("score").alias("n")).first()
    return (float(row["mean"]) if row["mean"] is not None else float("nan")), int(row["n"])


def refit_last_fold(pdf: pd.DataFrame, keys: Sequence[str], settings: ForecastSettings, horizon: int) -> pd.DataFrame:
    """One series' rows (keys, date, units_sold, model): its model fitted on all but the last ``horizon`` days,
    scored on them; a model that cannot forecast the fold is scored as its seasonal-naive fallback, as serving
    would have used it."""
    history = to_history(pdf)
    kind = str(pdf["model"].iloc[0])
    train, actual = history.iloc[:-horizon], history["y"].to_numpy(dtype=float)[-horizon:]
    try:
        predicted = point_forecast(kind, train, settings, horizon)
    except Exception:  # the same fallback the job and the pyfunc use
        predicted = point_forecast(SEASONAL_NAIVE, train, settings, horizon)
    score = accuracy(actual, predicted, float("nan"))["smape"]
    return pd.DataFrame([{**{k: str(pdf[k].iloc[0]) for k in keys}, "score": score if np.isfinite(score) else None}])


@dataclasses.dataclass(frozen=True)
class GateData:
    """This run's side of the gate: its series and scores, history, settings and window."""

    spark: SparkSession
    keys: list[str]
    challenger: DataFrame  # (keys, score), staged: read several times
    metrics: DataFrame  # forecast_metrics of this training date
    prepared: DataFrame  # (keys, date, units_sold) up to the training date
    settings: ForecastSettings
    horizon: int  # the window: the last ``horizon`` days (this run's backtest_horizon)
    partitions: int = 0

    def scorer(self) -> Callable[[str], float]:
        """``score_model(uri)`` for ``shared.registry.register_model``."""
        return lambda uri: self.score_version(*load_recipe(uri), uri=uri)

    def score_version(self, key_names: Sequence[str], models: Mapping[tuple[str, ...], str],
                      recorded: Mapping[str, Any], uri: str = "the champion") -> float:
        """Mean last-fold sMAPE of a version with per-series ``models`` and fit settings ``recorded``, over the
        challenger's series."""
        if list(key_names) != self.keys:
            raise IncompatibleModelError(f"{uri} is keyed by {list(key_names)}, this run by {self.keys}")
        unknown = sorted({m for m in models.values() if m not in MODEL_KINDS})
        if unknown:
            raise IncompatibleModelError(f"{uri} uses model kinds this code does not know: {unknown}")
        settings = dataclasses.replace(self.settings, **{k: v for k, v in recorded.items()
                                                         if k in fit_settings(self.settings)})
        champion = self.spark.createDataFrame(
            [(*key, kind) for key, kind in models.items()], f"{key_schema(self.keys)}, model string")
        missing = self.challenger.join(champion, on=self.keys, how="left_anti")
        absent = missing.limit(EXAMPLES).collect()
        if absent:
            examples = "; ".join(", ".join(f"{k}={row[k]}" for k in self.keys) for row in absent)
            raise IncompatibleModelError(f"{uri} has no model for {missing.count()} of this run's series "
                                         f"(e.g. {examples})")
        wanted = self.challenger.select(*key_columns(self.keys)).join(champion, on=self.keys)
        if fit_settings(settings) == fit_settings(self.settings):  # this run's backtest already scored the kind
            reused = wanted.join(self.metrics.select(*key_columns(self.keys), "model", SCORE),
                                 on=[*self.keys, "model"], how="left")
            known = reused.filter(F.col(SCORE).isNotNull()).select(*key_columns(self.keys),
                                                                    F.col(SCORE).alias("score"))
            todo = reused.filter(F.col(SCORE).isNull()).select(*key_columns(self.keys), "model")
        else:
            known, todo = None, wanted
        refitted = self._refit(todo, settings)
        scores = refitted if known is None else known.unionByName(refitted)
        value, n = mean_score(scores)
        log.info("gate: %s scored on %d series (%s)", uri, n,
                 "its fit settings = this run's" if known is not None else "refitted with its own fit settings")
        return value

    def _refit(self, todo: DataFrame, settings: ForecastSettings) -> DataFrame:
        keys, horizon = self.keys, self.horizon
        point = dataclasses.replace(settings, uncertainty_samples=0)

        def score(pdf: pd.DataFrame) -> pd.DataFrame:
            return refit_last_fold(pdf, keys, point, horizon)

        balanced = balance_series(self.prepared.join(F.broadcast(todo), on=keys), keys, self.partitions)
        if balanced.n_series == 0:
            return self.spark.createDataFrame([], f"{key_schema(keys)}, score double")
        log.info("gate: refitting %d series' models on the window's history", balanced.n_series)
        return map_groups_in_partitions(balanced.rows, [BUCKET, *keys], ["date"], score,
                                        f"{key_schema(keys)}, score double")


def load_recipe(uri: str) -> tuple[list[str], dict[tuple[str, ...], str], dict[str, Any]]:
    """A registered demand_forecaster's key columns, per-series model kinds and recorded fit settings.

    Loads the pyfunc the way serving does (its own code, from the registry); Prophet states stay unparsed.
    """
    import mlflow

    try:
        python_model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    except Exception as exc:  # any model that does not load as a pyfunc cannot be compared
        raise IncompatibleModelError(f"{uri} does not load as a demand_forecaster pyfunc: {exc}") from exc
    states = getattr(python_model, "states", None)
    meta = getattr(python_model, "meta", None)
    if states is None or not hasattr(python_model, "key_columns"):
        raise IncompatibleModelError(f"{uri} is not a demand_forecaster (no per-series models)")
    if not meta or "fit_settings" not in meta:
        raise IncompatibleModelError(f"{uri} records no fit settings (registered before the gate scored versions "
                                     "on the same data), so it cannot be refitted on this run's window")
    recorded = meta["fit_settings"]
    if isinstance(recorded, str):
        recorded = json.loads(recorded)
    return list(python_model.key_columns), {key: kind for key, (kind, _) in states.items()}, dict(recorded)
