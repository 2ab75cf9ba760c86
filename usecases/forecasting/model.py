"""Per-series fit and forecast of any candidate model, with a seasonal-naive fallback (plain pandas, applyInPandas).

Candidates (``forecaster_model.MODEL_KINDS``): Prophet, seasonal-naive, window models (``windows.py``: the value
best for the selection metric over a recent window), and from statsforecast AutoETS and the intermittent-demand
methods CrostonOptimized, ADIDA, IMAPA and TSB. ``fit_model`` returns what
``forecast_from_state`` forecasts from (a Prophet object or a state dict), so the backtest, the train task and
the registered pyfunc all forecast through the same function.

Prophet speed settings: MAP fit (no MCMC), L-BFGS without the slow Newton fallback, uncertainty sampling only
when intervals are asked for, future-only prediction (``include_history=False``). cmdstan writes its CSV and
console files into a scratch folder per series, removed after the fit, inside the task's own folder.
statsforecast models need a gap-free series: with ``fill_policy=missing`` their input has each missing day
filled from the same day one season earlier (the series mean where there is none).
"""

from __future__ import annotations

import dataclasses
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

from usecases.forecasting.columns import key_schema
from usecases.forecasting.config import CANDIDATE_MODELS
from usecases.forecasting.forecaster_model import (
    ADIDA,
    AUTO_ETS,
    CROSTON,
    IMAPA,
    INTERMITTENT,
    PROPHET,
    SEASONAL_NAIVE,
    TSB,
    WINDOWS,
    forecast_from_state,
    quiet_stan_logging,
    seasonal_naive_state,
)
from usecases.forecasting.windows import window_state

CHOSEN = "chosen_model"
RESULT_TAIL = (
    "model string, chosen_model string, model_state string, error_type string, error string, n_obs int, "
    "fit_seconds double, predict_seconds double, ds array<date>, yhat array<double>, yhat_lower array<double>, "
    "yhat_upper array<double>"
)
DEMAND_WINDOW_DAYS = 365  # intermittent methods' intervals: quantiles of the last year's daily demand
NO_CHOICE_ERROR = ("MissingModelChoice", "no backtest choice for this series and training date: run the backtest "
                                         "task before train_forecast")


class UnmodelableSeries(ValueError):
    """A series a model should not be fitted on (constant values, no demand): the fallback is used instead."""


class NoUsableForecast(ValueError):
    """Neither the series' model nor the seasonal-naive fallback gave a finite forecast."""


class NonFiniteForecast(ValueError):
    """A model produced an infinite or NaN forecast: it is never published; the fallback is used instead."""


def check_finite(kind: str, forecast: pd.DataFrame, intervals: bool) -> pd.DataFrame:
    """``forecast`` unchanged when its point forecast is finite and, where ``intervals`` were asked for, both
    bounds are too; else NonFiniteForecast naming the first bad day."""
    yhat = forecast["yhat"].to_numpy(dtype=float)
    bad = ~np.isfinite(yhat)
    if intervals:
        bad |= ~np.isfinite(forecast[["yhat_lower", "yhat_upper"]].to_numpy(dtype=float)).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        row = forecast.iloc[first]
        raise NonFiniteForecast(f"{kind} forecast is not finite on day {first + 1} of {len(yhat)} (yhat="
                                f"{row['yhat']!r}, interval {row['yhat_lower']!r}..{row['yhat_upper']!r}); "
                                "not published")
    return forecast


@dataclass(frozen=True, kw_only=True)
class ForecastSettings:
    """The model settings a worker needs, picklable and free of Spark objects."""

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
    candidate_models: tuple[str, ...] = CANDIDATE_MODELS
    selection_metric: str = "smape"
    intermittent_adi: float = 1.32
    ets_model: str = "ZNZ"
    tsb_alpha_d: float = 0.1
    tsb_alpha_p: float = 0.1
    nonnegative: bool = True
    fit_history_days: int = 0  # fit on at most this many last days (0: all)
    selection_tolerance: float = 0.0

    @property
    def intervals(self) -> bool:
        return self.uncertainty_samples > 0

    @classmethod
    def from_config(cls, cfg: Any, scratch_dir: str) -> ForecastSettings:
        """The job's settings, each named: nineteen of the same few types are easy to misorder positionally."""
        return cls(
            horizon=cfg.horizon, growth=cfg.growth, seasonality_mode=cfg.seasonality_mode,
            interval_width=cfg.interval_width, uncertainty_samples=cfg.uncertainty_samples,
            holidays_country=cfg.holidays_country, season_length=cfg.season_length, seed=cfg.seed,
            scratch_dir=scratch_dir, logistic_cap_factor=cfg.logistic_cap_factor,
            candidate_models=tuple(cfg.candidate_models), selection_metric=cfg.selection_metric,
            intermittent_adi=cfg.intermittent_adi, ets_model=cfg.ets_model, tsb_alpha_d=cfg.tsb_alpha_d,
            tsb_alpha_p=cfg.tsb_alpha_p, nonnegative=cfg.nonnegative, fit_history_days=cfg.fit_history_days,
            selection_tolerance=cfg.selection_tolerance,
        )


# The settings a fitted point forecast depends on (not horizon, intervals, candidates or the choice rule): a
# registered model records them, so the registry's gate can refit its models exactly (gate.py).
FIT_FIELDS = ("growth", "seasonality_mode", "holidays_country", "season_length", "seed", "logistic_cap_factor",
              "ets_model", "tsb_alpha_d", "tsb_alpha_p", "nonnegative", "selection_metric", "fit_history_days")


def fit_settings(settings: ForecastSettings) -> dict[str, Any]:
    """The FIT_FIELDS of ``settings`` (JSON-serialisable)."""
    return {name: getattr(settings, name) for name in FIT_FIELDS}


@dataclass(frozen=True)
class SeriesForecast:
    """One series' outcome: the model used, its serialised state, the forecast and any error."""

    model: str | None  # None: no model gave a finite forecast (nothing published for the series)
    state: str | None
    forecast: pd.DataFrame
    fit_seconds: float
    predict_seconds: float
    error_type: str | None = None
    error: str | None = None


def result_schema(keys: Sequence[str]) -> str:
    """Output schema of ``forecast_one_series``: key columns as text, then RESULT_TAIL."""
    return key_schema(keys) + ", " + RESULT_TAIL


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
    """Raise UnmodelableSeries when a model has nothing to learn (a constant series)."""
    observed = history["y"].dropna()
    if observed.nunique() <= 1:
        value = observed.iloc[0] if len(observed) else float("nan")
        raise UnmodelableSeries(f"constant series (every observed value is {value:g}): nothing to fit")


def fit_prophet(history: pd.DataFrame, settings: ForecastSettings, workdir: str) -> Any:
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


def with_saturation(history: pd.DataFrame, settings: ForecastSettings) -> pd.DataFrame:
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


def gap_filled(y: np.ndarray, season: int) -> np.ndarray:
    """``y`` with each missing day taken from one season earlier (the mean of ``y`` where there is none)."""
    values = np.asarray(y, dtype=float).copy()
    missing = np.flatnonzero(np.isnan(values))
    if missing.size == 0:
        return values
    if missing.size == values.size:
        raise UnmodelableSeries("no observed value")
    mean = float(np.nanmean(values))
    for i in missing:  # forward, so a filled day can fill the same day of the next season
        values[i] = values[i - season] if i >= season else mean
    return values


def ets_state(y: np.ndarray, last_date: str, settings: ForecastSettings) -> dict[str, Any]:
    """statsforecast AutoETS fitted on ``y``, reduced to what ``forecaster_model.ets_forecast`` needs."""
    from statsforecast.models import AutoETS

    fitted = AutoETS(season_length=settings.season_length, model=settings.ets_model).fit(y).model_
    par = [None if np.isnan(v) else float(v) for v in np.asarray(fitted["par"], dtype=float)]
    return {"last_date": last_date, "components": str(fitted["components"]), "par": par, "m": int(fitted["m"]),
            "sigma2": float(fitted["sigma2"]), "last_state": np.asarray(fitted["states"])[-1].tolist(),
            "aicc": float(fitted["aicc"]), "interval_width": settings.interval_width}


def intermittent_state(kind: str, y: np.ndarray, last_date: str, settings: ForecastSettings) -> dict[str, Any]:
    """An intermittent-demand method fitted on ``y``: its flat mean demand per day and the demand quantiles."""
    from statsforecast.models import ADIDA as ADIDAModel
    from statsforecast.models import IMAPA as IMAPAModel
    from statsforecast.models import TSB as TSBModel
    from statsforecast.models import CrostonOptimized

    if not np.any(y > 0):
        raise UnmodelableSeries("no demand in the history: intermittent-demand methods need a non-zero day")
    params: dict[str, float] = {}
    if kind == TSB:
        params = {"alpha_d": settings.tsb_alpha_d, "alpha_p": settings.tsb_alpha_p}
        model = TSBModel(alpha_d=settings.tsb_alpha_d, alpha_p=settings.tsb_alpha_p)
    else:
        model = {CROSTON: CrostonOptimized, ADIDA: ADIDAModel, IMAPA: IMAPAModel}[kind]()
    mean = float(np.asarray(model.fit(y).model_["mean"], dtype=float).ravel()[0])
    if not np.isfinite(mean):
        raise UnmodelableSeries(f"{kind} produced no finite mean demand")
    recent = y[-DEMAND_WINDOW_DAYS:]
    width = settings.interval_width
    quantiles = np.quantile(recent, [(1 - width) / 2, (1 + width) / 2]).tolist()
    return {"last_date": last_date, "mean": mean, "params": params, "nonzero_share": float(np.mean(y > 0)),
            "demand_quantiles": quantiles, "interval_width": width}


def fit_model(kind: str, history: pd.DataFrame, settings: ForecastSettings) -> Any:
    """``kind`` fitted on ``history`` (ds, y): a Prophet object or a state dict, for ``forecast_from_state``.

    With ``fit_history_days`` > 0 every model sees only that many last days: fit time of Prophet and ETS grows
    with the history, and three years hold enough yearly seasons.
    """
    if settings.fit_history_days > 0 and len(history) > settings.fit_history_days:
        history = history.iloc[-settings.fit_history_days:].reset_index(drop=True)
    last_date = pd.Timestamp(history["ds"].max()).date()
    y = history["y"].to_numpy(dtype=float)
    if kind == SEASONAL_NAIVE:
        return seasonal_naive_state(y, last_date, settings.season_length, settings.interval_width)
    if kind in WINDOWS:  # a constant history is fine: the window repeats it
        return window_state(kind, y, last_date.isoformat(), settings.season_length, settings.selection_metric,
                            settings.interval_width)
    check_modelable(history)
    if kind == PROPHET:
        with cmdstan_scratch(settings.scratch_dir) as workdir:
            return fit_prophet(history, settings, workdir)
    filled = gap_filled(y, settings.season_length)
    if kind == AUTO_ETS:
        return ets_state(filled, last_date.isoformat(), settings)
    if kind in INTERMITTENT:
        return intermittent_state(kind, filled, last_date.isoformat(), settings)
    raise ValueError(f"unknown model {kind!r}")


def serialize(kind: str, model: Any) -> str:
    """The ``model_state`` text the pyfunc loads: Prophet's JSON, or the state dict as JSON."""
    if kind == PROPHET:
        from prophet.serialize import model_to_json

        # The fit's scratch folder is not part of the model: without it the same fit gives the same text, and the
        # saved state names no folder of the machine that trained it.
        model.fit_kwargs = {k: v for k, v in model.fit_kwargs.items() if k != "output_dir"}
        return model_to_json(model)
    return json.dumps(model)


def point_forecast(kind: str, history: pd.DataFrame, settings: ForecastSettings, horizon: int) -> np.ndarray:
    """``kind``'s point forecast of ``horizon`` days after ``history``; raises when it cannot be fitted."""
    model = fit_model(kind, history, settings)
    forecast = forecast_from_state(kind, model, horizon, settings.seed, False, settings.nonnegative)
    return check_finite(kind, forecast, False)["yhat"].to_numpy(dtype=float)


def forecast_with_fallback(history: pd.DataFrame, settings: ForecastSettings, horizon: int,
                           kind: str = PROPHET) -> SeriesForecast:
    """``kind`` on ``history`` (ds, y), or seasonal-naive with the error recorded when ``kind`` cannot be used."""
    started = time.perf_counter()
    try:
        model = fit_model(kind, history, settings)
        fitted = time.perf_counter()
        forecast = check_finite(kind, forecast_from_state(kind, model, horizon, settings.seed, settings.intervals,
                                                          settings.nonnegative), settings.intervals)
        return SeriesForecast(kind, serialize(kind, model), forecast, fitted - started, time.perf_counter() - fitted)
    except Exception as exc:  # any failure of one series falls back and is reported, never hidden
        if kind == SEASONAL_NAIVE:
            raise
        try:
            fallback = forecast_with_fallback(history, settings, horizon, SEASONAL_NAIVE)
        except Exception as second:  # reported by the caller as a series without a forecast
            raise NoUsableForecast(f"{kind}: {exc}; fallback seasonal_naive: {second}") from second
        return dataclasses.replace(fallback, fit_seconds=time.perf_counter() - started - fallback.predict_seconds,
                                   error_type=type(exc).__name__, error=str(exc)[:2000])


def no_forecast(exc: Exception, seconds: float) -> SeriesForecast:
    """The outcome of a series that no model, the fallback included, could forecast with finite values: no forecast
    rows and no model in the registry, and the reason in ``forecast_errors``."""
    empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in ("yhat", "yhat_lower", "yhat_upper")})
    empty.insert(0, "ds", pd.Series(dtype="object"))
    return SeriesForecast(None, None, empty, seconds, 0.0, type(exc).__name__,
                          f"no forecast published: {exc}"[:2000])


def to_history(pdf: pd.DataFrame) -> pd.DataFrame:
    """Prepared rows (date, units_sold) as Prophet's frame (ds, y), sorted by day."""
    history = pd.DataFrame({"ds": pd.to_datetime(pdf["date"]), "y": pdf["units_sold"].astype(float)})
    return history.sort_values("ds").reset_index(drop=True)


def chosen_model(pdf: pd.DataFrame) -> str | None:
    """The model the backtest chose for this series (column CHOSEN, the same on every row), if any."""
    if CHOSEN not in pdf.columns or pdf[CHOSEN].isna().iloc[0]:
        return None
    return str(pdf[CHOSEN].iloc[0])


def forecast_one_series(pdf: pd.DataFrame, keys: Sequence[str], settings: ForecastSettings,
                        model: str | None = None) -> pd.DataFrame:
    """One series' prepared rows (keys, date, units_sold, chosen_model) -> one row of ``result_schema(keys)``.

    The model is ``model`` when given, else the series' ``chosen_model``; a series without either gets
    seasonal-naive with a ``MissingModelChoice`` error, so it is listed in ``forecast_errors``.
    """
    history = to_history(pdf)
    kind = model or chosen_model(pdf)
    started = time.perf_counter()
    try:
        outcome = forecast_with_fallback(history, settings, settings.horizon, kind or SEASONAL_NAIVE)
    except Exception as exc:  # one series without a usable forecast never stops the others
        outcome = no_forecast(exc, time.perf_counter() - started)
    if kind is None and outcome.model is not None:
        outcome = dataclasses.replace(outcome, error_type=NO_CHOICE_ERROR[0], error=NO_CHOICE_ERROR[1])
    fc = outcome.forecast
    row: dict[str, Any] = {k: str(pdf[k].iloc[0]) for k in keys}
    row.update(model=outcome.model, chosen_model=kind, model_state=outcome.state, error_type=outcome.error_type,
               error=outcome.error,
               n_obs=int(history["y"].notna().sum()), fit_seconds=outcome.fit_seconds,
               predict_seconds=outcome.predict_seconds, ds=list(fc["ds"]), yhat=fc["yhat"].tolist(),
               yhat_lower=_nullable(fc["yhat_lower"]), yhat_upper=_nullable(fc["yhat_upper"]))
    return pd.DataFrame([row])


def _nullable(values: pd.Series) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]
