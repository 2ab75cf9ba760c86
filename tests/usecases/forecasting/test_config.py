"""ForecastingConfig parsing and validation."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, parse_config
from usecases.forecasting.config import ForecastingConfig


def test_defaults_parse_and_keys_are_configurable() -> None:
    cfg = parse_config(ForecastingConfig, ["--key_columns=region,sku", "--training_date="])
    assert cfg.keys == ["region", "sku"] and cfg.training_date == "" and cfg.intervals


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fill_policy=mean"], "fill_policy must be one of"),
        (["--growth=exponential"], "growth must be one of"),
        (["--logistic_cap_factor=1.0"], "logistic_cap_factor must be > 1"),
        (["--interval_width=1.5"], "interval_width"),
        (["--key_columns=store_id,store_id"], "duplicates"),
        (["--key_columns=date"], "reserved"),
        (["--training_date=2024-13-01"], "ISO date"),
        (["--horizon=0"], "horizon must be >= 1"),
        (["--min_history_days=5"], "two seasons"),
        (["--intermittent_share=0.7", "--short_share=0.5"], "<= 1"),
    ],
)
def test_bad_values_are_rejected_with_a_clear_message(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(ForecastingConfig, argv)
