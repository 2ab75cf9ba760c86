"""Job configuration: frozen dataclasses built from job parameters (the same argv locally and on Databricks)."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.identifiers import IdentifierError, validate_name

C = TypeVar("C", bound="JobConfig")


class ConfigError(ValueError):
    """A job parameter that is missing, unknown or has a bad value."""


@dataclass(frozen=True)
class JobConfig:
    """Parameters every job shares. Use cases subclass this with their own frozen fields.

    Each field is one job parameter, passed as ``--<field>=<value>`` by the bundle's tasks and by the
    local runner, so a field added here must also be added to every ``resources/*.job.yml``.
    """

    catalog: str = "main"
    schema: str = "ml_use_cases"
    experiment: str = "/Shared/ml-use-cases"
    target: str = "local"
    seed: int = 42
    generate_data: bool = False

    def __post_init__(self) -> None:
        for name in ("catalog", "schema"):
            try:
                validate_name(getattr(self, name), name)
            except IdentifierError as exc:
                raise ConfigError(str(exc)) from exc
        if not self.experiment:
            raise ConfigError("experiment must not be empty")

    def as_params(self) -> dict[str, str]:
        """The config as flat strings, for MLflow params and for rebuilding argv."""
        return {f.name: format_value(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_argv(self) -> list[str]:
        """The argv that parses back into this config."""
        return [f"--{k}={v}" for k, v in self.as_params().items()]


def format_value(value: Any) -> str:
    """Render a config value as the string a job parameter carries."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(format_value(v) for v in value)
    if value is None:
        return ""
    return str(value)


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _converter(tp: Any) -> typing.Callable[[str], Any]:
    """A str -> value converter for a field type: str, int, float, bool, tuple[X, ...], X | None."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported union type {tp}")
        convert = _converter(inner[0])
        return lambda s: None if s.strip() == "" else convert(s)
    if origin is tuple:
        item = _converter(typing.get_args(tp)[0])
        return lambda s: tuple(item(p.strip()) for p in s.split(",") if p.strip())
    if tp is bool:
        return _parse_bool
    if tp in (str, int, float):
        return tp
    raise TypeError(f"unsupported config field type {tp}")


def build_parser(config_cls: type[JobConfig], prog: str | None = None) -> argparse.ArgumentParser:
    """An argparse parser with one ``--field`` option per dataclass field, defaults from the dataclass."""
    parser = argparse.ArgumentParser(prog=prog, description=(config_cls.__doc__ or "").strip().split("\n")[0])
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        parser.add_argument(
            f"--{f.name}",
            dest=f.name,
            type=str,
            default=None,
            help=f"{f.metadata.get('help', '')} (default: {format_value(default)!r}, type: {hints[f.name]})",
        )
    return parser


def parse_config(config_cls: type[C], argv: Sequence[str] | None = None, prog: str | None = None) -> C:
    """Build a frozen config from ``--field=value`` arguments; raise ConfigError on anything bad."""
    parser = build_parser(config_cls, prog)
    known, unknown = parser.parse_known_args(list(argv or []))
    if unknown:
        raise ConfigError(f"unknown parameter(s) for {config_cls.__name__}: {' '.join(unknown)}")
    hints = typing.get_type_hints(config_cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(config_cls):
        raw = getattr(known, f.name)
        if raw is None:
            continue
        try:
            values[f.name] = _converter(hints[f.name])(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad value for --{f.name}: {raw!r} ({exc})") from exc
    try:
        return config_cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{config_cls.__name__}: {exc}") from exc
