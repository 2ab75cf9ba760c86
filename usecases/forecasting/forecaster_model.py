"""The demand_forecaster pyfunc: every series' fitted model in one MLflow model, forecasting any key and horizon.

Logged as "models from code" (this file is the model), so serving needs only prophet, statsforecast, pandas
and mlflow, not this repository. The job's train task predicts through the same ``forecast_from_state``
function, which is why a forecast loaded back from MLflow equals the job's forecast.

Artifact ``series_models`` is JSON lines, one series per line: ``{"key": [...], "model": <kind>, "state":
"<json>"}`` where kind is the model the backtest chose for that series (see MODEL_KINDS) and state holds
everything that model needs to forecast, its fitted parameters included:

- ``prophet``: Prophet's own JSON serialisation;
- ``seasonal_naive``: the last season and the residual sd (``seasonal_naive_state``);
- ``auto_ets``: statsforecast's fitted ETS model reduced to what forecasting needs (components, parameters,
  last state vector, sigma2); forecasts and intervals come from ``statsforecast.ets.forecast_ets``;
- ``croston_optimized``, ``adida``, ``imapa``, ``tsb``: intermittent-demand methods, whose forecast is a flat
  mean demand per day; intervals are empirical quantiles of the observed daily demand;
- ``window_8w``, ``window_13w``, ``window_26w``, ``seasonal_window_13w``: the value per season position
  (``values``, one for a flat window) that minimised the backtest's metric over the window, with the window's
  empirical interval (``lower``, ``upper``); the forecast repeats them.

``meta`` holds the key column names, the random seed, whether intervals are produced, whether forecasts
are floored at zero (``nonnegative``), the training date and the fit settings the models were fitted with
(``fit_settings``: the registry's gate refits a version's models with them; see usecases/forecasting/gate.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from statistics import NormalDist
from typing import Any

import mlflow
import numpy as np
import pandas as pd

PROPHET, SEASONAL_NAIVE, AUTO_ETS = "prophet", "seasonal_naive", "auto_ets"
CROSTON, ADIDA, IMAPA, TSB = "croston_optimized", "adida", "imapa", "tsb"
INTERMITTENT = (CROSTON, ADIDA, IMAPA, TSB)
# Window models: the value that minimises the selection metric over the last N weeks (``window_*``), or over the
# same position of the season in the last N seasons (``seasonal_window_*``); weeks are read from the name.
WINDOW_8W, WINDOW_13W, WINDOW_26W, SEASONAL_WINDOW_13W = "window_8w", "window_13w", "window_26w", "seasonal_window_13w"
WINDOWS = (WINDOW_13W, WINDOW_8W, WINDOW_26W, SEASONAL_WINDOW_13W)
MODEL_KINDS = (PROPHET, SEASONAL_NAIVE, AUTO_ETS, *INTERMITTENT, *WINDOWS)
FORECAST_COLUMNS = ["ds", "yhat", "yhat_lower", "yhat_upper"]
HORIZON = "horizon"


def quiet_stan_logging() -> None:
    """Silence cmdstanpy's per-fit chatter and Prophet's info lines (thousands of fits fill the logs)."""
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "plotly not installed" on every import
    import prophet  # noqa: F401 - importing it sets the "prophet" logger to INFO, so override afterwards
    from cmdstanpy.utils import get_logger

    logging.getLogger("prophet").setLevel(logging.WARNING)
    get_logger().setLevel(logging.ERROR)  # get_logger first: it resets the level the first time it runs


def seasonal_naive_state(y: np.ndarray, last_date: dt.date, season: int, interval_width: float) -> dict[str, Any]:
    """What a seasonal-naive forecast needs: the last season (gaps filled from earlier seasons) and residual sd."""
    values = np.asarray(y, dtype=float)
    if values.size == 0 or np.all(np.isnan(values)):
        raise ValueError("seasonal-naive needs at least one observed value")
    padded = np.concatenate([np.full((-values.size) % season, np.nan), values]).reshape(-1, season)
    last = padded[-1].copy()
    for earlier in padded[-2::-1]:  # fill gaps of the last season from the seasons before it
        last = np.where(np.isnan(last), earlier, last)
    last = np.where(np.isnan(last), np.nanmean(values), last)
    diffs = values[season:] - values[:-season]
    diffs = diffs[~np.isnan(diffs)]
    sd = float(np.std(diffs, ddof=1)) if diffs.size > 1 else 0.0
    return {"last_date": last_date.isoformat(), "season_values": last.tolist(), "residual_sd": sd,
            "interval_width": interval_width}


def seasonal_naive_forecast(state: dict[str, Any], horizon: int, intervals: bool) -> pd.DataFrame:
    """Repeat the last season; intervals widen with the number of seasons ahead (columns FORECAST_COLUMNS)."""
    season = np.asarray(state["season_values"], dtype=float)
    steps = np.arange(horizon)
    yhat = season[steps % season.size]
    start = dt.date.fromisoformat(state["last_date"])
    ds = [start + dt.timedelta(days=int(h) + 1) for h in steps]
    if not intervals:
        return pd.DataFrame({"ds": ds, "yhat": yhat, "yhat_lower": np.nan, "yhat_upper": np.nan})
    z = NormalDist().inv_cdf(0.5 + state["interval_width"] / 2)
    half = z * state["residual_sd"] * np.sqrt(steps // season.size + 1)
    return pd.DataFrame({"ds": ds, "yhat": yhat, "yhat_lower": yhat - half, "yhat_upper": yhat + half})


def prophet_forecast(model: Any, horizon: int, seed: int) -> pd.DataFrame:
    """Future-only Prophet forecast (columns FORECAST_COLUMNS); seeded, since intervals are simulated."""
    future = model.make_future_dataframe(periods=horizon, include_history=False)
    if model.growth == "logistic":  # the saturation the model was fitted with, kept in its history
        future["cap"] = model.history["cap"].iloc[-1]
        if model.logistic_floor:
            future["floor"] = model.history["floor"].iloc[-1]
    np.random.seed(seed)  # Prophet draws its uncertainty samples from numpy's global generator
    predicted = model.predict(future)
    out = pd.DataFrame({"ds": predicted["ds"].dt.date, "yhat": predicted["yhat"].to_numpy()})
    for column in ("yhat_lower", "yhat_upper"):
        out[column] = predicted[column].to_numpy() if column in predicted else np.nan
    return out


def flat_forecast(state: dict[str, Any], horizon: int, intervals: bool) -> pd.DataFrame:
    """An intermittent-demand method's forecast: the same mean demand every day (columns FORECAST_COLUMNS).

    The interval is the observed daily demand's central ``interval_width`` range (recorded at fit time),
    widened to contain the mean: these methods model demand as a stationary process, so a future day's
    demand is spread like the past days' demand.
    """
    ds = future_days(state["last_date"], horizon)
    yhat = np.full(horizon, float(state["mean"]))
    if not intervals or state.get("demand_quantiles") is None:
        return pd.DataFrame({"ds": ds, "yhat": yhat, "yhat_lower": np.nan, "yhat_upper": np.nan})
    low, high = (float(q) for q in state["demand_quantiles"])
    return pd.DataFrame({"ds": ds, "yhat": yhat, "yhat_lower": np.minimum(low, yhat),
                         "yhat_upper": np.maximum(high, yhat)})


def ets_forecast(state: dict[str, Any], horizon: int, intervals: bool) -> pd.DataFrame:
    """statsforecast's ETS forecast from the reduced fitted model in ``state`` (columns FORECAST_COLUMNS)."""
    from statsforecast.ets import forecast_ets

    fitted = {"components": state["components"], "par": np.asarray(state["par"], dtype=float),
              "m": int(state["m"]), "sigma2": float(state["sigma2"]),
              "states": np.asarray([state["last_state"]], dtype=float),
              "residuals": np.empty(0), "fitted": np.empty(0)}
    level = round(100 * float(state["interval_width"]), 6)
    out = forecast_ets(fitted, horizon, level=[level] if intervals else None)
    ds = future_days(state["last_date"], horizon)
    if not intervals:
        return pd.DataFrame({"ds": ds, "yhat": out["mean"], "yhat_lower": np.nan, "yhat_upper": np.nan})
    lower, upper = (next(v for k, v in out.items() if k.startswith(side)) for side in ("lo-", "hi-"))  # one level
    return pd.DataFrame({"ds": ds, "yhat": out["mean"], "yhat_lower": lower, "yhat_upper": upper})


def window_forecast(state: dict[str, Any], horizon: int, intervals: bool) -> pd.DataFrame:
    """A window model's forecast: its per-position values repeated over the horizon (columns FORECAST_COLUMNS)."""
    steps = np.arange(horizon)
    values = np.asarray(state["values"], dtype=float)
    position = steps % values.size
    out = pd.DataFrame({"ds": future_days(state["last_date"], horizon), "yhat": values[position],
                        "yhat_lower": np.nan, "yhat_upper": np.nan})
    if intervals:
        out["yhat_lower"] = np.minimum(np.asarray(state["lower"], dtype=float)[position], out["yhat"])
        out["yhat_upper"] = np.maximum(np.asarray(state["upper"], dtype=float)[position], out["yhat"])
    return out


def future_days(last_date: str, horizon: int) -> list[dt.date]:
    start = dt.date.fromisoformat(last_date)
    return [start + dt.timedelta(days=h) for h in range(1, horizon + 1)]


def forecast_from_state(model_kind: str, model: Any, horizon: int, seed: int, intervals: bool,
                        nonnegative: bool = False) -> pd.DataFrame:
    """One series' forecast from a fitted Prophet object or another kind's state dict.

    ``nonnegative`` floors forecasts and interval bounds at zero: demand is never negative (the sales contract
    quarantines negative units), so a negative forecast is only model error.
    """
    if model_kind == PROPHET:
        out = prophet_forecast(model, horizon, seed)
    elif model_kind == SEASONAL_NAIVE:
        out = seasonal_naive_forecast(model, horizon, intervals)
    elif model_kind == AUTO_ETS:
        out = ets_forecast(model, horizon, intervals)
    elif model_kind in INTERMITTENT:
        out = flat_forecast(model, horizon, intervals)
    elif model_kind in WINDOWS:
        out = window_forecast(model, horizon, intervals)
    else:
        raise ValueError(f"unknown model kind {model_kind!r}; known: {', '.join(MODEL_KINDS)}")
    if nonnegative:
        for column in ("yhat", "yhat_lower", "yhat_upper"):
            out[column] = out[column].clip(lower=0.0)
    return out


class DemandForecaster(mlflow.pyfunc.PythonModel):
    """Input: one row per request with the key columns and ``horizon``; output: one row per forecast day."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["meta"], encoding="utf-8") as fh:
            meta = json.load(fh)
        self.meta: dict[str, Any] = meta  # fit_settings and training_date: what the registry's gate refits
        self.key_columns: list[str] = meta["key_columns"]
        self.seed: int = int(meta["seed"])
        self.intervals: bool = bool(meta["intervals"])
        self.nonnegative: bool = bool(meta.get("nonnegative", False))
        self.states: dict[tuple[str, ...], tuple[str, str]] = {}
        with open(context.artifacts["series_models"], encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                self.states[tuple(str(k) for k in row["key"])] = (row["model"], row["state"])
        self.loaded: dict[tuple[str, ...], Any] = {}

    def _model(self, key: tuple[str, ...]) -> tuple[str, Any]:
        kind, state = self.states[key]
        if key not in self.loaded:  # deserialise on first use: loading every Prophet up front is slow
            if kind == PROPHET:
                quiet_stan_logging()
                from prophet.serialize import model_from_json

                self.loaded[key] = model_from_json(state)
            else:
                self.loaded[key] = json.loads(state)
        return kind, self.loaded[key]

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        missing = [c for c in [*self.key_columns, HORIZON] if c not in model_input.columns]
        if missing:
            raise ValueError(f"input needs columns {self.key_columns + [HORIZON]}; missing {missing}")
        frames = []
        for _, request in model_input.iterrows():
            key = tuple(str(request[c]) for c in self.key_columns)
            if key not in self.states:
                raise ValueError(f"unknown series {dict(zip(self.key_columns, key, strict=True))}")
            kind, model = self._model(key)
            forecast = forecast_from_state(kind, model, int(request[HORIZON]), self.seed, self.intervals,
                                           self.nonnegative)
            frames.append(forecast.assign(**dict(zip(self.key_columns, key, strict=True)), model=kind))
        columns = [*self.key_columns, *FORECAST_COLUMNS, "model"]
        if not frames:
            return pd.DataFrame(columns=columns)
        return pd.concat(frames, ignore_index=True)[columns]


mlflow.models.set_model(DemandForecaster())
