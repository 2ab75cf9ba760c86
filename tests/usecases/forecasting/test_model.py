"""Per-series forecasting in plain pandas: Prophet, the seasonal-naive fallback, cmdstan scratch clean-up."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from usecases.forecasting import model as model_module
from usecases.forecasting.backtest import backtest_one_series, fold_origins
from usecases.forecasting.forecaster_model import INTERMITTENT, MODEL_KINDS, PROPHET, WINDOWS, DemandForecaster
from usecases.forecasting.generate import simulate_series
from usecases.forecasting.model import ForecastSettings, forecast_one_series

END = dt.date(2024, 6, 30)
KEYS = ["store_id", "item_id"]


def series_frame(values: np.ndarray | None = None, days: int = 800) -> pd.DataFrame:
    """A prepared series (store_id, item_id, date, units_sold) ending on END."""
    if values is None:
        spec = pd.Series({"store": 1, "item": 2, "level": 30.0, "growth": 0.1, "yearly_amplitude": 0.2,
                          "yearly_phase": 30.0, "holiday_uplift": 0.3, "start_offset": days})
        sold = simulate_series(spec, 5, END, [])
        calendar = pd.DataFrame({"date": pd.date_range(end=END, periods=days).date})
        frame = calendar.merge(sold[["date", "units_sold"]], on="date", how="left").fillna({"units_sold": 0})
    else:
        frame = pd.DataFrame({"date": pd.date_range(end=END, periods=len(values)).date, "units_sold": values})
    return frame.assign(store_id="1", item_id="2")


@pytest.fixture
def settings(tmp_path: Path) -> ForecastSettings:
    return ForecastSettings(horizon=30, growth="linear", seasonality_mode="multiplicative", interval_width=0.8,
                           uncertainty_samples=50, holidays_country="", season_length=7, seed=3,
                           scratch_dir=str(tmp_path / "scratch"))


def test_prophet_forecasts_the_horizon_and_leaves_no_cmdstan_files(settings: ForecastSettings) -> None:
    row = forecast_one_series(series_frame(), KEYS, settings, PROPHET).iloc[0]
    assert row["model"] == "prophet" and row["error"] is None and row["n_obs"] == 800
    assert list(row["ds"]) == [END + dt.timedelta(days=d) for d in range(1, 31)]
    assert all(lo <= y <= hi for lo, y, hi in zip(row["yhat_lower"], row["yhat"], row["yhat_upper"], strict=True))
    assert list(Path(settings.scratch_dir).iterdir()) == []  # the per-fit folder is gone
    assert json.loads(row["model_state"])["seasonality_mode"] == "multiplicative"


def test_constant_series_falls_back_to_seasonal_naive_with_the_reason(settings: ForecastSettings) -> None:
    row = forecast_one_series(series_frame(np.full(200, 4.0)), KEYS, settings, PROPHET).iloc[0]
    assert row["model"] == "seasonal_naive" and row["error_type"] == "UnmodelableSeries"
    assert "constant series" in row["error"] and set(row["yhat"]) == {4.0}


def test_a_failing_fit_falls_back_and_cleans_up(settings: ForecastSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(history, settings, workdir):
        Path(workdir, "partial.csv").write_text("half-written cmdstan output")
        raise RuntimeError("Error during optimization! planted")

    monkeypatch.setattr(model_module, "fit_prophet", explode)
    row = forecast_one_series(series_frame(days=120), KEYS, settings, PROPHET).iloc[0]
    assert row["model"] == "seasonal_naive" and row["error"] == "Error during optimization! planted"
    assert len(row["yhat"]) == 30 and list(Path(settings.scratch_dir).iterdir()) == []


def test_pyfunc_reproduces_the_per_series_forecasts(settings: ForecastSettings, tmp_path: Path) -> None:
    rows = pd.concat([forecast_one_series(series_frame(), KEYS, settings, PROPHET),
                      forecast_one_series(series_frame(np.full(100, 2.0)).assign(item_id="3"), KEYS, settings,
                                          PROPHET)])
    series_file, meta = tmp_path / "series.jsonl", tmp_path / "meta.json"
    series_file.write_text("".join(json.dumps({"key": [r.store_id, r.item_id], "model": r.model,
                                               "state": r.model_state}) + "\n" for r in rows.itertuples()))
    meta.write_text(json.dumps({"key_columns": KEYS, "seed": settings.seed, "intervals": True}))
    forecaster = DemandForecaster()
    forecaster.load_context(SimpleNamespace(artifacts={"series_models": str(series_file), "meta": str(meta)}))
    out = forecaster.predict(None, pd.DataFrame({"store_id": [1, "1"], "item_id": ["2", "3"], "horizon": [30, 30]}))
    np.testing.assert_allclose(out["yhat"], np.concatenate(rows["yhat"].to_list()))
    np.testing.assert_allclose(out["yhat_upper"], np.concatenate(rows["yhat_upper"].to_list()))
    assert len(forecaster.predict(None, pd.DataFrame({"store_id": ["1"], "item_id": ["2"], "horizon": [400]}))) == 400
    with pytest.raises(ValueError, match="unknown series"):
        forecaster.predict(None, pd.DataFrame({"store_id": ["9"], "item_id": ["9"], "horizon": [3]}))


def test_logistic_growth_saturates_below_the_cap_and_the_pyfunc_reproduces_it(settings: ForecastSettings,
                                                                              tmp_path: Path) -> None:
    """A series still climbing steeply: linear growth extrapolates the climb, logistic bends under its cap
    (``logistic_cap_factor`` x the highest observed value), and the registered model reuses that cap."""
    days = np.arange(600)
    rng = np.random.default_rng(0)
    climbing = 5.0 + 0.1 * days + rng.normal(0, 1.0, days.size)
    logistic = replace(settings, growth="logistic", logistic_cap_factor=1.2, seasonality_mode="additive",
                       horizon=365)
    row = forecast_one_series(series_frame(climbing), KEYS, logistic, PROPHET).iloc[0]
    assert row["model"] == "prophet" and row["error"] is None
    cap = 1.2 * climbing.max()
    assert max(row["yhat"]) <= cap * 1.02  # weekly/yearly terms may wiggle a little around the trend
    linear = forecast_one_series(series_frame(climbing), KEYS, replace(logistic, growth="linear"), PROPHET).iloc[0]
    assert max(linear["yhat"]) > cap  # the same data without saturation runs past the cap
    series_file, meta = tmp_path / "series.jsonl", tmp_path / "meta.json"
    series_file.write_text(json.dumps({"key": ["1", "2"], "model": row["model"], "state": row["model_state"]}) + "\n")
    meta.write_text(json.dumps({"key_columns": KEYS, "seed": logistic.seed, "intervals": True}))
    forecaster = DemandForecaster()
    forecaster.load_context(SimpleNamespace(artifacts={"series_models": str(series_file), "meta": str(meta)}))
    out = forecaster.predict(None, pd.DataFrame({"store_id": ["1"], "item_id": ["2"], "horizon": [365]}))
    np.testing.assert_allclose(out["yhat"], row["yhat"])


def test_logistic_growth_without_a_positive_value_falls_back_with_the_reason(settings: ForecastSettings) -> None:
    returns_only = np.tile([-1.0, -2.0, 0.0], 70)  # net returns: no positive value to put a cap above
    row = forecast_one_series(series_frame(returns_only), KEYS, replace(settings, growth="logistic"), PROPHET).iloc[0]
    assert row["model"] == "seasonal_naive" and row["error_type"] == "UnmodelableSeries"
    assert "needs a positive observed value" in row["error"]


def test_backtest_scores_every_candidate_on_the_same_folds(settings: ForecastSettings) -> None:
    assert fold_origins(100, 3, 10, 28) == [70, 80, 90]
    assert fold_origins(50, 3, 10, 28) == [30, 40]
    every = replace(settings, intermittent_adi=0.0)  # no demand-class split: every candidate competes
    metrics = backtest_one_series(series_frame(days=500), KEYS, every, 2, 14, 28)
    assert list(metrics["model"]) == list(settings.candidate_models) and set(metrics["demand_class"]) == {"any"}
    assert (metrics["folds"] == 2).all() and (metrics["points"] == 28).all() and (metrics["failed_folds"] == 0).all()
    assert metrics[["mae", "rmse", "smape", "mase"]].notna().all().all()
    assert metrics["chosen_model"].nunique() == 1 and metrics["selection_metric"].eq("smape").all()


def intermittent_frame(days: int = 400, seed: int = 0) -> pd.DataFrame:
    """Demand on about 70% of days, in sizes 1..20 (geometric), no weekly or yearly pattern."""
    rng = np.random.default_rng(seed)
    return series_frame(((rng.random(days) < 0.7) * rng.geometric(0.25, days)).astype(float))


def test_a_smooth_seasonal_series_chooses_prophet_or_ets(settings: ForecastSettings) -> None:
    metrics = backtest_one_series(series_frame(days=500), KEYS, settings, 2, 28, 28)
    assert set(metrics["demand_class"]) == {"smooth"}
    assert list(metrics["model"]) == [*WINDOWS, "seasonal_naive", "auto_ets", "prophet"]
    chosen = metrics["chosen_model"].iloc[0]
    assert chosen in {"prophet", "auto_ets"}
    scores = metrics.set_index("model")["smape"]
    assert scores[chosen] == scores.min() and metrics["selection_reason"].iloc[0] == "lowest smape over 2 fold(s)"


def test_an_intermittent_series_chooses_among_windows_and_intermittent_methods_on_more_folds(
        settings: ForecastSettings) -> None:
    metrics = backtest_one_series(intermittent_frame(), KEYS, replace(settings, selection_tolerance=0.05), 2, 28, 28,
                                  intermittent_folds=4)
    assert set(metrics["demand_class"]) == {"intermittent"} and metrics["adi"].iloc[0] > 1.32
    assert list(metrics["model"]) == [*WINDOWS, "seasonal_naive", "croston_optimized", "adida", "imapa", "tsb"]
    assert (metrics["folds"] == 4).all() and (metrics["points"] == 112).all()
    scores = metrics.set_index("model")["smape"]
    chosen = metrics["chosen_model"].iloc[0]
    assert chosen in (*WINDOWS, *INTERMITTENT) and scores[chosen] <= 1.05 * scores.min()
    last = metrics.set_index("model")["last_fold_smape"]  # the registry gate's window: the last 28 days
    assert last.notna().all() and (last >= 0).all()


def test_train_fits_the_chosen_model_and_the_pyfunc_reproduces_every_kind(settings: ForecastSettings,
                                                                         tmp_path: Path) -> None:
    """Each model kind's row (forecast and serialised state) is what the registered pyfunc serves back."""
    frames = {"1": series_frame(days=300), "2": intermittent_frame(300), "3": series_frame(np.zeros(120))}
    rows = []
    for kind in MODEL_KINDS:
        for item, frame in frames.items():
            rows.append(forecast_one_series(frame.assign(item_id=f"{item}-{kind}", chosen_model=kind), KEYS,
                                            settings))
    rows = pd.concat(rows, ignore_index=True)
    assert (rows["chosen_model"] == [k for k in MODEL_KINDS for _ in frames]).all()
    repeats = ("seasonal_naive", *WINDOWS)  # these forecast an all-zero history as zeros, without a fallback
    all_zero = rows["item_id"].str.startswith("3-") & ~rows["chosen_model"].isin(repeats)
    assert (rows.loc[all_zero, "model"] == "seasonal_naive").all()  # nothing to fit: fallback, with the reason
    assert rows.loc[all_zero, "error_type"].eq("UnmodelableSeries").all()
    fitted = ~all_zero
    assert (rows.loc[fitted, "model"] == rows.loc[fitted, "chosen_model"]).all()
    assert rows.loc[fitted, "error"].isna().all()
    for row in rows.itertuples():
        assert min(row.yhat) >= 0 and min(row.yhat_lower) >= 0  # nonnegative: demand is never negative
        assert all(lo <= y <= hi for lo, y, hi in zip(row.yhat_lower, row.yhat, row.yhat_upper, strict=True))
    ets = json.loads(rows.loc[rows["item_id"] == "1-auto_ets", "model_state"].iloc[0])
    assert ets["components"][1] == "N" and len(ets["last_state"]) >= 1  # ZNZ: no trend; its parameters kept
    croston = json.loads(rows.loc[rows["item_id"] == "2-croston_optimized", "model_state"].iloc[0])
    assert croston["mean"] > 0 and croston["demand_quantiles"][1] >= croston["mean"]

    series_file, meta = tmp_path / "series.jsonl", tmp_path / "meta.json"
    series_file.write_text("".join(json.dumps({"key": [r.store_id, r.item_id], "model": r.model,
                                               "state": r.model_state}) + "\n" for r in rows.itertuples()))
    meta.write_text(json.dumps({"key_columns": KEYS, "seed": settings.seed, "intervals": True, "nonnegative": True}))
    forecaster = DemandForecaster()
    forecaster.load_context(SimpleNamespace(artifacts={"series_models": str(series_file), "meta": str(meta)}))
    out = forecaster.predict(None, rows[KEYS].assign(horizon=settings.horizon))
    for column in ("yhat", "yhat_lower", "yhat_upper"):
        np.testing.assert_allclose(out[column], np.concatenate(rows[column].to_list()), rtol=1e-9)
    assert list(out["model"]) == [m for m in rows["model"] for _ in range(settings.horizon)]


def test_a_series_without_a_choice_gets_seasonal_naive_and_says_why(settings: ForecastSettings) -> None:
    row = forecast_one_series(series_frame(days=200).assign(chosen_model=None), KEYS, settings).iloc[0]
    assert row["model"] == "seasonal_naive" and row["chosen_model"] is None
    assert row["error_type"] == "MissingModelChoice" and "run the backtest task" in row["error"]
