"""The demand_forecaster pyfunc: every series' fitted model in one MLflow model, forecasting any key and horizon.

Logged as "models from code" (this file is the model), so serving needs only prophet, pandas and mlflow,
not this repository. The job's train task predicts through the same ``forecast_from_state`` function, which
is why a forecast loaded back from MLflow equals the job's forecast.

Artifact ``series_models`` is JSON lines, one series per line: ``{"key": [...], "model": "prophet" |
"seasonal_naive", "state": "<json>"}``; ``meta`` holds the key column names and the random seed.
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

PROPHET, SEASONAL_NAIVE = "prophet", "seasonal_naive"
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


def forecast_from_state(model_kind: str, model: Any, horizon: int, seed: int, intervals: bool) -> pd.DataFrame:
    """One series' forecast from a fitted Prophet object or a seasonal-naive state dict."""
    if model_kind == PROPHET:
        return prophet_forecast(model, horizon, seed)
    return seasonal_naive_forecast(model, horizon, intervals)


class DemandForecaster(mlflow.pyfunc.PythonModel):
    """Input: one row per request with the key columns and ``horizon``; output: one row per forecast day."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["meta"], encoding="utf-8") as fh:
            meta = json.load(fh)
        self.key_columns: list[str] = meta["key_columns"]
        self.seed: int = int(meta["seed"])
        self.intervals: bool = bool(meta["intervals"])
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
            forecast = forecast_from_state(kind, model, int(request[HORIZON]), self.seed, self.intervals)
            frames.append(forecast.assign(**dict(zip(self.key_columns, key, strict=True)), model=kind))
        columns = [*self.key_columns, *FORECAST_COLUMNS, "model"]
        if not frames:
            return pd.DataFrame(columns=columns)
        return pd.concat(frames, ignore_index=True)[columns]


mlflow.models.set_model(DemandForecaster())
