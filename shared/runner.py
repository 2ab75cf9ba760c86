"""Run a bundle's jobs locally: the same entry points and parameters as on Databricks, in ``depends_on`` order.

Parameters follow Databricks' job parameter pushdown: every job-level parameter (its default resolved for the
target, or the value given with ``--param``, like ``databricks bundle run --params``) reaches every task as
``--name=value``, followed by the task's own ``named_parameters``. Naming a parameter the job does not declare
is an error that lists the declared ones.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from shared.bundle import Bundle, BundleError, Job, Task, task_order
from shared.reporting import HumanReporter, Reporter
from shared.task import TaskReport

DYNAMIC = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")


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
        if not sep or not name.strip():
            raise BundleError(f"--param expects name=value, got {pair!r}")
        overrides[name.strip()] = value
    return overrides


def check_overrides(job: Job, overrides: Mapping[str, str]) -> None:
    """Refuse a parameter the job does not declare, as ``databricks bundle run --params`` does."""
    unknown = sorted(set(overrides) - set(job.parameter_names))
    if unknown:
        raise BundleError(f"job {job.key!r} has no parameter(s) {', '.join(unknown)}; "
                          f"declared parameters: {', '.join(job.parameter_names)}")


def job_parameter_values(bundle: Bundle, job: Job, target: str, overrides: Mapping[str, str]) -> dict[str, str]:
    """Each job parameter's value for one run: the override if given, else its default resolved for ``target``."""
    check_overrides(job, overrides)
    return {p.name: overrides[p.name] if p.name in overrides else bundle.resolve(p.default, target)
            for p in job.parameters}


def resolve_dynamic(text: str, context: Mapping[str, str]) -> str:
    """Replace Databricks dynamic value references (``{{job.run_id}}``) with this local run's values."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) not in context:
            raise BundleError(f"dynamic value {{{{{match.group(1)}}}}} has no local value; known: {sorted(context)}")
        return context[match.group(1)]

    return DYNAMIC.sub(substitute, text)


def task_argv(task: Task, job_values: Mapping[str, str], dynamic: Mapping[str, str]) -> list[str]:
    """What the task's entry point receives: pushed-down job parameters, then the task's named parameters."""
    clash = sorted(k for k, _ in task.named_parameters if k in job_values)
    if clash:
        raise BundleError(f"task {task.key!r} repeats job parameter(s) {clash} in named_parameters")
    pushed = [f"--{name}={value}" for name, value in job_values.items()]
    return pushed + [f"--{k}={resolve_dynamic(v, dynamic)}" for k, v in task.named_parameters]


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
    echo: Callable[[str], None] | None = None,
    reporter: Reporter | None = None,
) -> list[TaskResult]:
    """Run one job's tasks (or one task) locally; stop at the first failure with TaskFailed.

    Progress goes to ``reporter`` (human lines by default; ``echo`` redirects them, e.g. to a list in tests).
    """
    if job_key not in bundle.jobs:
        raise BundleError(f"no job {job_key!r}; jobs: {', '.join(sorted(bundle.jobs))}")
    job = bundle.jobs[job_key]
    values = job_parameter_values(bundle, job, target, dict(overrides or {}))
    if reporter is None:
        reporter = HumanReporter(_EchoStream(echo) if echo is not None else None)
    tasks = [job.task(only_task)] if only_task else task_order(job)
    run_id = f"local-{time.time_ns()}"
    results = []
    for task in tasks:
        dynamic = {"job.run_id": run_id, "job.id": job_key, "task.name": task.key, "task.run_id": run_id}
        argv = task_argv(task, values, dynamic)
        entry = load_entry_point(bundle, task)
        started = time.perf_counter()
        try:
            report = entry.run(argv, warehouse=warehouse)  # type: ignore[attr-defined]
        except Exception as exc:
            reporter.task_failed(job_key, task.key, time.perf_counter() - started)
            raise TaskFailed(job_key, task.key, exc) from exc
        reporter.task_done(job_key, task.key, report)
        results.append(TaskResult(job_key, task.key, report))
    if not only_task:
        store = f"{values.get('catalog', '')}.{values.get('schema', '')}"
        reporter.job_done(job_key, [r.report for r in results], values.get("experiment", ""), store)
    return results


class _EchoStream:
    """A text stream that hands each printed line to a callable (keeps ``run_job(echo=...)`` working)."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo, self._buffer = echo, ""

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            self.echo(line)
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False
