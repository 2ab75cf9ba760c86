"""Per-series Prophet fit and forecast with a seasonal-naive fallback (plain pandas, run by applyInPandas).

Speed settings: MAP fit (no MCMC), L-BFGS without the slow Newton fallback, uncertainty sampling only when
intervals are asked for, future-only prediction (``include_history=False``). cmdstan writes its CSV and
console files into a scratch folder per series, removed after the fit, inside the task's own folder.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from usecases.forecasting.forecaster_model import (
    PROPHET,
    SEASONAL_NAIVE,
    forecast_from_state,
    quiet_stan_logging,
    seasonal_naive_state,
)

RESULT_TAIL = (
    "model string, model_state string, error_type string, error string, n_obs int, fit_seconds double, "
    "predict_seconds double, ds array<date>, yhat array<double>, yhat_lower array<double>, yhat_upper array<double>"
)


class UnmodelableSeries(ValueError):
    """A series Prophet should not be fitted on (constant values): the fallback is used instead."""


@dataclass(frozen=True)
class ProphetSettings:
    """The Prophet and fallback settings a worker needs, picklable and free of Spark objects."""

    horizon: int
    growth: str
    seasonality_mode: str
    interval_width: float
    uncertainty_samples: int
    holidays_country: str
    season_length: int
    seed: int
    scratch_dir: str
    logistic_cap_factor: float = 1.5

    @property
    def intervals(self) -> bool:
        return self.uncertainty_samples > 0

    @classmethod
    def from_config(cls, cfg: Any, scratch_dir: str) -> ProphetSettings:
        return cls(cfg.horizon, cfg.growth, cfg.seasonality_mode, cfg.interval_width, cfg.uncertainty_samples,
                   cfg.holidays_country, cfg.season_length, cfg.seed, scratch_dir, cfg.logistic_cap_factor)


@dataclass(frozen=True)
class SeriesForecast:
    """One series' outcome: the model used, its serialised state, the forecast and any error."""

    model: str
    state: str
    forecast: pd.DataFrame
    fit_seconds: float
    predict_seconds: float
    error_type: str | None = None
    error: str | None = None


def result_schema(keys: Sequence[str]) -> str:
    """Output schema of ``forecast_one_series``: key columns as text, then RESULT_TAIL."""
    return ", ".join(f"`{k}` string" for k in keys) + ", " + RESULT_TAIL


@contextmanager
def cmdstan_scratch(root: str) -> Iterator[str]:
    """A fresh folder under ``root`` for one fit's cmdstan files, deleted afterwards whatever happens."""
    Path(root).mkdir(parents=True, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="fit-", dir=root)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_modelable(history: pd.DataFrame) -> None:
    """Raise UnmodelableSeries when Prophet has nothing to learn (a constant series)."""
    observed = history["y"].dropna()
    if observed.nunique() <= 1:
        value = observed.iloc[0] if len(observed) else float("nan")
        raise UnmodelableSeries(f"constant series (every observed value is {value:g}): nothing for Prophet to fit")


def fit_prophet(history: pd.DataFrame, settings: ProphetSettings, workdir: str) -> Any:
    """A Prophet model fitted by MAP on ``history`` (columns ds, y)."""
    quiet_stan_logging()
    from prophet import Prophet

    model = Prophet(growth=settings.growth, seasonality_mode=settings.seasonality_mode,
                    interval_width=settings.interval_width, uncertainty_samples=settings.uncertainty_samples,
                    mcmc_samples=0)
    model.stan_backend.set_options(newton_fallback=False)
    if settings.holidays_country:
        model.add_country_holidays(country_name=settings.holidays_country)
    model.fit(with_saturation(history, settings), algorithm="LBFGS", output_dir=workdir, show_console=False)
    return model


def with_saturation(history: pd.DataFrame, settings: ProphetSettings) -> pd.DataFrame:
    """For logistic growth, the ``cap`` and ``floor`` columns Prophet requires; other growths pass through.

    Per series, cap = ``logistic_cap_factor`` x the highest observed value and floor = 0 (demand is never
    negative). Prophet keeps both in the fitted model's history, so forecasts, the backtest and the registered
    pyfunc reuse them from the model itself (``prophet_forecast``) without the config.
    """
    if settings.growth != "logistic":
        return history
    peak = float(history["y"].max())
    if not peak > 0:
        raise UnmodelableSeries("logistic growth needs a positive observed value to set the cap")
    return history.assign(cap=settings.logistic_cap_factor * peak, floor=0.0)


def forecast_with_fallback(history: pd.DataFrame, settings: ProphetSettings, horizon: int) -> SeriesForecast:
    """Prophet on ``history`` (ds, y), or seasonal-naive with the error recorded when Prophet cannot be used."""
    started = time.perf_counter()
    try:
        check_modelable(history)
        with cmdstan_scratch(settings.scratch_dir) as workdir:
            model = fit_prophet(history, settings, workdir)
        fitted = time.perf_counter()
        forecast = forecast_from_state(PROPHET, model, horizon, settings.seed, settings.intervals)
        from prophet.serialize import model_to_json

        return SeriesForecast(PROPHET, model_to_json(model), forecast, fitted - started,
                              time.perf_counter() - fitted)
    except Exception as exc:  # noqa: BLE001 - any failure of one series falls back and is reported, never hidden
        fitted = time.perf_counter()
        last_date = pd.Timestamp(history["ds"].max()).date()
        state = seasonal_naive_state(history["y"].to_numpy(), last_date, settings.season_length,
                                     settings.interval_width)
        forecast = forecast_from_state(SEASONAL_NAIVE, state, horizon, settings.seed, settings.intervals)
        return SeriesForecast(SEASONAL_NAIVE, json.dumps(state), forecast, fitted - started,
                              time.perf_counter() - fitted, type(exc).__name__, str(exc)[:2000])


def to_history(pdf: pd.DataFrame) -> pd.DataFrame:
    """Prepared rows (date, units_sold) as Prophet's frame (ds, y), sorted by day."""
    history = pd.DataFrame({"ds": pd.to_datetime(pdf["date"]), "y": pdf["units_sold"].astype(float)})
    return history.sort_values("ds").reset_index(drop=True)


def forecast_one_series(pdf: pd.DataFrame, keys: Sequence[str], settings: ProphetSettings) -> pd.DataFrame:
    """One series' prepared rows (keys, date, units_sold) -> one row of ``result_schema(keys)``."""
    history = to_history(pdf)
    outcome = forecast_with_fallback(history, settings, settings.horizon)
    fc = outcome.forecast
    row: dict[str, Any] = {k: str(pdf[k].iloc[0]) for k in keys}
    row.update(model=outcome.model, model_state=outcome.state, error_type=outcome.error_type, error=outcome.error,
               n_obs=int(history["y"].notna().sum()), fit_seconds=outcome.fit_seconds,
               predict_seconds=outcome.predict_seconds, ds=list(fc["ds"]), yhat=fc["yhat"].tolist(),
               yhat_lower=_nullable(fc["yhat_lower"]), yhat_upper=_nullable(fc["yhat_upper"]))
    return pd.DataFrame([row])


def _nullable(values: pd.Series) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]
