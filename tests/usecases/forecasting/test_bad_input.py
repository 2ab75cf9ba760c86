"""Bad input to the forecasting job, table-driven: each case either lands in quarantine with its reason (and every
input row is accounted for), or stops the task with one clear line and exit code 2 (no traceback).

Most row-level cases share one input file (one series per case, so a bad row cannot disturb another case) and one
run of the prepare task; the cases that stop the task run on their own. Model-side cases (a model that forecasts
inf or NaN) run on plain pandas.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from shared.contracts import REASON
from shared.tables import LocalTableStore
from usecases.forecasting import model as model_module
from usecases.forecasting.job import prepare
from usecases.forecasting.model import ForecastSettings, forecast_one_series
from usecases.forecasting.publish import explode_forecasts, write_series_models

END = dt.date(2024, 4, 29)
DAYS = 120
TRAINING_DATE = END.isoformat()
# Every case needs its own quarantine budget: most rows of this file are bad on purpose.
COMMON = ["--generate_data=false", "--min_history_days=60", "--max_quarantine_fraction=1", "--horizon=7"]


@dataclass(frozen=True)
class RowCase:
    """One series of the shared input: a clean 120-day history with one row replaced, and the expected outcome."""

    series: str
    date: str | None = None  # the replaced row's date text (None: the day's own date)
    units: str | None = "5"  # the replaced row's units_sold text (None: empty cell)
    expect: str | None = None  # a pattern the quarantined row's reason matches; None: the row is prepared
    extra_rows: int = 0  # copies of the replaced row added (duplicate keys)
    days: int = DAYS
    gap: int = 0  # days left out of the file before the replaced row (a point-of-sale extract omits zero days)


ROW_CASES = [
    pytest.param(RowCase("plus-infinity", units="Infinity", expect=r"^units_sold is not a finite number"), id="inf"),
    pytest.param(RowCase("minus-infinity", units="-Infinity", expect=r"^units_sold is not a finite number"), id="-inf"),
    pytest.param(RowCase("not-a-number", units="NaN", expect=r"^units_sold is not a finite number"), id="nan"),
    pytest.param(RowCase("negative", units="-3", expect=r"units_sold must be >= 0"), id="negative"),
    pytest.param(RowCase("text-units", units="twelve", expect=r"^units_sold is not a number"),
                 id="text-units"),
    pytest.param(RowCase("bad-date", date="31/12/2023", expect=r"date is not a valid date"), id="bad-date"),
    pytest.param(RowCase("year-only", date="2024", expect=r"date is not a valid date"), id="year-only"),
    pytest.param(RowCase("year-month", date="2024-02", expect=r"date is not a valid date"), id="year-month"),
    pytest.param(RowCase("date-garbage", date="2024-03-01 garbage", expect=r"date is not a valid date"),
                 id="date-garbage"),
    pytest.param(RowCase("duplicate", extra_rows=1, expect=r"duplicate key"), id="duplicate-day"),
    pytest.param(RowCase("short", days=30, expect=r"too short: 30 observed days < min_history_days=60"),
                 id="short-series"),
    pytest.param(RowCase("unknown-day", units=None), id="empty-units-is-unknown"),
    pytest.param(RowCase("007"), id="leading-zero-key-kept"),
    pytest.param(RowCase("gap", gap=5), id="missing-days-filled-with-zero"),
]


def _case_rows(case: RowCase) -> list[dict[str, str]]:
    days = [END - dt.timedelta(days=d) for d in range(case.days - 1, -1, -1)]
    rows = [{"store_id": case.series, "item_id": "1", "date": d.isoformat(), "units_sold": str(1 + i % 7)}
            for i, d in enumerate(days)]
    bad = {**rows[-10], "date": case.date or rows[-10]["date"], "units_sold": "" if case.units is None else case.units}
    rows[-10] = bad
    del rows[-20:-20 + case.gap]
    return rows + [dict(bad) for _ in range(case.extra_rows)]


@pytest.fixture(scope="module")
def row_run(spark, tmp_path_factory: pytest.TempPathFactory):
    """One prepare run over every RowCase (plus a numeric-keyed series): the task report and the table store."""
    folder = tmp_path_factory.mktemp("bad_input")
    cases = [p.values[0] for p in ROW_CASES]
    rows = [r for case in cases for r in _case_rows(case)]
    csv = folder / "sales.csv"
    pd.DataFrame(rows).to_csv(csv, index=False, na_rep="")
    numeric = folder / "numeric.parquet"  # typed numeric keys, as a user's Parquet export has them
    days = pd.date_range(end=END, periods=DAYS).date
    pd.DataFrame({"store_id": 7, "item_id": 3, "date": days, "units_sold": np.arange(DAYS) % 5 + 1.0}).to_parquet(
        numeric)
    warehouse = folder / "warehouse"
    report = prepare.run([f"--sales_table={csv}", f"--training_date={TRAINING_DATE}", *COMMON],
                         warehouse=str(warehouse))
    store = LocalTableStore(spark, "main", "ml_use_cases", str(warehouse))
    quarantine = store.read("sales_quarantine").toPandas()
    prepared = store.read("sales_prepared").toPandas()
    numeric_report = prepare.run([f"--sales_table={numeric}", *COMMON], warehouse=str(folder / "warehouse_numeric"))
    numeric_prepared = LocalTableStore(spark, "main", "ml_use_cases", str(folder / "warehouse_numeric")).read(
        "sales_prepared")
    return {"report": report, "rows": len(rows), "quarantine": quarantine, "prepared": prepared,
            "numeric_report": numeric_report, "numeric_prepared": numeric_prepared}


@pytest.mark.parametrize("case", ROW_CASES)
def test_a_bad_row_is_quarantined_with_its_reason_and_nothing_else_is(row_run, case: RowCase) -> None:
    quarantined = row_run["quarantine"][row_run["quarantine"]["store_id"] == case.series]
    prepared = row_run["prepared"][row_run["prepared"]["store_id"] == case.series]
    if case.expect is None:
        assert quarantined.empty and len(prepared) == case.days and prepared["date"].nunique() == case.days
        filled = prepared[prepared["is_filled"]]
        assert len(filled) == case.gap and (filled["units_sold"] == 0.0).all()
        return
    assert len(quarantined) >= 1, f"{case.series}: nothing quarantined"
    assert all(re.search(case.expect, reason) for reason in quarantined[REASON]), list(quarantined[REASON])
    if case.days >= 60 and not case.extra_rows:  # only the bad row goes; the series is still forecast
        assert len(quarantined) == 1 and prepared["date"].nunique() == case.days
        assert np.isfinite(prepared["units_sold"].dropna()).all()


def test_every_row_is_accounted_for(row_run) -> None:
    report = row_run["report"]
    after = report.metrics["rows_after_training_date"]
    assert report.rows_in == row_run["rows"]
    assert report.rows_in == report.rows_out + report.rows_quarantined + after
    assert report.rows_quarantined == len(row_run["quarantine"])
    assert not np.isinf(row_run["prepared"]["units_sold"].dropna()).any()


def test_an_empty_units_cell_is_an_unknown_day_not_zero(row_run) -> None:
    prepared = row_run["prepared"]
    unknown = prepared[(prepared["store_id"] == "unknown-day") & prepared["units_sold"].isna()]
    assert len(unknown) == 1 and not unknown["is_filled"].iloc[0]


def test_numeric_keys_become_their_text(row_run) -> None:
    prepared = row_run["numeric_prepared"]
    assert {(r["store_id"], r["item_id"]) for r in prepared.select("store_id", "item_id").distinct().collect()} == {
        ("7", "3")}
    assert dict(prepared.dtypes)["store_id"] == "string" and prepared.filter(F.col("is_filled")).count() == 0
    assert row_run["numeric_report"].rows_quarantined == 0


@dataclass(frozen=True)
class FailCase:
    """An input the prepare task must refuse with one line on stderr."""

    name: str
    csv: str
    keys: str = "store_id,item_id"
    message: str = ""  # a pattern the error line matches


GOOD_ROW = "s1,i1,2024-01-01,3\n"
FAIL_CASES = [
    pytest.param(FailCase("header-only", "store_id,item_id,date,units_sold\n",
                          message=r"input sales: no rows to process \(the input is empty or has only a header\)"),
                 id="header-only"),
    pytest.param(FailCase("all-rows-bad", "store_id,item_id,date,units_sold\n"
                          + "".join(f"s1,i1,2024-01-0{d},-1\n" for d in (1, 2, 3)),
                          message=r"input sales: no valid rows left, all 3 rows quarantined: "
                                  r"'units_sold must be >= 0' x 3"), id="all-rows-bad"),
    pytest.param(FailCase("all-series-short", "store_id,item_id,date,units_sold\n"
                          + "".join(f"s{s},i1,2024-01-{d:02d},3\n" for s in (1, 2) for d in range(1, 11))
                          + "s3,i1,2024-01-01,\n",
                          message=r"no series left to forecast up to 2024-01-10: 21 of 21 rows quarantined \("
                                  r"'too short: 10 observed days < min_history_days=60' x 20; "
                                  r"'no observed units_sold values' x 1; all in sales_quarantine\), "
                                  r"0 after the training date"), id="all-series-quarantined"),
    pytest.param(FailCase("no-units-column", "store_id,item_id,date\ns1,i1,2024-01-01\n",
                          message=r"missing required column 'units_sold'"), id="missing-column"),
    pytest.param(FailCase("wrong-keys", "store_id,item_id,date,units_sold\n" + GOOD_ROW, keys="region,sku",
                          message=r"missing required column 'region'"), id="key-column-not-in-file"),
]


@pytest.mark.parametrize("case", FAIL_CASES)
def test_unusable_input_stops_the_task_with_one_clear_line(spark, tmp_path: Path, capsys, case: FailCase) -> None:
    csv = tmp_path / f"{case.name}.csv"
    csv.write_text(case.csv)
    with pytest.raises(SystemExit) as stopped:
        prepare([f"--sales_table={csv}", f"--key_columns={case.keys}", *COMMON])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("forecasting.prepare: error:")]
    assert stopped.value.code == 2 and len(lines) == 1, err
    assert re.search(case.message, lines[0]), lines[0]
    assert "Traceback" not in err


def test_a_dotted_key_column_name_works(spark, tmp_path: Path) -> None:
    csv = tmp_path / "dotted.csv"
    days = pd.date_range(end=END, periods=DAYS).date
    pd.DataFrame({"store.id": "s.1", "item id": "a`b", "date": days, "units_sold": np.arange(DAYS) % 4 + 1.0}).to_csv(
        csv, index=False)
    warehouse = tmp_path / "warehouse"
    report = prepare.run([f"--sales_table={csv}", "--key_columns=store.id,item id", *COMMON], warehouse=str(warehouse))
    prepared = LocalTableStore(spark, "main", "ml_use_cases", str(warehouse)).read("sales_prepared")
    assert report.rows_out == DAYS and prepared.columns[:2] == ["store.id", "item id"]


# ---- model output that is not finite never reaches forecasts or the registry (plain pandas) ----

@pytest.fixture
def settings(tmp_path: Path) -> ForecastSettings:
    return ForecastSettings(horizon=14, growth="linear", seasonality_mode="additive", interval_width=0.8,
                            uncertainty_samples=0, holidays_country="", season_length=7, seed=1,
                            scratch_dir=str(tmp_path / "scratch"))


def _series(values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"store_id": "s", "item_id": "i", "date": pd.date_range(end=END, periods=len(values)).date,
                         "units_sold": values})


MODEL_CASES = [
    pytest.param(np.inf, id="inf"),
    pytest.param(np.nan, id="nan"),
    pytest.param(-np.inf, id="-inf"),
]


@pytest.mark.parametrize("bad", MODEL_CASES)
def test_a_non_finite_model_forecast_falls_back_with_the_reason(settings: ForecastSettings, monkeypatch, bad) -> None:
    def broken(state, horizon, intervals):  # the ETS forecast of a diverging fit
        out = pd.DataFrame({"ds": pd.date_range(END, periods=horizon).date, "yhat": 3.0, "yhat_lower": np.nan,
                            "yhat_upper": np.nan})
        out.loc[5, "yhat"] = bad
        return out

    real_fit = model_module.fit_model
    monkeypatch.setattr(model_module, "fit_model",
                        lambda kind, history, s: {"kind": kind} if kind == "auto_ets" else real_fit(kind, history, s))
    monkeypatch.setattr("usecases.forecasting.forecaster_model.ets_forecast", broken)
    unfloored = replace(settings, nonnegative=False)  # flooring at zero would turn -inf into 0
    row = forecast_one_series(_series(np.arange(100) % 7 + 1.0), ["store_id", "item_id"], unfloored,
                              "auto_ets").iloc[0]
    assert row["model"] == "seasonal_naive" and row["error_type"] == "NonFiniteForecast"
    assert "auto_ets forecast is not finite" in row["error"] and np.isfinite(row["yhat"]).all()


def test_a_series_no_model_can_forecast_publishes_nothing(spark, settings: ForecastSettings, tmp_path: Path) -> None:
    huge = np.resize([0.0, 1e308], 60)  # finite, but seasonal-naive's residual spread overflows to inf
    with np.errstate(over="ignore", invalid="ignore"):
        row = forecast_one_series(_series(huge), ["store_id", "item_id"], replace(settings, uncertainty_samples=10),
                                  "seasonal_naive").iloc[0]
    assert row["model"] is None and row["model_state"] is None and len(row["yhat"]) == 0
    assert row["error"].startswith("no forecast published: ") and row["error_type"] == "NonFiniteForecast"
    results = spark.createDataFrame(
        pd.DataFrame([row]).assign(training_date=END),
        "store_id string, item_id string, model string, chosen_model string, model_state string, error_type string, "
        "error string, n_obs int, fit_seconds double, predict_seconds double, ds array<date>, yhat array<double>, "
        "yhat_lower array<double>, yhat_upper array<double>, training_date date")
    assert explode_forecasts(results, ["store_id", "item_id"], "run").count() == 0
    path = tmp_path / "series.jsonl"
    assert write_series_models(results, ["store_id", "item_id"], path) == 0 and path.read_text() == ""
