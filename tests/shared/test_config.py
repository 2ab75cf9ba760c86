"""Job configuration parsing: the same argv locally and on Databricks, clear errors for bad values."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from shared.config import ConfigError, JobConfig, parse_config


@dataclass(frozen=True)
class SampleConfig(JobConfig):
    """A config with one field of each supported type."""

    rows: int = 10
    ratio: float = 0.5
    enabled: bool = False
    keys: tuple[str, ...] = ("store_id", "item_id")
    limit: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.ratio <= 1:
            raise ConfigError(f"ratio must be in (0, 1], got {self.ratio}")


def test_defaults_without_arguments() -> None:
    cfg = parse_config(SampleConfig, [])
    assert cfg == SampleConfig()
    assert cfg.catalog == "main" and cfg.generate_data is False


def test_each_type_parses() -> None:
    cfg = parse_config(
        SampleConfig,
        ["--rows=5", "--ratio", "0.25", "--enabled=true", "--keys=a, b,c", "--limit=", "--catalog=dev"],
    )
    assert (cfg.rows, cfg.ratio, cfg.enabled, cfg.keys, cfg.limit, cfg.catalog) == (5, 0.25, True, ("a", "b", "c"),
                                                                                    None, "dev")


def test_round_trip_through_argv() -> None:
    cfg = SampleConfig(rows=7, enabled=True, keys=("x",), limit=3)
    assert parse_config(SampleConfig, cfg.to_argv()) == cfg


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SampleConfig().rows = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rows=many"], "bad value for --rows"),
        (["--enabled=maybe"], "bad value for --enabled"),
        (["--ratio=2"], "ratio must be in (0, 1]"),
        (["--catalog=main;drop"], "invalid catalog"),
        (["--colour=red"], "unknown parameter"),
    ],
)
def test_bad_values_give_clear_errors(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("]", r"\]")):
        parse_config(SampleConfig, argv)
