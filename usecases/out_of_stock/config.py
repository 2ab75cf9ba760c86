"""Job parameters of the out_of_stock job (one field per parameter in resources/out_of_stock.job.yml)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import ConfigError, JobConfig, param


@dataclass(frozen=True)
class OutOfStockConfig(JobConfig):
    """Out-of-stock job: generation sizes, demand model, detection thresholds and table names."""

    store_item_daily_table: str = param("store_item_daily", "input: daily sales and stock per store-item "
                                        "(table name, or locally a CSV/Parquet path)")
    lead_times_table: str = param("lead_times", "input: replenishment lead time in days per store-item")
    ground_truth_table: str = param("oos_ground_truth", "input (optional): known episodes to evaluate alerts "
                                    "against (the generator writes them)")
    prepared_table: str = param("oos_prepared", "output: store_item_daily on a complete calendar with balance features")
    expected_demand_table: str = param("oos_expected_demand", "output: past-only expected demand per store-item-day")
    signals_table: str = param("oos_signals", "output: every signal and its evidence per store-item-day")
    lead_time_gaps_table: str = param("oos_lead_time_gaps", "output: store-items with no valid lead time "
                                      "(scored without the safety-stock signal)")
    evaluation_table: str = param("oos_evaluation", "output: precision and recall per alert type against "
                                  "the ground truth")
    alerts_table: str = param("oos_alerts", "output: the alerts to act on, one row per episode (start, end, evidence)")
    alert_days_table: str = param("oos_alert_days", "output: one row per alerted store-item-day (dashboards)")
    store_days_table: str = param("oos_store_days", "output: per store and day, open or a closure (holiday, outage)")
    osa_daily_table: str = param("osa_daily", "output: on-shelf availability per store-item-day (dashboards)")
    n_stores: int = param(5, "stores the generate task simulates")
    n_items: int = param(40, "items per store the generate task simulates")
    n_days: int = param(240, "days of history the generate task simulates (>= 90)")
    start_date: str = param("2024-01-01", "first day of the generated history (YYYY-MM-DD)")
    smoothing_alpha: float = param(0.15, "exponential smoothing weight of the newest day in expected demand (0..1]")
    min_history_days: int = param(28, "days of history an item needs before any signal is judged")
    zero_run_max_probability: float = param(0.00001, "a zero-sales run is abnormal when its probability is "
                                            "below this")
    min_zero_run_days: int = param(3, "shortest zero-sales run that can raise an alert")
    gap_min_intervals: int = param(5, "completed gaps between sales an item needs before a zero run is judged "
                                   "against its own gap history (fewer: no zero-run alert)")
    gap_half_life_days: int = param(60, "half-life in evidence days of a past gap's weight in that history")
    closure_max_share: float = param(0.15, "a store-day is a closure when the items selling are at most this share "
                                     "of the store's typical count over closure_window_days; 0: no detection")
    closure_window_days: int = param(28, "open days behind a store's typical count of items selling")
    closure_min_items: int = param(3, "closure detection needs a store that typically sells this many items a day")
    balance_gap_factor: float = param(5.0, "an unexplained stock change above this many days of demand is "
                                      "a phantom-inventory correction")
    balance_gap_min_units: int = param(5, "smallest unexplained stock change (units) that counts as a correction")
    service_level: float = param(0.95, "service level of the safety stock (z = its normal quantile)")
    ss_window_days: int = param(91, "evidence days (open, in stock) behind the lead-time demand distribution")
    osa_window_days: int = param(5, "days in the on-shelf-availability window")
    osa_gap_threshold: float = param(0.4, "share of expected sales missing over the window that is a gap")
    osa_max_probability: float = param(0.001, "an availability gap is abnormal when its probability is below this")
    osa_min_days: int = param(2, "consecutive gap days before an availability alert")
    match_tolerance_days: int = param(3, "days an alert may start before or end after a true episode and still "
                                      "match it")
    plot_top_items: int = param(4, "store-items with the most alerts drawn in the MLflow plots")

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
