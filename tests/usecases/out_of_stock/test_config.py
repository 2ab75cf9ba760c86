"""Config validation names the bad field."""

from __future__ import annotations

import pytest

from shared.config import ConfigError
from usecases.out_of_stock.config import OutOfStockConfig


@pytest.mark.parametrize(("field", "value", "message"), [
    ("service_level", 1.0, "service_level"), ("n_days", 30, "n_days"), ("smoothing_alpha", 0.0, "smoothing_alpha"),
    ("start_date", "01/01/2024", "start_date"), ("zero_run_max_probability", 0.0, "zero_run_max_probability"),
    ("closure_max_share", 1.0, "closure_max_share"), ("gap_min_intervals", 0, "gap_min_intervals"),
    ("ss_window_days", 0, "ss_window_days"), ("gap_half_life_days", 0, "gap_half_life_days"),
])
def test_bad_values_raise_config_error(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        OutOfStockConfig(**{field: value})
