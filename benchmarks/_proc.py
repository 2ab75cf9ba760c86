"""Process-tree helpers shared by benchmarks that measure CPU and memory from /proc (Linux)."""

from __future__ import annotations

import os

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def children(pid: int) -> list[int]:
    """Direct children of ``pid``, started by any of its threads (a JVM starts Spark's Python daemon from a
    worker thread, and /proc lists a child under the thread that forked it); empty where /proc cannot say."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/children", encoding="ascii") as fh:
                found.extend(int(p) for p in fh.read().split())
        except OSError:
            pass
    return found


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces); empty where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of one process itself, without its children."""
    fields = _stat_fields(pid)
    return sum(int(f) for f in fields[11:13]) / TICKS if fields else 0.0


def tree_cpu_seconds(root: int | None = None) -> float:
    """CPU seconds (user + system, with waited-for children) of a process tree: here the driver, its JVM and
    Spark's Python workers. Unlike wall time on a shared machine, this barely moves with other load."""
    total, todo = 0, [root or os.getpid()]
    while todo:
        pid = todo.pop()
        fields = _stat_fields(pid)
        total += sum(int(f) for f in fields[11:15]) if fields else 0  # utime, stime, cutime, cstime
        todo.extend(children(pid))
    return total / TICKS


def java_children(pid: int | None = None) -> list[int]:
    """The Java processes among the direct children of ``pid`` (this process by default): a local Spark's JVM."""
    found = []
    for child in children(pid or os.getpid()):
        try:
            with open(f"/proc/{child}/comm", encoding="ascii") as fh:
                if fh.read().strip() == "java":
                    found.append(child)
        except OSError:
            pass
    return found
