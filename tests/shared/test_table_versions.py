"""Versions of a local table folder: crash leftovers never count, prunes keep what readers and writers need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shared.table_versions import (
    CURRENT_POINTER,
    HISTORY_FILE,
    LEASE_SUFFIX,
    STAGING_PREFIX,
    Base,
    ConcurrentWriteError,
    Lease,
    VersionedFolder,
    new_version_name,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def rows_writer(rows: int, files: int = 2):
    """A fill function writing ``rows`` rows tagged with the version (from the staging folder's name)."""

    def fill(path: Path) -> None:
        path.mkdir(exist_ok=True)
        tag = path.name.removeprefix(STAGING_PREFIX)
        for i in range(files):
            part = [v for v in range(rows) if v % files == i]
            pq.write_table(pa.table({"tag": [tag] * len(part), "value": part}), path / f"part-{i}.parquet")

    return fill


def read_rows(folder: VersionedFolder) -> pa.Table:
    return pq.read_table(folder.current())


def dirs(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir()}


def killed_writer(root: Path) -> Path:
    """A real writer process SIGKILLed mid-write: its lease file and a partial staging folder stay behind."""
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from shared.table_versions import Lease, new_version_name\n"
        "root = Path(sys.argv[1]); root.mkdir(parents=True, exist_ok=True)\n"
        "lease = Lease(root, new_version_name())\n"
        "lease.staging.mkdir(); (lease.staging / 'part-0.parquet').write_bytes(b'PAR1 half a file')\n"
        "print(lease.staging, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert done.returncode == -9, done.stderr
    staging = Path(done.stdout.strip())
    assert staging.is_dir() and Path(f"{staging}{LEASE_SUFFIX}").is_file()
    return staging


def test_write_commits_a_complete_version_and_moves_the_pointer(tmp_path: Path) -> None:
    folder = VersionedFolder(tmp_path / "t")
    assert folder.current() is None and folder.history().commits == ()
    version = folder.write(rows_writer(10), operation="write")
    assert folder.current_version() == version == (folder.root / CURRENT_POINTER).read_text()
    table = read_rows(folder)
    assert table.num_rows == 10 and set(table["tag"].to_pylist()) == {version}
    history = folder.history()
    assert [c.version for c in history.commits] == [version] and history.total == 1
    assert history.commits[0].operation == "write"
    assert dirs(folder.root) == {version}


def test_killed_writers_leftovers_never_become_the_previous_version(tmp_path: Path) -> None:
    """The hostile case: after a SIGKILL mid-write, the next write keeps the last good version, not the leftover."""
    folder = VersionedFolder(tmp_path / "t")
    good = folder.write(rows_writer(5))
    leftover = killed_writer(folder.root)
    assert leftover.name > STAGING_PREFIX + good  # newer than the good version, as the crashed write was
    newest = folder.write(rows_writer(7))
    assert folder.kept_versions() == [good, newest]
    assert dirs(folder.root) == {good, newest}, "the killed writer's folder is gone, the last good one kept"
    assert not list(folder.root.glob(f"*{LEASE_SUFFIX}"))
    assert folder.history().total == 2
    assert pq.read_table(folder.root / good).num_rows == 5


def test_a_version_folder_that_was_never_committed_is_not_a_version(tmp_path: Path) -> None:
    """A complete folder renamed into place but never pointed at (crash before the swap, or an older layout)."""
    folder = VersionedFolder(tmp_path / "t")
    first = folder.write(rows_writer(3))
    orphan = folder.root / new_version_name()
    rows_writer(99)(orphan)
    assert folder.current_version() == first
    assert [c.version for c in folder.history().commits] == [first]
    second = folder.write(rows_writer(4))
    assert dirs(folder.root) == {first, second}
    assert folder.kept_versions() == [first, second]


def test_a_live_writers_staging_folder_survives_other_writers_prunes(tmp_path: Path) -> None:
    folder = VersionedFolder(tmp_path / "t", staging_grace_s=0.0)
    folder.write(rows_writer(1))
    lease = Lease(folder.root, new_version_name())  # a writer in progress (its lock held by this open file)
    try:
        rows_writer(2)(lease.staging)
        for _ in range(3):
            folder.write(rows_writer(1))
        assert lease.staging.is_dir() and lease.path.is_file()
    finally:
        lease.release()
    removed = folder.prune()
    assert lease.staging.name in removed and not lease.staging.exists()


def test_previous_version_is_the_previous_commit_not_the_previous_name(tmp_path: Path) -> None:
    """Two writers overlap: the one that started first (older name) commits last; prunes follow commit order."""
    folder = VersionedFolder(tmp_path / "t")
    started, release = threading.Event(), threading.Event()
    slow_result: list[str] = []

    def slow_fill(path: Path) -> None:
        path.mkdir()
        (path / "_temporary").mkdir()  # half-way through, as a Spark write would be
        started.set()
        assert release.wait(30)
        rows_writer(6)(path)

    slow = threading.Thread(target=lambda: slow_result.append(folder.write(slow_fill)))
    slow.start()
    try:
        assert started.wait(30)
        fast = folder.write(rows_writer(2))  # its prune runs while the slow writer is mid-write
        staging = [p for p in folder.root.iterdir() if p.name.startswith(STAGING_PREFIX) and p.is_dir()]
        assert len(staging) == 1, "the other writer's in-progress folder was kept"
    finally:
        release.set()
        slow.join(30)
    (slow_version,) = slow_result
    assert slow_version < fast and folder.current_version() == slow_version
    assert folder.kept_versions() == [fast, slow_version]
    third = folder.write(rows_writer(1))
    assert dirs(folder.root) == {slow_version, third}


def test_prune_keeps_the_current_and_the_previous_commit(tmp_path: Path) -> None:
    folder = VersionedFolder(tmp_path / "t")
    versions = [folder.write(rows_writer(n + 1)) for n in range(5)]
    assert dirs(folder.root) == set(versions[-2:])
    assert folder.history().total == 5 and [c.version for c in folder.history().commits] == versions
    assert read_rows(folder).num_rows == 5
    with pytest.raises(ValueError, match="at least 2"):
        VersionedFolder(tmp_path / "t", keep=1)


def test_staging_without_a_lease_is_removed_only_after_the_grace_period(tmp_path: Path) -> None:
    folder = VersionedFolder(tmp_path / "t", staging_grace_s=3600.0)
    folder.write(rows_writer(1))
    stray = folder.root / f"{STAGING_PREFIX}{new_version_name()}"
    rows_writer(1)(stray)
    folder.prune()
    assert stray.is_dir(), "an unowned staging folder younger than the grace period may still be written"
    old = stray.stat().st_mtime - 7200
    os.utime(stray, (old, old))
    assert stray.name in folder.prune()
    assert not stray.exists()


def test_read_modify_write_on_a_stale_base_commits_nothing(tmp_path: Path) -> None:
    folder = VersionedFolder(tmp_path / "t")
    base = folder.write(rows_writer(1))
    newer = folder.write(rows_writer(2))
    with pytest.raises(ConcurrentWriteError, match=base):
        folder.write(rows_writer(3), operation="merge", expected_base=base)
    assert folder.current_version() == newer and dirs(folder.root) == {base, newer}
    assert not [p for p in folder.root.iterdir() if p.name.startswith(STAGING_PREFIX)]
    folder.write(rows_writer(3), operation="merge", expected_base=newer)
    with pytest.raises(ConcurrentWriteError):
        VersionedFolder(tmp_path / "new").write(rows_writer(1), expected_base="v1-abc")
    created = VersionedFolder(tmp_path / "new2").write(rows_writer(1), expected_base=None)
    assert created and Base.ANY is not None


def test_a_failed_fill_leaves_the_current_version_and_no_staging(tmp_path: Path) -> None:
    folder = VersionedFolder(tmp_path / "t")
    good = folder.write(rows_writer(4))

    def failing(path: Path) -> None:
        rows_writer(4)(path)
        raise RuntimeError("task failed mid-write")

    with pytest.raises(RuntimeError, match="mid-write"):
        folder.write(failing)
    assert folder.current_version() == good and dirs(folder.root) == {good}
    assert not list(folder.root.glob(f"*{LEASE_SUFFIX}"))
    with pytest.raises(RuntimeError, match="staging folder .* is missing"):
        folder.write(lambda path: None)


def test_pointer_swapped_but_history_not_written_is_still_committed(tmp_path: Path) -> None:
    """The pointer is the commit point: a crash between the swap and the history update rolls forward."""
    folder = VersionedFolder(tmp_path / "t")
    first = folder.write(rows_writer(1))
    second = folder.root / new_version_name()
    rows_writer(2)(second)
    (folder.root / CURRENT_POINTER).write_text(second.name)  # swapped; history still names only the first
    history = folder.history()
    assert [c.version for c in history.commits] == [first, second.name] and history.total == 2
    third = folder.write(rows_writer(3))
    assert dirs(folder.root) == {second.name, third}
    assert json.loads((folder.root / HISTORY_FILE).read_text())["total"] == 3


def test_a_table_from_before_histories_existed_counts_its_current_version(tmp_path: Path) -> None:
    """The previous layout: version folders and _CURRENT only (possibly a crashed folder beside them)."""
    root = tmp_path / "t"
    live, crashed = root / "v100-aaaaaaaa", root / "v200-bbbbbbbb"
    root.mkdir()
    rows_writer(2)(live)
    crashed.mkdir()
    (crashed / "_temporary").mkdir()
    (root / CURRENT_POINTER).write_text(live.name)
    folder = VersionedFolder(root)
    assert [c.version for c in folder.history().commits] == [live.name] and folder.history().total == 1
    newest = folder.write(rows_writer(1))
    assert dirs(root) == {live.name, newest}


def test_unreadable_history_still_counts_the_current_version(tmp_path: Path, caplog) -> None:
    folder = VersionedFolder(tmp_path / "t")
    folder.write(rows_writer(1))
    current = folder.write(rows_writer(2))
    (folder.root / HISTORY_FILE).write_text("{not json")
    assert [c.version for c in folder.history().commits] == [current]
    assert "unreadable" in caplog.text
    assert folder.write(rows_writer(1)) in dirs(folder.root) and current in dirs(folder.root)


def test_leftovers_of_killed_committers_and_lease_creators_are_cleared(tmp_path: Path) -> None:
    folder = VersionedFolder(tmp_path / "t")
    folder.write(rows_writer(1))
    stray_tmp = folder.root / f"{CURRENT_POINTER}.deadbeef.tmp"
    stray_tmp.write_text("v0-x")
    half_lease = folder.root / f"{STAGING_PREFIX}{new_version_name()}.lease-new"
    half_lease.write_text("")
    lonely_lease = folder.root / f"{STAGING_PREFIX}{new_version_name()}{LEASE_SUFFIX}"
    lonely_lease.write_text("")
    folder.prune()
    assert not stray_tmp.exists() and not half_lease.exists() and not lonely_lease.exists()
    assert folder.current() is not None and read_rows(folder).num_rows == 1


def test_a_lease_deleted_by_a_pruner_before_its_creator_locked_it_is_created_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The window between creating a lease file and locking it: a pruner sees it unlocked and deletes it."""
    import fcntl

    folder = VersionedFolder(tmp_path / "t")
    folder.write(rows_writer(1))
    real_flock, pruned = fcntl.flock, []

    def flock_after_a_prune(fd: int, operation: int) -> None:
        if not pruned and operation == fcntl.LOCK_EX:  # the lease creator, before its first lock
            pruned.append(True)
            folder.prune()
            assert not list(folder.root.glob("*.lease-new")), "the pruner left the unlocked lease alone"
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock_after_a_prune)
    version = folder.write(rows_writer(3))
    monkeypatch.undo()
    assert pruned and folder.current_version() == version and read_rows(folder).num_rows == 3
    assert not list(folder.root.glob("*.lease*"))
