"""Job parameters of the out_of_stock job (one field per parameter in resources/out_of_stock.job.yml)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import ConfigError, JobConfig


@dataclass(frozen=True)
class OutOfStockConfig(JobConfig):
    """Out-of-stock job: generation sizes, demand model, detection thresholds and table names."""

    store_item_daily_table: str = "store_item_daily"
    lead_times_table: str = "lead_times"
    ground_truth_table: str = "oos_ground_truth"
    n_stores: int = 5
    n_items: int = 40
    n_days: int = 240
    start_date: str = "2024-01-01"
    smoothing_alpha: float = 0.15
    min_history_days: int = 28
    zero_run_max_probability: float = 0.00001
    min_zero_run_days: int = 3
    # A zero run is judged against the item's own completed gaps between sales only once it has this many
    # (fewer: no zero-run alert; an inventory correction still raises a phantom alert).
    gap_min_intervals: int = 5
    # Half-life, in evidence days, of a past gap's weight in that history (fading items: recent gaps count).
    gap_half_life_days: int = 60
    # A store-day is a closure (holiday, outage) when the items selling that day are at most this share of
    # the store's typical count on open days over the previous closure_window_days; 0 turns detection off.
    closure_max_share: float = 0.15
    closure_window_days: int = 28
    # Closure detection needs a store that typically sells at least this many different items a day.
    closure_min_items: int = 3
    balance_gap_factor: float = 5.0
    balance_gap_min_units: int = 5
    service_level: float = 0.95
    # Evidence days (open, in stock) of history behind the lead-time demand distribution (safety stock).
    ss_window_days: int = 91
    osa_window_days: int = 5
    osa_gap_threshold: float = 0.4
    osa_max_probability: float = 0.001
    osa_min_days: int = 2
    match_tolerance_days: int = 3
    plot_top_items: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_stores", "n_items", "min_zero_run_days", "osa_window_days", "osa_min_days", "plot_top_items",
                     "gap_min_intervals", "gap_half_life_days", "closure_window_days", "closure_min_items",
                     "ss_window_days"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_days < 90:
            raise ConfigError(f"n_days must be >= 90 (episodes need a warm-up), got {self.n_days}")
        if self.min_history_days < 7:
            raise ConfigError(f"min_history_days must be >= 7, got {self.min_history_days}")
        if not 0.0 < self.smoothing_alpha <= 1.0:
            raise ConfigError(f"smoothing_alpha must be in (0, 1], got {self.smoothing_alpha}")
        if not 0.5 <= self.service_level < 1.0:
            raise ConfigError(f"service_level must be in [0.5, 1), got {self.service_level}")
        for name in ("zero_run_max_probability", "osa_max_probability", "osa_gap_threshold"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in (0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.closure_max_share < 1.0:
            raise ConfigError(f"closure_max_share must be in [0, 1), got {self.closure_max_share}")
        if self.balance_gap_factor <= 0 or self.balance_gap_min_units < 0 or self.match_tolerance_days < 0:
            raise ConfigError("balance_gap_factor must be > 0; balance_gap_min_units, match_tolerance_days >= 0")
        try:
            from datetime import date

            date.fromisoformat(self.start_date)
        except ValueError as exc:
            raise ConfigError(f"start_date must be YYYY-MM-DD, got {self.start_date!r}") from exc
