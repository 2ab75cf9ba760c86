"""Parameters of the forecasting job: one frozen dataclass whose fields are the job parameters."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from shared.config import ConfigError, JobConfig

FILL_POLICIES = ("zero", "missing")
GROWTHS = ("linear", "flat", "logistic")
SEASONALITY_MODES = ("additive", "multiplicative")
# The models the backtest can choose from per series (the same names as forecaster_model.MODEL_KINDS, kept
# here so that parsing a config does not import the MLflow model module).
CANDIDATE_MODELS = ("seasonal_naive", "croston_optimized", "adida", "imapa", "tsb", "auto_ets", "prophet")
SELECTION_METRICS = ("smape", "mae", "rmse")
ETS_MODEL = re.compile(r"^[ZAM][ZNAM][ZNAM]$")


@dataclass(frozen=True)
class ForecastingConfig(JobConfig):
    """Fine-grained demand forecasting: per series, the model that wins a rolling-origin backtest.

    Generator sizes (stores, items, history_days) default to a run that takes about a minute or two on a
    2-core laptop; ``stores=10 items=50`` gives the 500-series set of the original accelerator.
    """

    sales_table: str = "sales"
    truth_table: str = "sales_series_truth"
    key_columns: tuple[str, ...] = ("store_id", "item_id")
    stores: int = 10
    items: int = 10
    history_days: int = 1095
    history_end: str = "2024-12-31"
    intermittent_share: float = 0.1
    short_share: float = 0.05
    training_date: str = ""
    fill_policy: str = "zero"
    min_history_days: int = 90
    horizon: int = 90
    growth: str = "linear"
    logistic_cap_factor: float = 1.5  # growth=logistic: cap = factor x the series' highest observed value, floor 0
    seasonality_mode: str = "multiplicative"
    interval_width: float = 0.95
    uncertainty_samples: int = 200
    # Public holidays Prophet models (and the generator plants): an ISO 3166 code the ``holidays`` package
    # supports, e.g. US, GB, DE, PT; empty for none. Set it to the country your sales happen in.
    holidays_country: str = "US"
    season_length: int = 7
    backtest_folds: int = 2
    backtest_horizon: int = 28
    # Models the backtest compares per series, on the same folds; the best one makes the series' forecast.
    # Listed order is the tie-break: on equal scores the one listed first (the simpler one by default) wins.
    # seasonal_naive must be among them: it is the fallback whenever a model cannot be fitted.
    candidate_models: tuple[str, ...] = CANDIDATE_MODELS
    # Backtest score the choice minimises over all fold days: smape (2|y-f|/(|y|+|f|), 0/0 counted exact),
    # mae or rmse. (MASE would rank the candidates of one series exactly as mae does: same scale.)
    selection_metric: str = "smape"
    # Demand class split (Syntetos-Boylan): a series with more than this many days per day with demand (ADI)
    # is intermittent and only seasonal_naive and the intermittent-demand methods compete for it; the others
    # only seasonal_naive, auto_ets and prophet. 0 lets every candidate compete for every series.
    intermittent_adi: float = 1.32
    # The ETS family auto_ets searches (statsforecast model string error/trend/season, Z = choose): the
    # default ZNZ leaves out trend, which daily demand rarely sustains over a horizon and costs 6x the fit time.
    ets_model: str = "ZNZ"
    # Smoothing of the TSB intermittent method: of the demand size (alpha_d) and of the demand probability.
    tsb_alpha_d: float = 0.1
    tsb_alpha_p: float = 0.1
    # Floor forecasts and interval bounds at 0: units_sold is never negative (the contract quarantines it).
    nonnegative: bool = True
    partitions: int = 0
    plot_series: int = 4
    scratch_dir: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.key_columns:
            raise ConfigError("key_columns must name at least one series key column")
        if len(set(self.key_columns)) != len(self.key_columns):
            raise ConfigError(f"key_columns has duplicates: {self.key_columns}")
        reserved = {"date", "units_sold", "ds", "y", "yhat", "model", "training_date"}
        if reserved & set(self.key_columns):
            raise ConfigError(f"key_columns may not use reserved names {sorted(reserved & set(self.key_columns))}")
        for name in ("stores", "items", "history_days", "horizon", "min_history_days", "season_length",
                     "backtest_folds", "backtest_horizon"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("partitions", "plot_series", "uncertainty_samples"):
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
        return list(self.key_columns)

    @property
    def intervals(self) -> bool:
        """Whether forecasts carry yhat_lower/yhat_upper (Prophet only samples uncertainty when they do)."""
        return self.uncertainty_samples > 0
