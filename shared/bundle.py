"""Read a Databricks Asset Bundle (databricks.yml + included resources) the way the CLI does, for local runs.

YAML is loaded with YAML-1.2 scalars (``on``/``yes``/dates stay strings, as in the CLI's parser), and
``${var.X}``, ``${bundle.target}``, ``${bundle.name}``, ``${bundle.git.commit}``,
``${workspace.current_user.userName}`` and ``${resources.experiments.<key>.name}`` are resolved from variable
defaults, the chosen target's overrides and the bundle's own resources, as ``databricks bundle deploy`` would.
"""

from __future__ import annotations

import functools
import getpass
import glob
import re
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")


class BundleError(ValueError):
    """A bundle file that cannot be read, or a reference that cannot be resolved."""


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's yes/no/on/off booleans and implicit timestamps."""


for _first, _resolvers in list(Yaml12Loader.yaml_implicit_resolvers.items()):
    Yaml12Loader.yaml_implicit_resolvers[_first] = [
        (tag, rx) for tag, rx in _resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(path: Path) -> dict[str, Any]:
    """Load one YAML file with YAML-1.2 scalars; an empty file is an empty mapping."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=Yaml12Loader)  # a SafeLoader subclass
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BundleError(f"{path}: top level must be a mapping")
    return data


@dataclass(frozen=True)
class Task:
    """One ``python_wheel_task`` of a job.

    ``named_parameters`` are the task's own keyword arguments (job parameters are pushed down on top of them);
    ``parameters`` are positional arguments, which disable pushdown and so are not used by this project's jobs.
    """

    key: str
    package_name: str
    entry_point: str
    named_parameters: tuple[tuple[str, str], ...] = ()
    depends_on: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobParameter:
    """One job-level parameter: its name and default (a string, possibly with ``${...}`` references)."""

    name: str
    default: str


@dataclass(frozen=True)
class Job:
    """A job resource: its key in ``resources.jobs``, its job-level parameters and its tasks."""

    key: str
    name: str
    tasks: tuple[Task, ...]
    source: Path
    parameters: tuple[JobParameter, ...] = ()

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def task(self, key: str) -> Task:
        for task in self.tasks:
            if task.key == key:
                return task
        raise BundleError(f"job {self.key!r} has no task {key!r}; tasks: {', '.join(t.key for t in self.tasks)}")


@dataclass
class Bundle:
    """The parts of a bundle the local runner and the offline checks need."""

    root: Path
    name: str
    document: dict[str, Any]
    files: dict[Path, dict[str, Any]]
    jobs: dict[str, Job] = field(default_factory=dict)

    @property
    def variables(self) -> dict[str, Any]:
        return dict(self.document.get("variables") or {})

    @property
    def targets(self) -> dict[str, Any]:
        return dict(self.document.get("targets") or {})

    def variable_values(self, target: str) -> dict[str, str]:
        """Variable defaults overlaid with the target's values (a target absent here uses defaults alone)."""
        values = {
            name: str(spec["default"]) for name, spec in self.variables.items()
            if isinstance(spec, Mapping) and spec.get("default") is not None
        }
        overrides = (self.targets.get(target) or {}).get("variables") or {}
        values.update({k: str(v) for k, v in overrides.items() if v is not None and not isinstance(v, Mapping)})
        return values

    @property
    def experiments(self) -> dict[str, dict[str, Any]]:
        """``resources.experiments`` of every bundle file, by resource key."""
        found: dict[str, dict[str, Any]] = {}
        for data in self.files.values():
            found.update((data.get("resources") or {}).get("experiments") or {})
        return found

    def resolve(self, text: str, target: str) -> str:
        """``text`` with every ``${...}`` reference resolved as a deploy to ``target`` would resolve it."""
        return resolve_references(text, self.variable_values(target), self.name, target, self)

    def entry_points(self) -> dict[str, str]:
        """``[project.scripts]`` of the bundle's pyproject.toml: entry-point name -> ``module:attr``."""
        pyproject = self.root / "pyproject.toml"
        if not pyproject.is_file():
            raise BundleError(f"{pyproject} not found: the wheel's entry points are declared there")
        with open(pyproject, "rb") as fh:
            return dict(tomllib.load(fh).get("project", {}).get("scripts", {}))


EXPERIMENT_NAME = re.compile(r"^resources\.experiments\.([A-Za-z0-9_\-]+)\.name$")


@functools.lru_cache(maxsize=8)
def git_commit(root: Path) -> str:
    """The checked-out commit of the bundle's folder (what ``${bundle.git.commit}`` is on deploy), or ''."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=root)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def resolve_references(text: str, values: Mapping[str, str], bundle_name: str, target: str,
                       bundle: Bundle | None = None) -> str:
    """Replace ``${...}`` references with local values; unknown references are an error, not left as text."""

    def substitute(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref.startswith("var."):
            name = ref[4:]
            if name not in values:
                raise BundleError(f"variable {name!r} has no default and no value for target {target!r}")
            return resolve_references(values[name], values, bundle_name, target, bundle)
        if ref == "bundle.target":
            return target
        if ref == "bundle.name":
            return bundle_name
        if ref in ("workspace.current_user.userName", "workspace.current_user.short_name"):
            return getpass.getuser()
        if ref == "bundle.git.commit" and bundle is not None:
            return git_commit(bundle.root)
        experiment = EXPERIMENT_NAME.match(ref)
        if experiment and bundle is not None:
            spec = bundle.experiments.get(experiment.group(1))
            if not spec or not spec.get("name"):
                raise BundleError(f"${{{ref}}}: the bundle declares no experiment {experiment.group(1)!r}")
            return resolve_references(str(spec["name"]), values, bundle_name, target, bundle)
        raise BundleError(f"cannot resolve ${{{ref}}} locally")

    return REFERENCE.sub(substitute, text)


def _parse_job(key: str, spec: Mapping[str, Any], source: Path) -> Job:
    tasks = []
    for raw in spec.get("tasks") or []:
        wheel = raw.get("python_wheel_task")
        if wheel is None:
            raise BundleError(f"{source}: job {key!r} task {raw.get('task_key')!r} is not a python_wheel_task")
        named = wheel.get("named_parameters") or {}
        tasks.append(
            Task(
                key=raw["task_key"],
                package_name=wheel["package_name"],
                entry_point=wheel["entry_point"],
                named_parameters=tuple((str(k), str(v)) for k, v in named.items()),
                depends_on=tuple(d["task_key"] for d in raw.get("depends_on") or []),
                parameters=tuple(str(p) for p in wheel.get("parameters") or []),
            )
        )
    parameters = []
    for raw in spec.get("parameters") or []:
        if not isinstance(raw, Mapping) or "name" not in raw or "default" not in raw:
            raise BundleError(f"{source}: job {key!r}: every job parameter needs a name and a default, got {raw!r}")
        parameters.append(JobParameter(str(raw["name"]), "" if raw["default"] is None else str(raw["default"])))
    return Job(key=key, name=str(spec.get("name", key)), tasks=tuple(tasks), source=source,
               parameters=tuple(parameters))


def load_bundle(root: str | Path) -> Bundle:
    """Load ``databricks.yml`` and every file its ``include`` globs match."""
    root = Path(root).resolve()
    main = root / "databricks.yml"
    if not main.is_file():
        raise BundleError(f"no databricks.yml in {root}")
    document = load_yaml(main)
    files = {main: document}
    for pattern in document.get("include") or []:
        for path in sorted(glob.glob(str(root / pattern))):
            files[Path(path)] = load_yaml(Path(path))
    bundle = Bundle(root=root, name=str((document.get("bundle") or {}).get("name", root.name)), document=document,
                    files=files)
    for path, data in files.items():
        for key, spec in ((data.get("resources") or {}).get("jobs") or {}).items():
            if key in bundle.jobs:
                raise BundleError(f"job {key!r} is defined twice ({bundle.jobs[key].source} and {path})")
            bundle.jobs[key] = _parse_job(key, spec, path)
    return bundle


def task_order(job: Job) -> list[Task]:
    """Tasks in ``depends_on`` order (stable: file order among ready tasks); a cycle or unknown task is an error."""
    keys = {t.key for t in job.tasks}
    for task in job.tasks:
        missing = set(task.depends_on) - keys
        if missing:
            raise BundleError(f"job {job.key!r} task {task.key!r} depends on unknown task(s) {sorted(missing)}")
    done: list[Task] = []
    pending = list(job.tasks)
    while pending:
        ready = [t for t in pending if set(t.depends_on) <= {d.key for d in done}]
        if not ready:
            raise BundleError(f"job {job.key!r} has a dependency cycle among {[t.key for t in pending]}")
        done.append(ready[0])
        pending.remove(ready[0])
    return done
