"""Crash- and concurrency-safe versions of one local table folder: staging, commit, history and pruning.

Layout of a table folder (every name that is not a committed version starts with ``_``, which Spark,
pyarrow and pandas skip when they list a folder):

- ``v<ns>-<hex>/``: a committed version. A folder gets this name only by an atomic rename of a
  complete staging folder, made under the commit lock right before the pointer swap.
- ``_CURRENT``: the commit point, the name of the live version, replaced with ``os.replace``.
- ``_HISTORY.json``: committed versions in commit order (bounded) and the total number of commits.
- ``_LOCK``: ``flock``-ed by whoever commits or prunes; held for milliseconds, never while data is written.
- ``_staging-<version>/`` + ``_staging-<version>.lease``: a write in progress. The writer holds an
  exclusive ``flock`` on its lease for the whole write; the kernel drops it when the process dies
  (SIGKILL included), so "the lease can be locked" proves the writer is gone, with no pid reuse or
  clock questions. A staging folder without a lease is removed only after a grace period.
- ``_trash-<hex>/``: a folder renamed away for deletion, so a reader listing a version sees all of it
  or nothing, never half a folder.

Only committed versions are ever read, counted or kept: crash leftovers never become "the previous version".
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

log = logging.getLogger(__name__)

CURRENT_POINTER = "_CURRENT"
HISTORY_FILE = "_HISTORY.json"
LOCK_FILE = "_LOCK"
STAGING_PREFIX = "_staging-"
LEASE_SUFFIX = ".lease"
NEW_LEASE_SUFFIX = ".lease-new"  # a lease being created (locked before it is renamed to .lease)
LEASE_ATTEMPTS = 20  # tries at creating a lease that a concurrent pruner may delete before it is locked
TRASH_PREFIX = "_trash-"
VERSION_PREFIX = "v"
VERSIONS_KEPT = 2  # the live version and the one before it, for readers still holding a lazy plan
HISTORY_KEPT = 100  # commits remembered in _HISTORY.json (the total count is kept separately)
STAGING_GRACE_S = 6 * 3600.0  # a staging folder nobody provably owns is removed only once this old


class ConcurrentWriteError(RuntimeError):
    """Another writer committed a version first, so this read-modify-write would lose its rows."""


class Base(Enum):
    """``expected_base`` of a blind overwrite: it does not depend on what it replaces, so it never conflicts."""

    ANY = "any"


@dataclass(frozen=True)
class Commit:
    """One committed version: its folder name, when the pointer moved to it, and what wrote it."""

    version: str
    committed_at: float
    operation: str

    @property
    def committed_at_utc(self) -> datetime:
        return datetime.fromtimestamp(self.committed_at, tz=UTC)


@dataclass(frozen=True)
class History:
    """Committed versions, oldest first (at most HISTORY_KEPT), and how many commits there ever were."""

    commits: tuple[Commit, ...]
    total: int


def new_version_name() -> str:
    """A version folder name that sorts by creation time and never collides."""
    return f"{VERSION_PREFIX}{time.time_ns()}-{uuid.uuid4().hex[:8]}"


def is_version_name(name: str) -> bool:
    return name.startswith(VERSION_PREFIX) and "-" in name and name[1:].split("-", 1)[0].isdigit()


@contextlib.contextmanager
def _flocked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` for the block (blocks until free; released on exit or process death)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def _writer_gone(lease: Path) -> bool | None:
    """True if no live process holds the lease's lock, False if one does, None if this filesystem cannot say."""
    try:
        fd = os.open(lease, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        return None  # e.g. ENOLCK on a network filesystem without lock support: fall back to age
    finally:
        os.close(fd)
    return True


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class Lease:
    """A writer's claim on one staging folder, held (as a ``flock``) from before the first byte to the commit."""

    def __init__(self, root: Path, version: str) -> None:
        self.version = version
        self.staging = root / f"{STAGING_PREFIX}{version}"
        self.path = root / f"{STAGING_PREFIX}{version}{LEASE_SUFFIX}"
        # Lock a temporary file, then rename it into place: a lease is never visible unlocked, so no
        # pruner can mistake a writer that is just starting for a dead one.
        # Between creating the file and locking it, a pruner can find it unlocked and delete it as a
        # killed creator's leftover; the rename then finds no file, and the writer starts over.
        tmp = root / f"{STAGING_PREFIX}{version}{NEW_LEASE_SUFFIX}"
        for attempt in range(LEASE_ATTEMPTS):
            self._fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            owner = {"host": socket.gethostname(), "pid": os.getpid(), "started_at": time.time()}
            os.write(self._fd, json.dumps(owner).encode())
            try:
                os.replace(tmp, self.path)
                return
            except FileNotFoundError:
                os.close(self._fd)
                self._fd = -1
                if attempt == LEASE_ATTEMPTS - 1:
                    raise

    def release(self) -> None:
        """Drop the claim: the lease file goes first, then the lock (so no pruner ever sees it unlocked)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class VersionedFolder:
    """The versions of one table folder. Readers use :meth:`current`; writers use :meth:`write`."""

    def __init__(self, root: Path, keep: int = VERSIONS_KEPT, staging_grace_s: float = STAGING_GRACE_S) -> None:
        if keep < 2:
            raise ValueError("keep at least 2 versions: a reader may still hold the one before the current")
        self.root = root
        self.keep = keep
        self.staging_grace_s = staging_grace_s

    # -- reading --------------------------------------------------------------------------------------

    def current_version(self) -> str | None:
        """The live version's name, or None when nothing was ever committed."""
        try:
            name = (self.root / CURRENT_POINTER).read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return name or None

    def current(self) -> Path | None:
        """The live version's folder (complete by construction), or None."""
        version = self.current_version()
        return None if version is None else self.root / version

    def history(self) -> History:
        """Committed versions in commit order; a commit whose history entry a crash lost is rolled forward."""
        commits: list[Commit] = []
        total = 0
        try:
            data = json.loads((self.root / HISTORY_FILE).read_text())
            commits = [Commit(str(c["version"]), float(c["committed_at"]), str(c["operation"]))
                       for c in data["commits"]]
            total = int(data["total"])
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable %s (%s): only the current version counts as committed",
                        self.root / HISTORY_FILE, exc)
            commits, total = [], 0
        current = self.current_version()
        if current is not None and (not commits or commits[-1].version != current):
            # The pointer is the commit point: a crash between the swap and the history update (or a table
            # written before histories existed) still has its current version committed.
            pointer_time = (self.root / CURRENT_POINTER).stat().st_mtime
            commits = [c for c in commits if c.version != current]
            commits.append(Commit(current, pointer_time, "unknown"))
            total += 1
        return History(tuple(commits[-HISTORY_KEPT:]), max(total, len(commits)))

    def kept_versions(self, history: History | None = None) -> list[str]:
        """The committed versions a prune keeps: the last ``keep`` commits, the live one always among them."""
        history = history or self.history()
        return [c.version for c in history.commits[-self.keep:]]

    # -- writing --------------------------------------------------------------------------------------

    def write(self, fill: Callable[[Path], None], operation: str = "write",
              expected_base: str | None | Base = Base.ANY) -> str:
        """Run ``fill(staging_folder)`` (it must create the folder), then commit it; return the new version.

        ``expected_base``: for a read-modify-write, the version the new rows were computed from; if another
        writer committed since, nothing is committed and ConcurrentWriteError is raised (the caller retries).
        On any failure the staging folder is removed and the current version is untouched.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        lease = Lease(self.root, new_version_name())
        committed = False
        try:
            fill(lease.staging)
            self._commit(lease, operation, expected_base)
            committed = True
        finally:
            if not committed:
                _remove(lease.staging, self.root)
            lease.release()
        self.prune()
        return lease.version

    def _commit(self, lease: Lease, operation: str, expected_base: str | None | Base) -> None:
        if not lease.staging.is_dir():
            raise RuntimeError(f"staging folder {lease.staging} is missing: the write produced nothing or was "
                               "removed as abandoned (its writer looked dead); the current version is unchanged")
        with _flocked(self.root / LOCK_FILE):
            history = self.history()
            current = self.current_version()
            if expected_base is not Base.ANY and current != expected_base:
                raise ConcurrentWriteError(
                    f"{self.root.name}: version {current} was committed while this write was computed from "
                    f"{expected_base}; nothing was committed")
            os.rename(lease.staging, self.root / lease.version)
            _write_atomically(self.root / CURRENT_POINTER, lease.version)  # the commit point
            commits = [*history.commits, Commit(lease.version, time.time(), operation)][-HISTORY_KEPT:]
            record = {"total": history.total + 1, "commits": [c.__dict__ for c in commits]}
            _write_atomically(self.root / HISTORY_FILE, json.dumps(record, indent=1))

    # -- pruning --------------------------------------------------------------------------------------

    def prune(self) -> list[str]:
        """Remove what no reader can need; return the removed names.

        Removed: committed versions older than the kept ones, version-named folders that were never committed
        (a crash between rename and pointer swap, or an older layout), staging folders whose writer is provably
        gone (lease lock free) or, without a usable lease, older than the grace period, and trash.
        Kept always: the current version, the one committed before it, and every staging folder whose writer
        still holds its lease. Under the commit lock, so no rename or swap happens meanwhile.
        """
        if not self.root.is_dir():
            return []
        doomed: list[Path] = []
        with _flocked(self.root / LOCK_FILE):
            history = self.history()
            kept = set(self.kept_versions(history))
            current = self.current_version()
            if current is not None:
                kept.add(current)
            for entry in self.root.iterdir():
                name = entry.name
                if is_version_name(name) and entry.is_dir() and name not in kept:
                    doomed.append(entry)
                elif name.startswith(STAGING_PREFIX) and entry.is_dir() and self._abandoned(entry):
                    doomed.append(entry)
                elif name.startswith(TRASH_PREFIX):
                    doomed.append(entry)
                elif name.endswith(LEASE_SUFFIX) and not (self.root / name[: -len(LEASE_SUFFIX)]).exists():
                    if _writer_gone(entry):  # a writer that died before its first byte
                        entry.unlink(missing_ok=True)
                elif name.endswith(NEW_LEASE_SUFFIX) and _writer_gone(entry):
                    entry.unlink(missing_ok=True)  # a writer killed while creating its lease
                elif name.startswith((f"{CURRENT_POINTER}.", f"{HISTORY_FILE}.")) and name.endswith(".tmp"):
                    entry.unlink(missing_ok=True)  # written only under this lock, so left by a killed committer
            moved = [_to_trash(path, self.root) for path in doomed]
            for path in doomed:  # the staging folders' leases go once their folders are gone
                if path.name.startswith(STAGING_PREFIX):
                    (self.root / f"{path.name}{LEASE_SUFFIX}").unlink(missing_ok=True)
        for trash in moved:  # deleting can be slow: outside the lock, the folders are already out of sight
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
        return [p.name for p, t in zip(doomed, moved, strict=True) if t is not None]

    def _abandoned(self, staging: Path) -> bool:
        lease = self.root / f"{staging.name}{LEASE_SUFFIX}"
        if lease.exists():
            gone = _writer_gone(lease)
            if gone is not None:
                return gone
            return _age_s(lease) > self.staging_grace_s
        # No lease: a write from an older layout, or a folder a dying JVM recreated after its driver was killed.
        return _age_s(staging) > self.staging_grace_s


def _to_trash(path: Path, root: Path) -> Path | None:
    """Rename a folder out of sight (atomic), so nobody lists it half-deleted; None if it is already gone."""
    if path.name.startswith(TRASH_PREFIX):
        return path
    target = root / f"{TRASH_PREFIX}{uuid.uuid4().hex[:12]}"
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    return target


def _remove(path: Path, root: Path) -> None:
    trash = _to_trash(path, root) if path.exists() else None
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
