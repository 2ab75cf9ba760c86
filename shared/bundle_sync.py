"""Generate each job's ``parameters`` list in ``resources/<job>.job.yml`` from its config dataclass.

The dataclass is the one source of truth for a parameter's name, type, default and meaning; the YAML block
between the markers is written by ``usecases sync-bundle`` and checked by ``usecases validate`` and the tests,
so a default is never edited in two places. Deploy-level parameters (catalog, schema, target...) take their
default from the bundle (``${var.catalog}``); the rest carry the dataclass default.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from shared.bundle import Bundle, BundleError, Job
from shared.config import JobConfig, describe

BEGIN = "# >>> job parameters: generated from {source} by `usecases sync-bundle`; edit the dataclass, not this list"
END = "# <<< job parameters"
_BEGIN_LINE = re.compile(r"^(?P<indent>[ ]*)# >>> job parameters\b.*$", re.MULTILINE)
_END_LINE = re.compile(r"^[ ]*# <<< job parameters[ ]*$", re.MULTILINE)


def job_config_class(bundle: Bundle, job: Job) -> type[JobConfig]:
    """The one config class every task of ``job`` parses its parameters into."""
    from shared.runner import load_entry_point

    classes = {load_entry_point(bundle, task).config_cls for task in job.tasks}  # type: ignore[attr-defined]
    if len(classes) != 1:
        names = sorted(c.__name__ for c in classes)
        raise BundleError(f"job {job.key!r}: tasks parse into different config classes {names}; a job has one config")
    return classes.pop()


def render_parameters(config_cls: type[JobConfig], job_key: str, indent: str) -> str:
    """The marked ``parameters:`` block for one job, each default a JSON (so YAML) double-quoted string."""
    source = f"{config_cls.__module__}.{config_cls.__qualname__}"
    lines = [indent + BEGIN.format(source=source), f"{indent}parameters:"]
    for info in describe(config_cls):
        lines.append(f"{indent}  - name: {info.name}  # {info.help}")
        lines.append(f"{indent}    default: {json.dumps(info.bundle_default(job_key), ensure_ascii=False)}")
    lines.append(indent + END)
    return "\n".join(lines)


@dataclass(frozen=True)
class SyncResult:
    """One job file: its path, whether its blocks are stale, and the text it should have."""

    path: Path
    stale: bool
    text: str


def _job_start(text: str, job_key: str) -> int | None:
    """Where ``job_key``'s mapping starts under ``resources.jobs`` (experiments may share the key)."""
    jobs_line = re.search(r"^[ ]+jobs:[ ]*$", text, re.MULTILINE)
    if jobs_line is None:
        return None
    key_line = re.compile(rf"^[ ]+{re.escape(job_key)}:[ ]*$", re.MULTILINE).search(text, jobs_line.end())
    return key_line.end() if key_line else None


def _sync_job(bundle: Bundle, job: Job, text: str) -> str:
    """``text`` with ``job``'s generated block (the first one after the job's key line) brought up to date."""
    start = _job_start(text, job.key)
    begin = _BEGIN_LINE.search(text, start) if start is not None else None
    end = _END_LINE.search(text, begin.end()) if begin else None
    if begin is None or end is None:
        raise BundleError(f"{job.source.name}: job {job.key!r} has no generated parameters block; add the lines "
                          f"'{BEGIN.split(':')[0]}' and '{END}' where the job's parameters belong")
    block = render_parameters(job_config_class(bundle, job), job.key, begin.group("indent"))
    return text[: begin.start()] + block + text[end.end():]


def sync_bundle(bundle: Bundle, write: bool = True) -> list[SyncResult]:
    """Regenerate every job's parameters block, file by file; write the stale files when ``write``."""
    results = []
    for path in sorted({job.source for job in bundle.jobs.values()}):
        text = original = path.read_text(encoding="utf-8")
        for job in (j for j in bundle.jobs.values() if j.source == path):
            text = _sync_job(bundle, job, text)
        results.append(SyncResult(path, text != original, text))
        if write and text != original:
            path.write_text(text, encoding="utf-8")
    return results


def synced_text_for_job(bundle: Bundle, job: Job) -> SyncResult:
    """One job's file with only that job's block brought up to date (for per-job checks)."""
    text = job.source.read_text(encoding="utf-8")
    new = _sync_job(bundle, job, text)
    return SyncResult(job.source, new != text, new)
