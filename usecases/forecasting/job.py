"""Bundle tasks of the forecasting job: generate, prepare, backtest, train_forecast, publish.

The backtest runs before train_forecast: it scores every candidate model per series and records the choice in
``forecast_metrics``; train_forecast then fits each series' chosen model on the full history.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shared.config import ConfigError
from shared.contracts import TOP_REASONS, reason_column
from shared.grouped import map_groups_in_partitions
from shared.task import InputError, TaskContext, TaskEntryPoint, TaskReport, quarantine_table
from shared.tracking import lineage_tags, log_metrics
from usecases.forecasting import publish as pub
from usecases.forecasting.backtest import backtest_one_series, metrics_schema
from usecases.forecasting.columns import key_columns, keys_as_configured
from usecases.forecasting.config import ForecastingConfig
from usecases.forecasting.contracts import SALES, sales_contract
from usecases.forecasting.gate import GateData, gate_series
from usecases.forecasting.generate import generate_sales
from usecases.forecasting.mlflow_logging import log_and_register_forecaster, log_figures
from usecases.forecasting.model import (
    CHOSEN,
    NO_CHOICE_ERROR,
    ForecastSettings,
    forecast_one_series,
    result_schema,
)
from usecases.forecasting.partitioning import BUCKET, balance_series
from usecases.forecasting.prepare import FILLED, daily_totals, prepare_sales, resolve_training_date
from usecases.forecasting.sales_columns import sales_in_job_names

log = logging.getLogger("usecases.forecasting")
UC = "forecasting"


def run_generate(ctx: TaskContext[ForecastingConfig], cfg: ForecastingConfig) -> TaskReport:
    """Write seeded ``sales`` and its truth table, only when generation is on and the table is absent."""
    if not ctx.should_generate([cfg.sales_table, cfg.ground_truth_table], cfg):
        return TaskReport(0, 0)
    if not 1 <= len(cfg.key_columns) <= 2:
        raise ConfigError("the generator makes store x item series with one or two key columns; an empty key_columns "
                          "(one series) or more than two need your own sales_table")
    sales, truth = generate_sales(ctx.spark, cfg.seed, cfg.n_stores, cfg.n_items, cfg.n_days, cfg.history_end,
                                  cfg.intermittent_share, cfg.short_share, cfg.holidays_country, cfg.key_columns)
    ctx.tables.write(sales, cfg.sales_table)
    ctx.tables.write(truth, cfg.ground_truth_table)
    rows = ctx.tables.read(cfg.sales_table).count()
    return TaskReport(0, rows, balanced=False, metrics={"series": float(cfg.n_stores * cfg.n_items)})


def _read(ctx: TaskContext[ForecastingConfig], cfg: ForecastingConfig, table: str) -> DataFrame:
    """A table this job wrote, its key columns named as this run's config names them (an earlier run may have
    spelled them in another case)."""
    return keys_as_configured(ctx.tables.read(table), cfg.keys)


def run_prepare(ctx: TaskContext[ForecastingConfig], cfg: ForecastingConfig) -> TaskReport:
    """Contract-check ``sales``, cut at the training date, quarantine short series, complete calendars."""
    summed = cfg.same_day_rows == "sum"
    contract = sales_contract(cfg.keys, one_row_per_day=not summed)

    def in_job_names(sales: DataFrame) -> DataFrame:  # date_column, target_column, one series' key
        return sales_in_job_names(sales, SALES, cfg.date_column, cfg.target_column, cfg.one_series)

    # an empty or all-bad input stops here
    valid, rows_in = ctx.read_with_contract(cfg.sales_table, contract, adapt=in_job_names)
    rows_valid = rows_in - ctx.quarantined  # nothing quarantined before this input in this task
    if summed:  # staged: the daily totals feed the training date, the preparation and the counts below
        valid = ctx.stage(daily_totals(valid, cfg.keys), "daily_sales")
    training_date = resolve_training_date(cfg.training_date, valid, cfg.keys)
    rejected = ctx.tables.read(quarantine_table(contract.table))  # this run's contract rejects, just written
    result = prepare_sales(valid, cfg.keys, training_date, cfg.fill_policy, cfg.min_history_days, rejected)
    ctx.tables.write(result.prepared.withColumn("training_date", F.lit(training_date)), cfg.prepared_table)
    series_rows = ctx.add_to_quarantine(contract.table, result.quarantined)
    reason = reason_column(valid.columns)  # few distinct texts: one per reason and observed-day count
    ctx.note_reasons({r[reason]: r["count"] for r in result.quarantined.groupBy(reason).count().collect()})
    prepared = _read(ctx, cfg, cfg.prepared_table)
    counts = prepared.groupBy(FILLED, F.col("units_sold").isNull().alias("unknown")).count().collect()  # <= 4 rows
    filled = sum(r["count"] for r in counts if r[FILLED])
    observed = sum(r["count"] for r in counts if not r[FILLED])
    after = valid.filter(F.col("date") > F.lit(training_date)).count()
    metrics = {"rows_filled": float(filled), "rows_after_training_date": float(after),
               "rows_summed_into_days": float(rows_valid - valid.count()) if summed else 0.0,
               "days_unknown": float(sum(r["count"] for r in counts if r["unknown"])),
               "series_quarantined": float(result.series_quarantined),
               "series_prepared": float(prepared.select(*key_columns(cfg.keys)).distinct().count())}
    # Not balanced: calendar completion adds rows. Accounting: in = observed + quarantined + after cut-off.
    metrics["series_rows_quarantined"] = float(series_rows)
    if not metrics["series_prepared"]:  # after the quarantine is written, so the reasons can be read
        top = sorted(ctx.quarantine_reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
        reasons = "".join(f"{text!r} x {count:,}; " for text, count in top)
        if len(ctx.quarantine_reasons) > TOP_REASONS:
            reasons += f"{len(ctx.quarantine_reasons) - TOP_REASONS} more reason(s); "
        raise InputError(f"no series left to forecast up to {training_date}: {ctx.quarantined:,} of {rows_in:,} "
                         f"rows quarantined ({reasons}all in {quarantine_table(contract.table)}), "
                         f"{after:,} after the training date")
    return TaskReport(rows_in, observed, ctx.quarantined, balanced=False, metrics=metrics)


def _prepared(ctx: TaskContext[ForecastingConfig], cfg: ForecastingConfig) -> tuple[DataFrame, dt.date]:
    """The prepared rows and their training date (the series are counted where they are balanced)."""
    prepared = _read(ctx, cfg, cfg.prepared_table)
    training_date = prepared.agg(F.max("training_date")).first()[0]
    if training_date is None:
        raise InputError(f"{cfg.prepared_table} is empty: every series was quarantined "
                         f"(see {quarantine_table('sales')})")
    return prepared.select(*key_columns(cfg.keys), "date", "units_sold"), training_date


def _task_scratch(cfg: ForecastingConfig, task: str) -> Path:
    """This task's own cmdstan scratch folder (removed when the task ends)."""
    return Path(cfg.scratch_dir or tempfile.gettempdir()) / f"forecasting-{task}-{uuid.uuid4().hex[:12]}"


def _choices(ctx: TaskContext[ForecastingConfig], cfg: ForecastingConfig, training_date: dt.date) -> DataFrame:
    """One row per series (keys, chosen_model) from the backtest of ``training_date``."""
    if not ctx.tables.exists(cfg.metrics_table):
        raise InputError(f"{cfg.metrics_table} does not exist: run the backtest task before train_forecast")
    metrics = _read(ctx, cfg, cfg.metrics_table).filter(F.col("training_date") == F.lit(training_date))
    return metrics.filter(F.col("model") == F.col(CHOSEN)).select(*key_columns(cfg.keys), CHOSEN)


def run_train_forecast(ctx: TaskContext[ForecastingConfig], cfg: ForecastingConfig) -> TaskReport:
    """Fit each series' chosen model (seasonal-naive fallback), write ``forecast_models`` and ``forecast_errors``."""
    prepared, training_date = _prepared(ctx, cfg)
    keys, scratch = cfg.keys, _task_scratch(cfg, "train")
    settings = ForecastSettings.from_config(cfg, str(scratch))
    # one row per series: broadcast like the bucket assignment below; a series missing here is reported
    prepared = prepared.join(F.broadcast(_choices(ctx, cfg, training_date)), on=keys, how="left")

    def fit(pdf: pd.DataFrame) -> pd.DataFrame:  # captures only keys and settings
        return forecast_one_series(pdf, keys, settings)

    started = time.perf_counter()
    balanced = balance_series(prepared, keys, cfg.partitions)
    n_series, n = balanced.n_series, balanced.partitions
    results = (map_groups_in_partitions(balanced.rows, [BUCKET, *keys], ["date"], fit, result_schema(keys))
               .withColumn("training_date", F.lit(training_date)))
    try:
        ctx.tables.write(results, cfg.models_table, replace_where={"training_date": training_date})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wall = time.perf_counter() - started
    written = _read(ctx, cfg, cfg.models_table).filter(F.col("training_date") == F.lit(training_date))
    ctx.tables.write(pub.errors_from_results(written, keys), cfg.errors_table,
                     replace_where={"training_date": training_date})
    per_model = [F.sum((F.col("model") == m).cast("int")).alias(m) for m in cfg.candidate_models]
    no_choice = F.sum((F.col("error_type") == NO_CHOICE_ERROR[0]).cast("int")).alias("no_choice")
    stats = written.agg(F.count("*").alias("series"), F.sum((F.col("error").isNotNull()).cast("int")).alias("failed"),
                        F.avg("fit_seconds").alias("fit"), F.avg("predict_seconds").alias("predict"),
                        no_choice, *per_model).first()
    if stats["series"] and stats["no_choice"] == stats["series"]:  # checked in the same pass, no extra action
        raise InputError(f"{cfg.metrics_table} has no backtest choice for training date {training_date}: run the "
                         "backtest task before train_forecast (every series fell back to seasonal_naive)")
    metrics = {"series": float(stats["series"]), "fallback_series": float(stats["failed"] or 0),
               "mean_fit_seconds": float(stats["fit"] or 0), "mean_predict_seconds": float(stats["predict"] or 0),
               "series_per_second": stats["series"] / wall if wall > 0 else 0.0, "partitions": float(n),
               "missing_choice_series": float(stats["no_choice"] or 0),
               **{f"model_{m}_series": float(stats[m] or 0) for m in cfg.candidate_models}}
    return TaskReport(n_series, int(stats["series"]), balanced=False, metrics=metrics)


def run_backtest(ctx: TaskContext[ForecastingConfig], cfg: ForecastingConfig) -> TaskReport:
    """Rolling-origin backtest of every candidate per series, and the choice, into ``forecast_metrics``.

    Idempotent per training date. Runs before train_forecast, which fits the model chosen here.
    """
    prepared, training_date = _prepared(ctx, cfg)
    keys, scratch = cfg.keys, _task_scratch(cfg, "backtest")
    settings = ForecastSettings.from_config(cfg, str(scratch))
    folds, fold_horizon, min_train = cfg.backtest_folds, cfg.backtest_horizon, 4 * cfg.season_length
    intermittent_folds = cfg.intermittent_backtest_folds

    def evaluate(pdf: pd.DataFrame) -> pd.DataFrame:  # captures only plain values
        return backtest_one_series(pdf, keys, settings, folds, fold_horizon, min_train, intermittent_folds)

    balanced = balance_series(prepared, keys, cfg.partitions)
    n_series = balanced.n_series
    metrics_df = (map_groups_in_partitions(balanced.rows, [BUCKET, *keys], ["date"], evaluate, metrics_schema(keys))
                  .withColumn("training_date", F.lit(training_date)))
    try:
        ctx.tables.write(metrics_df, cfg.metrics_table, replace_where={"training_date": training_date})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    written = _read(ctx, cfg, cfg.metrics_table).filter(F.col("training_date") == F.lit(training_date))
    aggregates = pub.aggregate_metrics(written, keys)
    return TaskReport(n_series, written.count(), balanced=False, metrics=aggregates)


def run_publish(ctx: TaskContext[ForecastingConfig], cfg: ForecastingConfig) -> TaskReport:
    """Write ``forecasts`` for the training date, log metrics and plots, register the demand_forecaster pyfunc
    through the registry's fair gate (both versions scored on this run's last backtest window, ``gate.py``)."""
    prepared, training_date = _prepared(ctx, cfg)
    on_date = F.col("training_date") == F.lit(training_date)
    results = _read(ctx, cfg, cfg.models_table).filter(on_date)
    metrics = _read(ctx, cfg, cfg.metrics_table).filter(on_date)
    scratch = _task_scratch(cfg, "publish")
    settings = ForecastSettings.from_config(cfg, str(scratch))
    inputs = {"sales": cfg.sales_table, "sales_prepared": cfg.prepared_table, "forecast_metrics": cfg.metrics_table,
              "forecast_models": cfg.models_table}
    with ctx.mlflow_run(cfg) as run, ctx.staged(gate_series(results, metrics, cfg.keys), "gate") as challenger:
        forecasts = pub.explode_forecasts(results, cfg.keys, run.info.run_id)
        ctx.tables.write(forecasts, cfg.forecasts_table, replace_where={"training_date": training_date})
        aggregates = pub.aggregate_metrics(metrics, cfg.keys)
        log_figures(prepared, _read(ctx, cfg, cfg.forecasts_table).filter(on_date), metrics, cfg)
        gate = GateData(ctx.spark, cfg.keys, challenger, metrics, prepared, settings, cfg.backtest_horizon,
                        cfg.partitions)
        try:
            registration = log_and_register_forecaster(
                results, cfg, training_date, gate, lineage_tags(ctx.tables, inputs, cfg, run.info.run_id))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        aggregates.update({"series": float(results.count()),
                           "fallback_series": float(results.filter(F.col("error").isNotNull()).count()),
                           "unforecast_series": float(results.filter(F.col("model").isNull()).count()),
                           "gate_smape": registration.value, "promoted": float(registration.promoted)})
        log_metrics({k: v for k, v in aggregates.items() if math.isfinite(v)})
    rows = _read(ctx, cfg, cfg.forecasts_table).filter(on_date).count()
    aggregates["registered_version"] = float(registration.version)
    return TaskReport(int(aggregates["series"]), rows, balanced=False, metrics=aggregates,
                      summary=publish_summary(aggregates, cfg, int(registration.version)))


def publish_summary(aggregates: dict[str, float], cfg: ForecastingConfig, version: int) -> list[str]:
    """The forecasting job's headline in words: what was forecast, how the chosen models did, the registry."""
    lines = [f"{int(aggregates['series']):,} series forecast {cfg.horizon} days ahead into {cfg.forecasts_table}"]
    chosen = sorted(((k[len("chosen_"):-len("_series")], int(v)) for k, v in aggregates.items()
                     if k.startswith("chosen_") and k.endswith("_series") and k != "chosen_series"),
                    key=lambda kv: (-kv[1], kv[0]))
    if chosen:
        lines.append("models chosen by the backtest: " + ", ".join(f"{name} x{n:,}" for name, n in chosen))
    if "chosen_beats_naive_share" in aggregates and "chosen_mean_smape" in aggregates:
        lines.append(f"backtest: the chosen model beats seasonal-naive (MASE) on "
                     f"{aggregates['chosen_beats_naive_share']:.0%} of series; mean sMAPE "
                     f"{aggregates['chosen_mean_smape']:.1f}%")
    verdict = "now champion" if aggregates.get("promoted") else "not promoted: the champion stays"
    lines.append(f"model {cfg.registered_model} v{version}: {verdict}")
    return lines


generate = TaskEntryPoint(UC, "generate", ForecastingConfig, run_generate)
prepare = TaskEntryPoint(UC, "prepare", ForecastingConfig, run_prepare)
train_forecast = TaskEntryPoint(UC, "train_forecast", ForecastingConfig, run_train_forecast)
backtest = TaskEntryPoint(UC, "backtest", ForecastingConfig, run_backtest)
publish = TaskEntryPoint(UC, "publish", ForecastingConfig, run_publish)
