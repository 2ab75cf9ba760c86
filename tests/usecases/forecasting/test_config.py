"""ForecastingConfig parsing and validation."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, parse_config
from usecases.forecasting.config import ForecastingConfig


def test_defaults_parse_and_keys_are_configurable() -> None:
    cfg = parse_config(ForecastingConfig, ["--key_columns=region,sku", "--training_date="])
    assert cfg.keys == ["region", "sku"] and cfg.training_date == "" and cfg.intervals
    assert cfg.candidate_models[0] == "window_13w" and "seasonal_naive" in cfg.candidate_models and cfg.nonnegative
    assert (cfg.backtest_folds, cfg.intermittent_backtest_folds, cfg.selection_tolerance) == (2, 4, 0.05)


def test_an_empty_key_columns_is_one_series_keyed_series() -> None:
    cfg = parse_config(ForecastingConfig, ["--key_columns=", "--date_column=ds", "--target_column=y"])
    assert cfg.one_series and cfg.keys == ["series"] and (cfg.date_column, cfg.target_column) == ("ds", "y")
    assert not parse_config(ForecastingConfig, []).one_series


def test_holidays_country_takes_any_code_the_holidays_package_supports_or_none() -> None:
    for code in ("US", "GB", "PT", "DE", ""):
        assert parse_config(ForecastingConfig, [f"--holidays_country={code}"]).holidays_country == code


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fill_policy=mean"], "fill_policy must be one of"),
        (["--same_day_rows=mean"], "same_day_rows must be one of"),
        (["--growth=exponential"], "growth must be one of"),
        (["--logistic_cap_factor=1.0"], "logistic_cap_factor must be > 1"),
        (["--interval_width=1.5"], "interval_width"),
        (["--key_columns=store_id,store_id"], "duplicates"),
        (["--date_column="], "date_column and target_column must name"),
        (["--date_column=Day", "--target_column=day"], "the same column"),
        (["--key_columns=sku,Qty", "--target_column=qty"], "may not include date_column or target_column"),
        (["--key_columns=date"], "reserved"),
        (["--training_date=2024-13-01"], "ISO date"),
        (["--horizon=0"], "horizon must be >= 1"),
        (["--min_history_days=5"], "two seasons"),
        (["--intermittent_share=0.7", "--short_share=0.5"], "<= 1"),
        (["--holidays_country=XX"], "holidays_country 'XX' is not a country the holidays package supports"),
        (["--holidays_country=us"], "is not a country"),
        (["--candidate_models=prophet,arima"], "unknown models \\['arima'\\]"),
        (["--candidate_models=prophet,auto_ets"], "must include seasonal_naive"),
        (["--candidate_models=seasonal_naive,tsb,tsb"], "duplicates"),
        (["--selection_metric=mape"], "selection_metric must be one of"),
        (["--ets_model=ZZ"], "ets_model must be three letters"),
        (["--intermittent_adi=0.5"], "intermittent_adi must be 0"),
        (["--tsb_alpha_p=0"], "tsb_alpha_p must be in"),
        (["--selection_tolerance=1"], "selection_tolerance must be in"),
        (["--fit_history_days=30"], "fit_history_days \\(30\\) must be 0 or >= min_history_days"),
        (["--intermittent_backtest_folds=0"], "intermittent_backtest_folds must be >= 1"),
    ],
)
def test_bad_values_are_rejected_with_a_clear_message(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(ForecastingConfig, argv)
