"""Job configuration: frozen dataclasses built from job parameters (the same argv locally and on Databricks).

Each field of a use case's config is one job parameter and carries everything said about it, once: its name,
type, default and a one-line meaning (``param``). The job's ``parameters`` list in ``resources/<job>.job.yml``
is generated from the dataclass (``usecases sync-bundle``), so a default is never written twice.
"""

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

HELP = "help"
DEPLOY = "deploy"
# A deploy-level default may name the job it belongs to, e.g. its experiment resource.
JOB_PLACEHOLDER = "{job}"


class ConfigError(ValueError):
    """A job parameter that is missing, unknown or has a bad value."""


def param(default: Any, help: str, *, deploy: str | None = None) -> Any:
    """A config field that is a job parameter: its default, a one-line meaning and, for deploy-level parameters,
    the bundle expression that is the job parameter's default on Databricks (``${var.catalog}``,
    ``${bundle.target}``...). ``help`` is what ``--help``, ``usecases params`` and the job's UI show.
    """
    if not help or not help.strip():
        raise ValueError("every job parameter needs a one-line meaning")
    return dataclasses.field(default=default, metadata={HELP: help.strip(), DEPLOY: deploy})


@dataclass(frozen=True)
class JobConfig:
    """Parameters every job shares. Use cases subclass this with their own frozen fields."""

    catalog: str = param("main", "Unity Catalog catalog that holds this job's tables and models",
                         deploy="${var.catalog}")
    schema: str = param("ml_use_cases", "schema (database) inside the catalog", deploy="${var.schema}")
    experiment: str = param("/Shared/ml-use-cases", "MLflow experiment every run of this job logs to",
                            deploy="${resources.experiments.{job}.name}")
    target: str = param("local", "bundle target the job was deployed with (tags the MLflow runs)",
                        deploy="${bundle.target}")
    git_commit: str = param("", "commit of the deployed code, tagged on every MLflow run (empty: ask git)",
                            deploy="${bundle.git.commit}")
    seed: int = param(42, "random seed for generated data, sampling, splits and training")
    generate_data: bool = param(False, "write seeded synthetic inputs where input tables do not exist yet "
                                "(never overwrites)", deploy="${var.generate_data}")
    max_quarantine_fraction: float = param(
        0.1, "fail a task when more than this share of an input's rows is quarantined (0..1)")

    def __post_init__(self) -> None:
        for name in ("catalog", "schema"):
            try:
                validate_name(getattr(self, name), name)
            except IdentifierError as exc:
                raise ConfigError(str(exc)) from exc
        if not self.experiment:
            raise ConfigError("experiment must not be empty")
        if not 0.0 <= self.max_quarantine_fraction <= 1.0:
            raise ConfigError(f"max_quarantine_fraction must be in [0, 1], got {self.max_quarantine_fraction}")

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


_TYPE_NAMES = {str: "text", int: "integer", float: "number", bool: "true|false"}


def type_name(tp: Any) -> str:
    """How a parameter's type reads in help: ``integer``, ``comma-separated list of text``, ``number or empty``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return f"{type_name(inner[0])} or empty"
    if origin is tuple:
        return f"comma-separated list of {type_name(typing.get_args(tp)[0])}"
    return _TYPE_NAMES.get(tp, str(tp))


@dataclass(frozen=True)
class ParamInfo:
    """One job parameter as users see it: name, type, default as text, meaning, and its bundle default."""

    name: str
    type: str
    default: str
    help: str
    deploy: str | None

    def bundle_default(self, job: str) -> str:
        """The job parameter's default in the bundle: the deploy expression, else the dataclass default."""
        return self.deploy.replace(JOB_PLACEHOLDER, job) if self.deploy else self.default


def describe(config_cls: type[JobConfig]) -> list[ParamInfo]:
    """Every parameter of a config class, in field order."""
    hints = typing.get_type_hints(config_cls)
    out = []
    for f in dataclasses.fields(config_cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        out.append(ParamInfo(f.name, type_name(hints[f.name]), format_value(default), f.metadata.get(HELP, ""),
                             f.metadata.get(DEPLOY)))
    return out


def build_parser(config_cls: type[JobConfig], prog: str | None = None) -> argparse.ArgumentParser:
    """An argparse parser with one ``--field`` option per dataclass field; help from the field's meaning."""
    doc = (config_cls.__doc__ or "").strip().split("\n")[0]
    parser = argparse.ArgumentParser(prog=prog, description=doc, allow_abbrev=False, exit_on_error=False,
                                     epilog="Every parameter is also a job parameter of the bundle's job.")
    for info in describe(config_cls):
        shown = repr(info.default) if info.default == "" else info.default
        parser.add_argument(f"--{info.name}", dest=info.name, type=str, default=None, metavar=info.type.upper()
                            if " " not in info.type else "VALUE",
                            help=f"{info.help} [{info.type}; default: {shown}]")
    return parser


def parse_config(config_cls: type[C], argv: Sequence[str] | None = None, prog: str | None = None) -> C:
    """Build a frozen config from ``--field=value`` arguments; raise ConfigError on anything bad."""
    parser = build_parser(config_cls, prog)
    try:
        known, unknown = parser.parse_known_args(list(argv or []))
    except argparse.ArgumentError as exc:
        raise ConfigError(str(exc)) from exc
    if unknown:
        names = ", ".join(f.name for f in dataclasses.fields(config_cls))
        raise ConfigError(f"unknown parameter(s) for {config_cls.__name__}: {' '.join(unknown)}; "
                          f"declared parameters: {names}")
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
