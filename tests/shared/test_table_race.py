"""Several OS processes write one local table while some are SIGKILLed mid-write; a reader checks every version.

Invariants checked on every observation: a read returns one complete version (one tag, ``n`` rows, values
summing to ``checksum``, the tag naming the folder where the writer knows it); the current version and the one
committed before it exist while the pointer stays put; after the run, crash leftovers are gone and only the
kept committed versions remain.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from shared.table_versions import LEASE_SUFFIX, STAGING_PREFIX, TRASH_PREFIX, VersionedFolder, is_version_name
from shared.tables import LocalTableStore
from tests.shared.table_race_child import RACE_CATALOG, RACE_SCHEMA, RACE_TABLE

REPO_ROOT = Path(__file__).resolve().parents[2]


class Writers:
    """Writer processes, each in its own process group so a kill takes a Spark JVM down with its driver."""

    def __init__(self, mode: str, target: Path, home: Path) -> None:
        self.mode, self.target = mode, target
        self.env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "USECASES_HOME": str(home),
                    "USECASES_SPARK_MASTER": "local[1]", "USECASES_DRIVER_MEMORY": "1g"}
        self.logs = home / "writer-logs"
        self.logs.mkdir(exist_ok=True)
        self.procs: dict[int, subprocess.Popen[str]] = {}
        self.lines: dict[int, list[str]] = {}
        self.seed = 0
        self.exited: list[str] = []  # writers that stopped by themselves: a writer only ever stops by a kill

    def start(self, slot: int) -> None:
        self.seed += 1
        with open(self.logs / f"{self.seed}.err", "w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.shared.table_race_child", self.mode, str(self.target), str(self.seed)],
                cwd=REPO_ROOT, env=self.env, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True,
            )
        proc.seed = self.seed  # type: ignore[attr-defined]
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
        self.procs[slot], self.lines[slot] = proc, lines

    def commits(self, slot: int) -> int:
        return sum(1 for line in self.lines[slot] if line.startswith("committed"))

    def kill(self, slot: int) -> None:
        proc = self.procs[slot]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this test started: driver, JVM, Python workers
        else:
            self.record_exit(proc)
        proc.wait(30)

    def kill_all(self) -> None:
        for slot in list(self.procs):
            self.kill(slot)

    def record_exit(self, proc: subprocess.Popen[str]) -> None:
        seed = proc.seed  # type: ignore[attr-defined]
        if proc.returncode == -signal.SIGKILL or any(e.startswith(f"writer {seed} ") for e in self.exited):
            return
        tail = (self.logs / f"{seed}.err").read_text().strip().splitlines()[-3:]
        self.exited.append(f"writer {seed} exited with {proc.returncode}: {' | '.join(tail)}")

    def died(self) -> list[str]:
        """Writers that stopped by themselves so far, with the end of their error output."""
        for proc in self.procs.values():
            if proc.poll() is not None:
                self.record_exit(proc)
        return self.exited


def lease_pids(root: Path) -> set[int]:
    """Pids of writers holding a lease now, read from the lease files."""
    pids = set()
    for lease in root.glob(f"*{LEASE_SUFFIX}"):
        try:
            pids.add(int(json.loads(lease.read_text())["pid"]))
        except (FileNotFoundError, ValueError, KeyError):
            continue
    return pids


def check_rows(tags: set[str], rows: int, n: set[int], checksums: set[int], total: int) -> str | None:
    """Why these aggregates are not one complete version, or None."""
    if len(tags) != 1 or n != {rows} or checksums != {total}:
        return f"partial or mixed version: tags={sorted(tags)[:3]} rows={rows} n={sorted(n)[:3]} " \
               f"checksum={sorted(checksums)[:3]} sum={total}"
    return None


def check_arrow(table: pa.Table, version: str | None) -> str | None:
    problem = check_rows(set(table["tag"].to_pylist()), table.num_rows, set(table["n"].to_pylist()),
                         set(table["checksum"].to_pylist()), sum(table["value"].to_pylist()))
    if problem is None and version is not None and table["tag"][0].as_py() != version:
        problem = f"folder {version} holds the rows of {table['tag'][0].as_py()}"
    return problem


class Reader(threading.Thread):
    """Reads the table in a loop until stopped, recording every broken invariant."""

    def __init__(self, root: Path, read: Callable[[str], str | None]) -> None:
        super().__init__(daemon=True)
        self.root, self.read = root, read
        self.folder = VersionedFolder(root)
        self.stop = threading.Event()
        self.violations: list[str] = []
        self.reads = self.vanished = 0
        self.seen: set[str] = set()

    def check_layout(self) -> str | None:
        """Current and previous committed versions both exist while the pointer stays put."""
        current = self.folder.current_version()
        if current is None:
            return None
        history = self.folder.history()
        kept = [c.version for c in history.commits[-2:]]
        missing = [v for v in kept if not (self.root / v).is_dir()]
        if self.folder.current_version() == current and kept[-1] == current and missing:
            self.violations.append(f"committed {missing} missing while {current} is current (kept {kept})")
        return current

    def run(self) -> None:
        while not self.stop.is_set():
            current = self.check_layout()
            if current is None:
                time.sleep(0.01)
                continue
            try:
                problem = self.read(current)
            except Exception as exc:  # a version pruned mid-read must fail loudly, never partially
                if (self.root / current).is_dir():
                    self.violations.append(f"reading live {current} failed: {str(exc).splitlines()[0]}")
                self.vanished += 1
                continue
            self.reads += 1
            self.seen.add(current)
            if problem:
                self.violations.append(f"{current}: {problem}")


def assert_clean_after_final_write(root: Path, final_write: Callable[[], None]) -> list[str]:
    """With every writer dead, one more write leaves exactly the kept committed versions and nothing else."""
    final_write()
    folder = VersionedFolder(root)
    names = sorted(p.name for p in root.iterdir())
    leftovers = [n for n in names if n.startswith((STAGING_PREFIX, TRASH_PREFIX)) or n.endswith(".tmp")]
    assert leftovers == [], f"crash leftovers survived: {leftovers}"
    versions = sorted(n for n in names if is_version_name(n))
    kept = folder.kept_versions()
    assert len(kept) == 2 and versions == sorted(kept), (versions, kept)
    return kept


def test_processes_racing_and_killed_never_expose_a_partial_or_uncommitted_version(tmp_path: Path) -> None:
    """3 writer processes (the store's commit protocol, pyarrow filling the staging folder part by part), one
    killed every 0.1-0.6 s and replaced, for >= 8 s, >= 15 kills and >= 40 commits; a reader thread throughout."""
    root = tmp_path / "table"
    root.mkdir()
    writers = Writers("pyarrow", root, tmp_path)
    reader = Reader(root, lambda version: check_arrow(pq.read_table(root / version), version))
    rng = random.Random(13)
    kills = mid_write = 0
    for slot in range(3):
        writers.start(slot)
    reader.start()
    try:
        started, folder = time.monotonic(), VersionedFolder(root)
        # At least 8 s, 15 kills and 40 commits, however loaded the machine is (at most 180 s). Only a writer
        # that has committed since it started is killed, so start-up time never stands in for writing time.
        while time.monotonic() - started < 8.0 or kills < 15 or folder.history().total < 40:
            assert time.monotonic() - started < 180.0, f"{folder.history().total} commits, {kills} kills in 180 s"
            assert writers.died() == []
            time.sleep(rng.uniform(0.1, 0.6))
            up = [slot for slot in range(3) if writers.commits(slot) >= 1]
            if not up:
                continue
            slot = rng.choice(up)
            mid_write += writers.procs[slot].pid in lease_pids(root)
            writers.kill(slot)
            kills += 1
            writers.start(slot)
        assert writers.died() == []
    finally:
        writers.kill_all()
        reader.stop.set()
        reader.join(30)

    def final_write() -> None:
        from tests.shared.table_race_child import version_rows

        def fill(path: Path) -> None:
            path.mkdir()
            rows = version_rows(rng, path.name.removeprefix(STAGING_PREFIX))
            pq.write_table(pa.table({k: [r[i] for r in rows] for i, k in enumerate(("tag", "n", "checksum", "value"))}),
                           path / "part-0.parquet")

        VersionedFolder(root).write(fill)

    kept = assert_clean_after_final_write(root, final_write)
    for version in kept:
        assert check_arrow(pq.read_table(root / version), version) is None
    total = VersionedFolder(root).history().total
    print(f"pyarrow race: {kills} kills ({mid_write} mid-write), {total} commits, {reader.reads} reads "
          f"of {len(reader.seen)} versions, {reader.vanished} reads of a version pruned meanwhile")
    assert reader.violations == []
    assert mid_write >= 1 and reader.reads >= 20 and len(reader.seen) >= 5


@pytest.mark.slow
def test_spark_writers_racing_and_killed_never_expose_a_partial_version(spark, tmp_path: Path) -> None:
    """2 processes with their own Spark sessions writing through LocalTableStore, each SIGKILLed once (driver,
    JVM and workers) while its lease shows it mid-write, then restarted; this session reads through the store."""
    warehouse = tmp_path / "warehouse"
    store = LocalTableStore(spark, RACE_CATALOG, RACE_SCHEMA, warehouse)
    root = store.table_dir(RACE_TABLE)

    def read(version: str) -> str | None:
        row = store.read(RACE_TABLE).agg(
            F.collect_set("tag").alias("tags"), F.count("*").alias("rows"), F.collect_set("n").alias("n"),
            F.collect_set("checksum").alias("checksums"), F.sum("value").alias("total"),
        ).first()
        return check_rows(set(row.tags), row.rows, set(row.n), set(row.checksums), row.total)

    writers = Writers("spark", warehouse, tmp_path)
    reader = Reader(root, read)
    rng = random.Random(7)
    mid_write = 0

    def wait_for(condition: Callable[[], bool], what: str, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert writers.died() == [], f"while waiting for {what}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    for slot in range(2):
        writers.start(slot)
    reader.start()
    try:
        for kill in range(2):
            slot = kill % 2
            wait_for(lambda s=slot: writers.commits(s) >= 1, f"writer {slot} to commit")
            pid = writers.procs[slot].pid
            wait_for(lambda p=pid: p in lease_pids(root), f"writer {slot} to start a write", 60.0)
            time.sleep(rng.uniform(0.0, 0.3))
            mid_write += pid in lease_pids(root)
            writers.kill(slot)
            writers.start(slot)
        wait_for(lambda: all(writers.commits(s) >= 1 for s in range(2)), "both writers to commit after the kills")
        assert writers.died() == []
    finally:
        writers.kill_all()
        reader.stop.set()
        reader.join(60)

    def final_write() -> None:
        from tests.shared.table_race_child import version_rows

        rows = version_rows(rng, "final")
        store.write(spark.createDataFrame(rows, "tag string, n long, checksum long, value long"), RACE_TABLE)

    assert_clean_after_final_write(root, final_write)
    assert read("final") is None and store.read(RACE_TABLE).first().tag == "final"
    total = VersionedFolder(root).history().total
    print(f"spark race: 2 kills ({mid_write} mid-write), {total} commits, {reader.reads} reads of "
          f"{len(reader.seen)} versions, {reader.vanished} reads of a version pruned meanwhile")
    assert reader.violations == []
    assert mid_write >= 1 and reader.reads >= 3 and total >= 5
