"""What a local run prints: one human line per task (and its top quarantine reasons), a summary per job with
where to look next; or, with ``--json``, one JSON object per task and per job on stdout and nothing else."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import IO, Protocol

from shared.task import TaskReport

TOP_REASONS = 3


class Reporter(Protocol):
    def job_started(self, job: str) -> None: ...
    def task_done(self, job: str, task: str, report: TaskReport) -> None: ...
    def task_failed(self, job: str, task: str, seconds: float) -> None: ...
    def job_done(self, job: str, reports: Sequence[TaskReport], experiment: str, store_name: str) -> None: ...


def top_reasons(reasons: dict[str, int], limit: int = TOP_REASONS) -> list[tuple[str, int]]:
    return sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{seconds:.1f}s"


class HumanReporter:
    """Lines a person can follow."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def job_started(self, job: str) -> None:
        self._print(f"job {job}")

    def task_done(self, job: str, task: str, report: TaskReport) -> None:
        self._print(f"  {job + '.' + task:<32} {report.elapsed_s:7.1f}s  rows in {report.rows_in:>11,}  "
                    f"out {report.rows_out:>11,}  quarantined {report.rows_quarantined:>9,}")
        if report.rows_quarantined and report.quarantine_reasons:
            reasons = ", ".join(f"{reason!r} x{count:,}" for reason, count in top_reasons(report.quarantine_reasons))
            more = len(report.quarantine_reasons) - TOP_REASONS
            if more > 0:
                reasons += f", and {more} more reason{'s' if more > 1 else ''} (see the quarantine table)"
            self._print(f"  {'':<32} quarantined because: {reasons}")

    def task_failed(self, job: str, task: str, seconds: float) -> None:
        self._print(f"  {job + '.' + task:<32} FAILED after {seconds:.1f}s")

    def job_done(self, job: str, reports: Sequence[TaskReport], experiment: str, store_name: str) -> None:
        total = sum(r.elapsed_s for r in reports)
        self._print(f"{job}: done in {_duration(total)}")
        for report in reports:
            for line in report.summary:
                self._print(f"  - {line}")
        written: list[str] = []
        for report in reports:
            written += [t for t in report.tables_written if t not in written]
        outputs = [t for t in written if not t.endswith("_quarantine")]
        quarantines = [t for t in written if t.endswith("_quarantine")]
        if outputs:
            self._print(f"  tables in {store_name}: {', '.join(outputs)}")
        if quarantines:
            self._print(f"  quarantine: {', '.join(quarantines)}")
        if outputs:
            self._print(f"  look: usecases tables | usecases show {outputs[-1]} | usecases ui  (MLflow experiment "
                        f"{experiment})")


class JsonReporter:
    """Machine-readable: one JSON object per line on stdout (task reports, then the job's), nothing else."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def _emit(self, obj: dict[str, object]) -> None:
        print(json.dumps(obj, sort_keys=True, default=str), file=self.stream, flush=True)

    def job_started(self, job: str) -> None:
        return None

    def task_done(self, job: str, task: str, report: TaskReport) -> None:
        self._emit({"event": "task_done", "job": job, "task": task, **asdict(report)})

    def task_failed(self, job: str, task: str, seconds: float) -> None:
        self._emit({"event": "task_failed", "job": job, "task": task, "elapsed_s": round(seconds, 3)})

    def job_done(self, job: str, reports: Sequence[TaskReport], experiment: str, store_name: str) -> None:
        self._emit({"event": "job_done", "job": job, "elapsed_s": round(sum(r.elapsed_s for r in reports), 3),
                    "experiment": experiment, "summary": [line for r in reports for line in r.summary]})
