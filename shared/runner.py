"""Run a bundle's jobs locally: the same entry points and parameters as on Databricks, in ``depends_on`` order."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from shared.bundle import Bundle, BundleError, Job, Task, resolve_references, task_order
from shared.task import TaskReport

PARAM = "--"


class TaskFailed(RuntimeError):
    """A task raised: the job stops here."""

    def __init__(self, job: str, task: str, cause: BaseException) -> None:
        super().__init__(f"job {job!r} stopped: task {task!r} failed: {type(cause).__name__}: {cause}")
        self.job, self.task, self.cause = job, task, cause


@dataclass(frozen=True)
class TaskResult:
    """One task's outcome in a local run."""

    job: str
    task: str
    report: TaskReport


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``name=value`` strings (from ``--param``) to a mapping; a pair without ``=`` is an error."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise BundleError(f"--param expects name=value, got {pair!r}")
        overrides[name.strip()] = value
    return overrides


def task_argv(task: Task, values: Mapping[str, str], bundle_name: str, target: str,
              overrides: Mapping[str, str]) -> list[str]:
    """The task's parameters with references resolved and ``--name=value`` entries overridden."""
    argv = []
    for raw in task.parameters:
        param = resolve_references(raw, values, bundle_name, target)
        name, sep, _ = param.partition("=")
        if sep and name.startswith(PARAM) and name[len(PARAM):] in overrides:
            param = f"{name}={overrides[name[len(PARAM):]]}"
        argv.append(param)
    return argv


def job_parameter_names(job: Job) -> set[str]:
    """Every ``--name`` any task of the job takes."""
    return {p.partition("=")[0][len(PARAM):] for t in job.tasks for p in t.parameters if p.startswith(PARAM)}


def load_entry_point(bundle: Bundle, task: Task) -> Callable[..., object]:
    """Import the object a task's entry point names in the bundle's ``[project.scripts]``."""
    scripts = bundle.entry_points()
    target = scripts.get(task.entry_point)
    if target is None:
        raise BundleError(f"task {task.key!r}: entry point {task.entry_point!r} is not in [project.scripts]")
    module_name, _, attr = target.partition(":")
    try:
        obj: object = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise BundleError(f"task {task.key!r}: cannot load entry point {task.entry_point!r} ({target}): {exc}") from exc
    if not hasattr(obj, "run"):
        raise BundleError(f"entry point {task.entry_point!r} ({target}) is not a TaskEntryPoint")
    return obj  # type: ignore[return-value]


def run_job(
    bundle: Bundle,
    job_key: str,
    overrides: Mapping[str, str] | None = None,
    only_task: str | None = None,
    warehouse: str | None = None,
    target: str = "local",
    echo: Callable[[str], None] = print,
) -> list[TaskResult]:
    """Run one job's tasks (or one task) locally; stop at the first failure with TaskFailed."""
    if job_key not in bundle.jobs:
        raise BundleError(f"no job {job_key!r}; jobs: {', '.join(sorted(bundle.jobs))}")
    job = bundle.jobs[job_key]
    overrides = dict(overrides or {})
    unknown = set(overrides) - job_parameter_names(job)
    if unknown:
        raise BundleError(f"job {job_key!r} has no parameter(s) {sorted(unknown)}")
    values = bundle.variable_values(target)
    tasks = [job.task(only_task)] if only_task else task_order(job)
    results = []
    for task in tasks:
        argv = task_argv(task, values, bundle.name, target, overrides)
        entry = load_entry_point(bundle, task)
        started = time.perf_counter()
        try:
            report = entry.run(argv, warehouse=warehouse)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - re-raised with the job and task named
            echo(f"  {job_key + '.' + task.key:<32} FAILED after {time.perf_counter() - started:.1f}s")
            raise TaskFailed(job_key, task.key, exc) from exc
        echo(
            f"  {job_key + '.' + task.key:<32} {report.elapsed_s:7.1f}s  rows in {report.rows_in:>9,}  "
            f"out {report.rows_out:>9,}  quarantined {report.rows_quarantined:>7,}"
        )
        results.append(TaskResult(job_key, task.key, report))
    return results
