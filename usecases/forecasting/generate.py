"""Seeded synthetic store-item daily demand with trend, weekly/yearly seasonality, holidays and noise.

Each series is simulated on its own from ``(seed, store, item)``, so the work spreads over Spark tasks
(``mapInPandas`` over series specs) and a bigger run contains the smaller one unchanged. Kinds, planted
and recorded in the truth table:

- ``regular``: level 5-80 units/day, annual growth -10%..+30%, a weekly profile, a yearly wave and
  holiday uplifts, Poisson noise: what Prophet should forecast well;
- ``intermittent``: 0.1-1 unit/day, mostly zero days;
- ``short``: a regular series that started selling only 20-200 days before the end (some are too short
  to model and end in quarantine).

Days with zero sales are absent from ``sales``, as in point-of-sale extracts: the prepare task's ``zero``
fill policy restores them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession

from shared.spark import parallelism

WEEKLY_PROFILE = np.array([0.85, 0.9, 0.95, 1.0, 1.1, 1.3, 1.2])  # Monday .. Sunday
SPEC_COLUMNS = ("store", "item", "kind", "level", "growth", "yearly_amplitude", "yearly_phase", "holiday_uplift",
                "start_offset")
TRUTH_SCHEMA_TAIL = ("series_kind string, level double, annual_growth double, yearly_amplitude double, "
                     "holiday_uplift double, first_date date")


def holiday_dates(country: str, start: dt.date, end: dt.date) -> list[dt.date]:
    """Public holidays of ``country`` between two dates (the same source Prophet's country holidays use)."""
    if not country:
        return []
    import holidays

    calendar = holidays.country_holidays(country, years=range(start.year, end.year + 1))
    return sorted(d for d in calendar if start <= d <= end)


def series_specs(seed: int, stores: int, items: int, history_days: int, intermittent_share: float,
                 short_share: float) -> pd.DataFrame:
    """One row per store-item (columns SPEC_COLUMNS), drawn from ``(seed, store, item)``."""
    rows = []
    for store in range(1, stores + 1):
        store_factor = np.random.default_rng([seed, store]).uniform(0.6, 1.4)
        for item in range(1, items + 1):
            rng = np.random.default_rng([seed, store, item])
            u = rng.random()
            kind = "intermittent" if u < intermittent_share else (
                "short" if u < intermittent_share + short_share else "regular")
            level = rng.uniform(0.1, 1.0) if kind == "intermittent" else store_factor * rng.uniform(5.0, 60.0)
            start_offset = int(rng.integers(20, 201)) if kind == "short" else history_days
            rows.append((store, item, kind, float(level), float(rng.uniform(-0.1, 0.3)),
                         float(rng.uniform(0.1, 0.3)), float(rng.uniform(0, 365)), float(rng.uniform(0.2, 0.6)),
                         min(start_offset, history_days)))
    return pd.DataFrame(rows, columns=list(SPEC_COLUMNS))


def simulate_series(spec: pd.Series, seed: int, end: dt.date, holidays: Sequence[dt.date]) -> pd.DataFrame:
    """Daily units (columns date, store, item, units_sold) of one series; zero-sales days are left out."""
    days = int(spec["start_offset"])
    dates = pd.date_range(end=pd.Timestamp(end), periods=days, freq="D")
    rng = np.random.default_rng([seed, int(spec["store"]), int(spec["item"]), 1])
    t_years = (np.arange(days) - (days - 1)) / 365.25  # 0 at the end, so short series keep their level
    weekly = WEEKLY_PROFILE * rng.uniform(0.95, 1.05, size=7)
    weekly = weekly / weekly.mean()
    doy = dates.dayofyear.to_numpy()
    mean = (
        spec["level"]
        * np.clip(1.0 + spec["growth"] * t_years, 0.2, None)
        * weekly[dates.dayofweek.to_numpy()]
        * (1.0 + spec["yearly_amplitude"] * np.sin(2 * np.pi * (doy - spec["yearly_phase"]) / 365.25))
        * np.where(dates.isin(pd.DatetimeIndex(holidays)), 1.0 + spec["holiday_uplift"], 1.0)
    )
    units = rng.poisson(mean)
    frame = pd.DataFrame({"date": dates.date, "store": int(spec["store"]), "item": int(spec["item"]),
                          "units_sold": units.astype("int64")})
    return frame[frame["units_sold"] > 0]


def key_values(frame: pd.DataFrame, key_columns: Sequence[str]) -> dict[str, pd.Series]:
    """Store/item indices as the configured key columns: two keys get store and item, one key 'store_item'."""
    if len(key_columns) == 1:
        return {key_columns[0]: frame["store"].astype(str) + "_" + frame["item"].astype(str)}
    if len(key_columns) == 2:
        return {key_columns[0]: frame["store"].astype("int64"), key_columns[1]: frame["item"].astype("int64")}
    raise ValueError(f"the generator makes one or two key columns, not {len(key_columns)}: {list(key_columns)}")


def key_schema(key_columns: Sequence[str]) -> str:
    kind = "string" if len(key_columns) == 1 else "bigint"
    return ", ".join(f"`{k}` {kind}" for k in key_columns)


def generate_sales(spark: SparkSession, seed: int, stores: int, items: int, history_days: int,
                   history_end: str, intermittent_share: float, short_share: float, holidays_country: str,
                   key_columns: Sequence[str]) -> tuple[DataFrame, DataFrame]:
    """The ``sales`` table (date, keys, units_sold) and its truth table (keys, series_kind, planted parameters)."""
    keys = list(key_columns)
    end = dt.date.fromisoformat(history_end)
    start = end - dt.timedelta(days=history_days - 1)
    holidays = holiday_dates(holidays_country, start, end)
    specs = series_specs(seed, stores, items, history_days, intermittent_share, short_share)

    def simulate(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for _, spec in batch.iterrows():
                frame = simulate_series(spec, seed, end, holidays)
                yield pd.DataFrame({"date": frame["date"], **key_values(frame, keys),
                                    "units_sold": frame["units_sold"]})

    n_partitions = max(1, min(len(specs), 4 * parallelism(spark)))
    spec_df = spark.createDataFrame(specs).repartition(n_partitions)
    sales = spec_df.mapInPandas(simulate, f"date date, {key_schema(keys)}, units_sold bigint")
    truth_pdf = specs.assign(first_date=[end - dt.timedelta(days=int(d) - 1) for d in specs["start_offset"]])
    truth = pd.DataFrame({**key_values(truth_pdf, keys), "series_kind": truth_pdf["kind"],
                          "level": truth_pdf["level"], "annual_growth": truth_pdf["growth"],
                          "yearly_amplitude": truth_pdf["yearly_amplitude"],
                          "holiday_uplift": truth_pdf["holiday_uplift"], "first_date": truth_pdf["first_date"]})
    truth_df = spark.createDataFrame(truth, f"{key_schema(keys)}, {TRUTH_SCHEMA_TAIL}")
    return sales, truth_df

