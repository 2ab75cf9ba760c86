"""Progress of a task's Spark work while it runs: a bar on a terminal, a plain line now and then elsewhere.

Long tasks (thousands of Prophet fits, image decoding, a 6M-row scoring pass) otherwise print nothing for
minutes. Spark knows how many tasks each stage has and how many are done; this module shows that count:
- classic Spark: a daemon thread polls the status tracker;
- Spark Connect (serverless, ``--connect``): the session's progress handler, which the server feeds.
On a terminal the count is a tqdm bar on stderr; elsewhere (CI, Databricks job logs, ``--json``) a plain line
every ``interval_s`` seconds, and only for work that takes longer than that.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from pyspark.sql import SparkSession

PROGRESS_ENV = "USECASES_PROGRESS"  # "bar", "lines" or "off"; default: bar on a terminal, else lines
POLL_S = 0.5


class StageCounts:
    """Tasks done and total per Spark stage seen so far (stages of every job the task ran)."""

    def __init__(self) -> None:
        self._stages: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def update(self, stage_id: int, done: int, total: int) -> None:
        with self._lock:
            old_done, _ = self._stages.get(stage_id, (0, 0))
            self._stages[stage_id] = (max(done, old_done), total)

    def totals(self) -> tuple[int, int, int]:
        """(tasks done, tasks known, stages)."""
        with self._lock:
            return (sum(d for d, _ in self._stages.values()), sum(t for _, t in self._stages.values()),
                    len(self._stages))


def progress_mode(stream: IO[str]) -> str:
    chosen = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if chosen in ("bar", "lines", "off"):
        return chosen
    return "bar" if stream.isatty() else "lines"


class Display:
    """Renders StageCounts: tqdm bar or periodic plain lines."""

    def __init__(self, label: str, counts: StageCounts, stream: IO[str], interval_s: float) -> None:
        self.label, self.counts, self.stream, self.interval_s = label, counts, stream, interval_s
        self.mode = progress_mode(stream)
        self.started = time.monotonic()
        self._last_line = self.started
        self._bar: Any = None

    def refresh(self) -> None:
        done, total, stages = self.counts.totals()
        if self.mode == "bar" and total:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=total, desc=self.label, unit="task", file=self.stream, leave=False,
                                 dynamic_ncols=True)
            self._bar.total = total
            self._bar.n = done
            self._bar.refresh()
        elif self.mode == "lines" and total and time.monotonic() - self._last_line >= self.interval_s:
            self._last_line = time.monotonic()
            elapsed = self._last_line - self.started
            print(f"  {self.label}: {done:,}/{total:,} Spark tasks done in {stages} stage(s), {elapsed:.0f}s",
                  file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _is_connect(spark: SparkSession) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


@contextmanager
def spark_progress(spark: SparkSession, label: str, stream: IO[str] | None = None,
                   interval_s: float = 30.0) -> Iterator[StageCounts]:
    """Show the progress of every Spark job started inside the block (see the module docstring)."""
    stream = stream or sys.stderr
    counts = StageCounts()
    display = Display(label, counts, stream, interval_s)
    if display.mode == "off":
        yield counts
        return
    stop = threading.Event()
    handler = None
    if _is_connect(spark):
        def handler(stages: Any, inflight_tasks: int, operation_id: Any, done: bool) -> None:
            for stage in stages or []:
                counts.update(stage.stage_id, stage.num_completed_tasks, stage.num_tasks)
            display.refresh()

        spark.registerProgressHandler(handler)  # type: ignore[attr-defined]
    else:
        tracker = spark.sparkContext.statusTracker()
        seen: set[int] = set()

        def poll() -> None:
            while not stop.wait(POLL_S):
                seen.update(tracker.getActiveStageIds())
                for stage_id in list(seen):  # finished stages too, so their last tasks are counted
                    info = tracker.getStageInfo(stage_id)
                    if info is not None:
                        counts.update(stage_id, info.numCompletedTasks, info.numTasks)
                display.refresh()

        threading.Thread(target=poll, name=f"progress-{label}", daemon=True).start()
    try:
        yield counts
    finally:
        stop.set()
        if handler is not None:
            spark.removeProgressHandler(handler)  # type: ignore[attr-defined]
        display.close()
