"""Parameters of the forecasting job: one frozen dataclass whose fields are the job parameters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.config import ConfigError, JobConfig

FILL_POLICIES = ("zero", "missing")
GROWTHS = ("linear", "flat", "logistic")
SEASONALITY_MODES = ("additive", "multiplicative")


@dataclass(frozen=True)
class ForecastingConfig(JobConfig):
    """Fine-grained demand forecasting: one Prophet model per series, backtested against seasonal-naive.

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
    holidays_country: str = "US"
    season_length: int = 7
    backtest_folds: int = 2
    backtest_horizon: int = 28
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
