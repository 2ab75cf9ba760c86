"""Parameters of the forecasting job: one frozen dataclass whose fields are the job parameters."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from shared.config import ConfigError, JobConfig, param

FILL_POLICIES = ("zero", "missing")
SAME_DAY_POLICIES = ("quarantine", "sum")
GROWTHS = ("linear", "flat", "logistic")
SEASONALITY_MODES = ("additive", "multiplicative")
# The models the backtest can choose from per series (the same names as forecaster_model.MODEL_KINDS, kept
# here so that parsing a config does not import the MLflow model module).
CANDIDATE_MODELS = ("window_13w", "window_8w", "window_26w", "seasonal_window_13w", "seasonal_naive",
                    "croston_optimized", "adida", "imapa", "tsb", "auto_ets", "prophet")
SELECTION_METRICS = ("smape", "mae", "rmse")
# An empty key_columns declares one series: its key column in the job's tables (sales_columns.py adds it).
SINGLE_SERIES_KEY, SINGLE_SERIES_VALUE = "series", "all"
ETS_MODEL = re.compile(r"^[ZAM][ZNAM][ZNAM]$")


@dataclass(frozen=True)
class ForecastingConfig(JobConfig):
    """Fine-grained demand forecasting: per series, the model that wins a rolling-origin backtest.

    Generator sizes (n_stores, n_items, n_days) default to a run that takes about a minute or two on a
    2-core laptop; ``n_stores=10 n_items=50`` gives the 500-series set of the original accelerator.
    """

    sales_table: str = param("sales", "input: daily sales (date, key columns, units_sold); table name or, "
                             "locally, a CSV/Parquet path")
    ground_truth_table: str = param("sales_series_truth", "output of generate: each generated series' true "
                                    "profile (for evaluation)")
    prepared_table: str = param("sales_prepared", "output: modelable series on complete calendars up to the "
                                "training date")
    models_table: str = param("forecast_models", "output: one row per series with its fitted model and forecast")
    errors_table: str = param("forecast_errors", "output: series whose model failed, with the error (fallback used)")
    metrics_table: str = param("forecast_metrics", "output: backtest accuracy per series and model")
    forecasts_table: str = param("forecasts", "output: the published forecast, one row per series and day")
    registered_model: str = param("demand_forecaster", "registered model name (catalog.schema.<this>)")
    key_columns: tuple[str, ...] = param(("store_id", "item_id"), "columns that identify one series; empty: the "
                                         "input is one series (its key becomes series=all)")
    date_column: str = param("date", "the sales input's date column (renamed to date)")
    target_column: str = param("units_sold", "the sales input's column of the value to forecast (renamed to "
                               "units_sold)")
    n_stores: int = param(10, "stores the generate task simulates (10 x 50 items is the accelerator's 500 series)")
    n_items: int = param(10, "items per store the generate task simulates")
    n_days: int = param(1095, "days of history the generate task simulates")
    history_end: str = param("2024-12-31", "last day of the generated history (YYYY-MM-DD)")
    intermittent_share: float = param(0.1, "share of generated series with intermittent demand")
    short_share: float = param(0.05, "share of generated series too short to model (they are quarantined)")
    training_date: str = param("", "forecast origin (YYYY-MM-DD); empty: the latest date on which at least "
                                      "10% as many series report as on the busiest day")
    fill_policy: str = param("zero", "a day missing from sales: zero (sold nothing) or missing (unknown)")
    same_day_rows: str = param("quarantine", "several sales rows of one series on one date: quarantine them (a "
                               "data error) or sum their units (transaction-level sales)")
    min_history_days: int = param(90, "fewest observed days a series needs to be modelled")
    horizon: int = param(90, "days forecast after the training date")
    growth: str = param("linear", "Prophet trend: linear, flat or logistic")
    logistic_cap_factor: float = param(1.5, "growth=logistic: cap = this x the series' highest observed value")
    seasonality_mode: str = param("multiplicative", "Prophet seasonality: additive or multiplicative")
    interval_width: float = param(0.95, "width of the forecast interval (0..1)")
    uncertainty_samples: int = param(200, "Prophet's samples for the interval; 0: no interval, much faster")
    holidays_country: str = param("US", "public holidays the models know: an ISO 3166 code the holidays package "
                                  "supports (US, GB, DE, PT...), empty for none; set it to your market's")
    season_length: int = param(7, "season length in days of the seasonal-naive baseline")
    backtest_folds: int = param(2, "rolling-origin backtest folds of a smooth series (Prophet and ETS compete)")
    intermittent_backtest_folds: int = param(
        4, "backtest folds of an intermittent series: its scores are noisy and its candidates cheap")
    backtest_horizon: int = param(28, "days forecast in each backtest fold")
    candidate_models: tuple[str, ...] = param(
        CANDIDATE_MODELS, "models the backtest compares per series on the same folds; the best makes the series' "
        "forecast; among scores within selection_tolerance of the best the one listed first wins; must include "
        "seasonal_naive (the fallback)")
    selection_metric: str = param("smape", "backtest score the choice minimises over all fold days, and what "
                                  "window models minimise: smape (2|y-f|/(|y|+|f|), 0/0 exact), mae or rmse")
    selection_tolerance: float = param(
        0.05, "scores within this share of the best count as equal (the first listed wins): a choice made on a "
        "few weeks must win clearly")
    fit_history_days: int = param(1095, "models are fitted on at most this many last days (Prophet and ETS fit "
                                  "time grows with it); 0: all")
    intermittent_adi: float = param(1.32, "a series with more days per demand day than this (ADI) is intermittent: "
                                    "window models, seasonal_naive and intermittent methods compete for it, not "
                                    "ETS or Prophet; 0: all compete")
    ets_model: str = param("ZNZ", "ETS family auto_ets searches (error/trend/season, Z = choose); ZNZ leaves out "
                           "trend, which daily demand rarely sustains and costs 6x the fit time")
    tsb_alpha_d: float = param(0.1, "TSB intermittent method: smoothing of the demand size")
    tsb_alpha_p: float = param(0.1, "TSB intermittent method: smoothing of the demand probability")
    nonnegative: bool = param(True, "floor forecasts and interval bounds at 0 (units_sold is never negative)")
    partitions: int = param(0, "Spark partitions for the per-series work; 0: twice the cores")
    plot_series: int = param(4, "series drawn in the MLflow forecast plots")
    scratch_dir: str = param("", "folder for cmdstan's temporary files; empty: the system temp folder")

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(set(self.key_columns)) != len(self.key_columns):
            raise ConfigError(f"key_columns has duplicates: {self.key_columns}")
        reserved = {"date", "units_sold", "ds", "y", "yhat", "model", "training_date"}
        if reserved & set(self.key_columns):
            raise ConfigError(f"key_columns may not use reserved names {sorted(reserved & set(self.key_columns))}")
        self._check_input_columns()
        for name in ("n_stores", "n_items", "n_days", "horizon", "min_history_days", "season_length",
                     "backtest_folds", "intermittent_backtest_folds", "backtest_horizon"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("partitions", "plot_series", "uncertainty_samples", "fit_history_days"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("intermittent_share", "short_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.intermittent_share + self.short_share > 1.0:
            raise ConfigError("intermittent_share + short_share must be <= 1")
        if not self.logistic_cap_factor > 1.0:
            raise ConfigError(f"logistic_cap_factor must be > 1, got {self.logistic_cap_factor}")
        if not 0.0 < self.interval_width < 1.0:
            raise ConfigError(f"interval_width must be in (0, 1), got {self.interval_width}")
        if not 0.0 <= self.selection_tolerance < 1.0:
            raise ConfigError(f"selection_tolerance must be in [0, 1), got {self.selection_tolerance}")
        if 0 < self.fit_history_days < self.min_history_days:
            raise ConfigError(f"fit_history_days ({self.fit_history_days}) must be 0 or >= min_history_days "
                              f"({self.min_history_days})")
        if self.intermittent_adi < 0 or 0 < self.intermittent_adi < 1:
            raise ConfigError(f"intermittent_adi must be 0 (no split) or >= 1 (days per demand day), "
                              f"got {self.intermittent_adi}")
        for name in ("tsb_alpha_d", "tsb_alpha_p"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        self._check_candidates()
        self._choice("selection_metric", SELECTION_METRICS)
        if not ETS_MODEL.match(self.ets_model):
            raise ConfigError(f"ets_model must be three letters error/trend/season, e.g. ZNZ, ZZZ, ANA; "
                              f"got {self.ets_model!r}")
        self._check_holidays_country()
        self._choice("fill_policy", FILL_POLICIES)
        self._choice("same_day_rows", SAME_DAY_POLICIES)
        self._choice("growth", GROWTHS)
        self._choice("seasonality_mode", SEASONALITY_MODES)
        for name in ("history_end", "training_date"):
            value = getattr(self, name)
            if value:
                try:
                    dt.date.fromisoformat(value)
                except ValueError as exc:
                    raise ConfigError(f"{name} must be an ISO date (YYYY-MM-DD), got {value!r}") from exc
        if self.min_history_days < 2 * self.season_length:
            raise ConfigError("min_history_days must cover at least two seasons (2 x season_length)")

    def _check_input_columns(self) -> None:
        if not self.date_column or not self.target_column:
            raise ConfigError("date_column and target_column must name the sales input's columns")
        if self.date_column.lower() == self.target_column.lower():
            raise ConfigError(f"date_column and target_column are the same column: {self.date_column!r}")
        clash = {self.date_column.lower(), self.target_column.lower()} & {k.lower() for k in self.key_columns}
        if clash:
            raise ConfigError(f"key_columns may not include date_column or target_column: {sorted(clash)}")

    def _check_candidates(self) -> None:
        unknown = [m for m in self.candidate_models if m not in CANDIDATE_MODELS]
        if unknown:
            raise ConfigError(f"candidate_models has unknown models {unknown}; known: {', '.join(CANDIDATE_MODELS)}")
        if len(set(self.candidate_models)) != len(self.candidate_models):
            raise ConfigError(f"candidate_models has duplicates: {self.candidate_models}")
        if "seasonal_naive" not in self.candidate_models:
            raise ConfigError("candidate_models must include seasonal_naive (the baseline and the fallback)")

    def _check_holidays_country(self) -> None:
        """An unknown code would fail every Prophet fit one by one; say so once, up front, with the choices."""
        if not self.holidays_country:
            return
        import holidays

        supported = holidays.list_supported_countries()
        if self.holidays_country not in supported:
            raise ConfigError(f"holidays_country {self.holidays_country!r} is not a country the holidays package "
                              "supports: use an ISO 3166 code such as US, GB, DE, FR, PT or BR "
                              "(holidays.list_supported_countries() lists them all), or empty for no holidays")

    def _choice(self, name: str, allowed: tuple[str, ...]) -> None:
        if getattr(self, name) not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")

    @property
    def keys(self) -> list[str]:
        """The series key columns in the job's tables: ``key_columns``, or ``series`` for a single series."""
        return list(self.key_columns) or [SINGLE_SERIES_KEY]

    @property
    def one_series(self) -> bool:
        return not self.key_columns

    @property
    def intervals(self) -> bool:
        """Whether forecasts carry yhat_lower/yhat_upper (Prophet only samples uncertainty when they do)."""
        return self.uncertainty_samples > 0
